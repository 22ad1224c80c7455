"""A demo catalogue from Fashion-MNIST (Zalando, MIT): real product photos, made-up but plausible listings.

Debian's `dataset-fashion-mnist` ships the 70,000 28x28 greyscale photos. Each
product takes one photo, upscaled to 224x224 and tinted with its colour on a
neutral studio background; some garments come in two or three colours, which
share a `product_group` (variants). Titles, brands, prices, stock and sellers
are derived from the photo index, so every run makes the same catalogue.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
from PIL import Image

from catalog.imaging import InspectedImage, orientation_hashes, perceptual_hash

PACKAGE = "dataset-fashion-mnist"
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SIZE = 224
BACKGROUND = np.array([244, 243, 240], dtype=np.float32)

CATEGORIES = [
    ("T-shirts & tops", "T-shirt", (9, 29)),
    ("Trousers", "trousers", (29, 89)),
    ("Pullovers", "pullover", (25, 79)),
    ("Dresses", "dress", (29, 129)),
    ("Coats", "coat", (59, 249)),
    ("Sandals", "sandals", (19, 69)),
    ("Shirts", "shirt", (19, 69)),
    ("Sneakers", "sneakers", (39, 139)),
    ("Bags", "bag", (19, 199)),
    ("Ankle boots", "ankle boots", (49, 189)),
]
COLOURS = {
    "black": (30, 30, 32),
    "navy": (28, 42, 90),
    "red": (178, 34, 40),
    "olive": (104, 112, 52),
    "camel": (190, 150, 95),
    "grey": (128, 128, 130),
    "white": (236, 236, 232),
    "burgundy": (112, 28, 46),
    "sky blue": (110, 170, 220),
    "forest green": (34, 94, 58),
    "mustard": (214, 168, 40),
    "pink": (232, 150, 170),
}
BRANDS = ["Northwind", "Fjordline", "Atelier Nova", "Kestrel", "Bluebell & Co", "Urban Loom", "Solstice", "Marlow"]
MATERIALS = ["cotton", "linen", "wool", "denim", "leather", "recycled", "organic cotton", "canvas"]
SELLERS = ["Lookalike Store", "Northwind Outlet", "Second Closet", "Atelier Nova Official"]


@dataclass(frozen=True)
class DemoItem:
    sku: str
    title: str
    description: str
    brand: str
    category: str
    price: Decimal
    stock: int
    colour: str
    product_group: str
    seller: str
    photo_index: int


def dataset_dir() -> Path:
    """Where Debian put the dataset, installing the package when missing and allowed (root)."""
    found = _installed_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise FileNotFoundError(f"Fashion-MNIST is not installed: run `sudo apt-get install -y {PACKAGE}`")
    for command in (
        ["apt-get", "install", "-y", PACKAGE],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", PACKAGE],
    ):
        subprocess.run(command, check=False, capture_output=True)
        found = _installed_dir()
        if found is not None:
            return found
    raise FileNotFoundError(f"could not install {PACKAGE} with apt-get; install it and re-run")


def _installed_dir() -> Path | None:
    try:
        listing = subprocess.run(["dpkg", "-L", PACKAGE], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        listing = ""
    for line in listing.splitlines():
        if line.endswith("images-idx3-ubyte.gz"):
            return Path(line).parent
    return DEFAULT_DIR if (DEFAULT_DIR / "t10k-images-idx3-ubyte.gz").is_file() else None


def load_photos(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """(70000, 28, 28) uint8 photos and their labels: the test split first, then train."""
    photos, labels = [], []
    for split in ("t10k", "train"):
        with gzip.open(directory / f"{split}-images-idx3-ubyte.gz") as handle:
            photos.append(np.frombuffer(handle.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28))
        with gzip.open(directory / f"{split}-labels-idx1-ubyte.gz") as handle:
            labels.append(np.frombuffer(handle.read(), dtype=np.uint8, offset=8))
    return np.concatenate(photos), np.concatenate(labels)


def _pick(options: list[str], key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def demo_items(labels: np.ndarray, limit: int) -> Iterator[DemoItem]:
    """The first `limit` products; about one garment in four comes in two or three colours."""
    colours = list(COLOURS)
    produced = 0
    for index, label in enumerate(labels.tolist()):
        category, noun, (low, high) = CATEGORIES[label]
        key = f"fm-{index}"
        brand, material = _pick(BRANDS, key + "b"), _pick(MATERIALS, key + "m")
        digest = hashlib.sha256(key.encode()).digest()
        variants = 1 + (digest[5] % 4 == 0) + (digest[6] % 8 == 0)
        base_price = Decimal(low + digest[7] % (high - low + 1)) - Decimal("0.01")
        first_colour = digest[8] % len(colours)
        for variant in range(variants):
            if produced >= limit:
                return
            colour = colours[(first_colour + 5 * variant) % len(colours)]
            yield DemoItem(
                sku=f"FM-{index:05d}-{variant}",
                title=f"{colour.capitalize()} {material} {noun}",
                description=f"{brand} {noun} in {colour}, {material}. A Fashion-MNIST demo listing.",
                brand=brand,
                category=category,
                price=base_price,
                stock=(digest[9 + variant] % 40) if digest[12] % 10 else 0,  # about 1 in 10 out of stock
                colour=colour,
                product_group=f"FM-{index:05d}" if variants > 1 else "",
                seller=_pick(SELLERS, key + "s"),
                photo_index=index,
            )
            produced += 1


def render_photo(photo: np.ndarray, colour: str) -> tuple[InspectedImage, bytes]:
    """Upscale a 28x28 photo to 224x224 and tint it: the garment in `colour` on a neutral background."""
    mask = Image.fromarray(photo, "L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    tint = np.array(COLOURS[colour], dtype=np.float32)
    # Keep the photo's shading: darker where the original is darker, so texture survives the tint.
    shaded = tint * (0.6 + 0.4 * alpha)
    pixels = BACKGROUND * (1.0 - alpha) + shaded * alpha
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    data = out.getvalue()
    inspected = InspectedImage(
        image=image,
        format="PNG",
        sha256=hashlib.sha256(data).hexdigest(),
        phash=perceptual_hash(image),
        width=image.width,
        height=image.height,
        phash_turns=orientation_hashes(image),
    )
    return inspected, data
