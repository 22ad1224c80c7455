"""Real photographs for the benchmarks: JPEG bytes shaped like shop uploads, and Fashion-MNIST.

Sources ship with installed packages (scikit-image's data, scikit-learn's sample images),
so benchmarks run offline. Product photos are typically 800-1600 px JPEGs; we upscale
the sources to that range so decode cost is realistic, not flattering. Fashion-MNIST
comes from the Debian package dataset-fashion-mnist (`apt-get install -y dataset-fashion-mnist`).
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# What `upload_photos` makes: upload-like JPEGs, or demo-catalogue renderings of Fashion-MNIST.
PHOTO_KINDS = ["jpeg", "fashion"]


def source_photos() -> list[Image.Image]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    arrays = [
        data.chelsea(),
        data.astronaut(),
        data.coffee(),
        data.rocket(),
        data.immunohistochemistry(),
        data.hubble_deep_field(),
        *load_sample_images().images,
    ]
    return [Image.fromarray(np.asarray(array)).convert("RGB") for array in arrays]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def upload_like_jpegs(count: int, *, distinct: int = 24, seed: int = 0) -> list[bytes]:
    """``count`` JPEGs cycling through ``distinct`` random crops resized to 800-1600 px."""
    rng = random.Random(seed)
    photos = source_photos()
    pool: list[bytes] = []
    for index in range(distinct):
        photo = photos[index % len(photos)]
        width, height = photo.size
        left, top = rng.randint(0, width // 5), rng.randint(0, height // 5)
        crop = photo.crop((left, top, width - rng.randint(0, width // 5), height - rng.randint(0, height // 5)))
        long_side = rng.randint(800, 1600)
        scale = long_side / max(crop.size)
        pool.append(
            jpeg(crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.BICUBIC))
        )
    return [pool[index % distinct] for index in range(count)]


def upload_photos(count: int, kind: str) -> list[bytes]:
    """``count`` photos to upload, every one distinct in bytes, so that nothing is de-duplicated away."""
    if kind == "jpeg":
        out = []
        for index, data in enumerate(upload_like_jpegs(count, distinct=min(count, 24))):
            image = Image.open(io.BytesIO(data))
            image.putpixel((index % image.width, 0), (index % 256, 7, 7))  # a pixel nudged
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=88)
            out.append(buffer.getvalue())
        return out
    from catalog import demo_catalog

    photos, labels = demo_catalog.load_photos(demo_catalog.dataset_dir())
    items = list(demo_catalog.demo_items(labels, count))
    return [demo_catalog.render_photo(photos[item.photo_index], item.colour)[1] for item in items]


def read_idx(path: Path) -> np.ndarray:
    """One Fashion-MNIST file (gzipped IDX), e.g. FASHION_DIR / "t10k-images-idx3-ubyte.gz"."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
