"""The labelled duplicate set: real photos, and re-listings of them made with the edits sellers make.

Shared by `duplicates_eval` (calibration of the tiers) and `quality` (planted duplicates in a
catalogue built through the services). Originals: Fashion-MNIST products rendered in a colour
on a studio background exactly as the demo catalogue renders them (catalog.demo_catalog), and
scikit-image / scikit-learn colour photos. Every edit is made in code from a seeded generator,
so a run is reproducible. Each edit carries the tier a merchandiser would file it under:

- exact:          resized to 60 %, re-encoded at JPEG q30, converted to greyscale
- near_duplicate: crop 80 %, crop 70 %, horizontal flip, 90° and 270° rotations, brightness and
                  contrast, "SALE -50%" text, a round "NEW" sticker, a tiled watermark, padding
                  onto a coloured background, a hue shift with a crop of 88 %
- similar:        re-photographed (perspective warp of 3-8 % per corner, lens blur, sensor noise,
                  exposure 0.8-1.15x), and two heavy combinations (crop 70 % + flip + text; pad +
                  crop 80 % + brightness)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from bench.photo_corpus import jpeg
from recommender.duplicates.thresholds import Tier

FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
PHOTO_NAMES = [
    "astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina", "hubble_deep_field",
    "camera", "clock", "coins", "moon",
]  # fmt: skip
# Garment colours for the originals: not white, which on the studio background (244, 243, 240)
# leaves a blank frame once brightened, i.e. no photo of the product at all.
GARMENT_COLOURS = ["black", "navy", "red", "olive", "camel", "grey", "burgundy", "sky blue", "forest green", "mustard"]


def text_overlay(image: Image.Image) -> Image.Image:
    out = image.copy()
    width, height = out.size
    font = ImageFont.load_default(size=max(12, height // 7))
    ImageDraw.Draw(out).text((width // 12, height // 3), "SALE -50%", fill=(220, 0, 0), font=font)
    return out


def watermark(image: Image.Image) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(10, base.height // 14))
    for y in range(0, base.height, max(10, base.height // 5)):
        for x in range(-base.width // 4, base.width, max(20, base.width // 3)):
            draw.text((x + (y // 3) % 40, y), "© myshop", fill=(255, 255, 255, 110), font=font)
    return Image.alpha_composite(base, layer).convert("RGB")


def sticker(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A round yellow "NEW" sticker, a sixth of the short side in radius, near a random corner."""
    out = image.copy()
    width, height = out.size
    radius = int(min(width, height) * 0.16)
    cx = int(width * float(rng.choice([0.2, 0.8])))
    cy = int(height * float(rng.choice([0.2, 0.8])))
    draw = ImageDraw.Draw(out)
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius),
        fill=(250, 200, 0),
        outline=(200, 0, 0),
        width=max(2, radius // 8),
    )
    font = ImageFont.load_default(size=max(10, radius // 2))
    draw.text((cx - radius * 0.6, cy - radius * 0.3), "NEW", fill=(200, 0, 0), font=font)
    return out


def crop(image: Image.Image, keep: float, *, shift: float = 0.5) -> Image.Image:
    width, height = image.size
    w, h = int(width * keep), int(height * keep)
    left, top = int((width - w) * shift), int((height - h) * (1 - shift))
    return image.crop((left, top, left + w, top + h))


def pad(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    width, height = image.size
    canvas = Image.new("RGB", (int(width * 1.5), int(height * 1.3)), colour)
    canvas.paste(image, ((canvas.width - width) // 3, (canvas.height - height) // 2))
    return canvas


def bright_contrast(image: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(1.25)).enhance(0.8)


def hue_shift(image: Image.Image, turn: float) -> Image.Image:
    """Rotate every pixel's hue by `turn` of the colour wheel (a recoloured copy)."""
    hue, saturation, value = image.convert("HSV").split()
    offset = int(turn * 256)
    hue = hue.point(lambda level: (level + offset) % 256)
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def _perspective_coefficients(target: list[tuple[float, float]], source: list[tuple[float, float]]) -> list[float]:
    """PIL's 8 perspective coefficients mapping output corners `target` to input corners `source`."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solved = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(source, dtype=np.float64).reshape(8))
    return [float(value) for value in solved]


def rephotograph(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The same item photographed again: a slightly oblique view, lens blur, sensor noise, another exposure."""
    width, height = image.size

    def inset() -> float:
        return float(rng.uniform(0.03, 0.08))

    corners = [(0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height))]
    # The backdrop continues past the photo's edges: fill with the colour of its border.
    pixels = np.asarray(image.convert("RGB"))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    backdrop = tuple(int(c) for c in np.median(border, axis=0))
    moved = [
        (width * inset(), height * inset()),
        (width * (1 - inset()), height * inset()),
        (width * (1 - inset()), height * (1 - inset())),
        (width * inset(), height * (1 - inset())),
    ]
    warped = image.transform(
        (width, height),
        Image.Transform.PERSPECTIVE,
        _perspective_coefficients(moved, corners),
        Image.Resampling.BICUBIC,
        fillcolor=backdrop,
    ).filter(ImageFilter.GaussianBlur(radius=max(width, height) / 300))
    exposed = np.asarray(warped, dtype=np.float32) * float(rng.uniform(0.8, 1.15))
    exposed += rng.normal(0.0, 6.0, size=exposed.shape)
    return Image.fromarray(np.clip(exposed, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Edit:
    name: str
    label: Tier
    make: Callable[[Image.Image, np.random.Generator, tuple[int, int, int]], Image.Image]
    quality: int = 90


def _resize(image: Image.Image, scale: float) -> Image.Image:
    return image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)


# Every edit draws from the generator in a fixed order, so the set depends on the seed alone.
EDITS: tuple[Edit, ...] = (
    Edit("resize_60", Tier.EXACT, lambda im, rng, c: _resize(im, 0.6)),
    Edit("jpeg_q30", Tier.EXACT, lambda im, rng, c: im, quality=30),
    Edit("greyscale", Tier.EXACT, lambda im, rng, c: ImageOps.grayscale(im).convert("RGB")),
    Edit("crop_80", Tier.NEAR_DUPLICATE, lambda im, rng, c: crop(im, 0.8, shift=float(rng.uniform(0.2, 0.8)))),
    Edit("crop_70", Tier.NEAR_DUPLICATE, lambda im, rng, c: crop(im, 0.7, shift=float(rng.uniform(0.2, 0.8)))),
    Edit("flip", Tier.NEAR_DUPLICATE, lambda im, rng, c: ImageOps.mirror(im)),
    Edit("rotate_90", Tier.NEAR_DUPLICATE, lambda im, rng, c: im.transpose(Image.Transpose.ROTATE_90)),
    Edit("rotate_270", Tier.NEAR_DUPLICATE, lambda im, rng, c: im.transpose(Image.Transpose.ROTATE_270)),
    Edit("bright_contrast", Tier.NEAR_DUPLICATE, lambda im, rng, c: bright_contrast(im)),
    Edit("text", Tier.NEAR_DUPLICATE, lambda im, rng, c: text_overlay(im)),
    Edit("sticker", Tier.NEAR_DUPLICATE, lambda im, rng, c: sticker(im, rng)),
    Edit("watermark", Tier.NEAR_DUPLICATE, lambda im, rng, c: watermark(im)),
    Edit("pad_background", Tier.NEAR_DUPLICATE, lambda im, rng, c: pad(im, c)),
    Edit(
        "hue_crop",
        Tier.NEAR_DUPLICATE,
        lambda im, rng, c: crop(hue_shift(im, float(rng.uniform(0.15, 0.5))), 0.88, shift=float(rng.uniform(0.3, 0.7))),
    ),
    Edit("rephotographed", Tier.SIMILAR, lambda im, rng, c: rephotograph(im, rng)),
    Edit("crop70_flip_text", Tier.SIMILAR, lambda im, rng, c: text_overlay(ImageOps.mirror(crop(im, 0.7)))),
    Edit("pad_crop80_bright", Tier.SIMILAR, lambda im, rng, c: pad(bright_contrast(crop(im, 0.8, shift=0.3)), c)),
)
EDIT_NAMES = tuple(edit.name for edit in EDITS)


def relist(image: Image.Image, rng: np.random.Generator, edits: tuple[Edit, ...] = EDITS) -> list[tuple[Edit, bytes]]:
    """Every edit of `image` as JPEG bytes, in `edits` order."""
    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
    return [(edit, jpeg(edit.make(image, rng, colour), quality=edit.quality)) for edit in edits]  # type: ignore[arg-type]


def fashion_packshot(photo: np.ndarray, colour: str) -> Image.Image:
    """One Fashion-MNIST photo as the demo catalogue renders it: 224 px, tinted, on the studio background."""
    import io

    from catalog.demo_catalog import render_photo

    _, data = render_photo(photo, colour)
    return Image.open(io.BytesIO(data)).convert("RGB")


def sample_photos() -> list[Image.Image]:
    """The scikit-image and scikit-learn colour photos, at most 512 px a side."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    found = []
    for array in [getattr(data, name)() for name in PHOTO_NAMES] + list(load_sample_images().images):
        image = Image.fromarray(np.asarray(array)).convert("RGB")
        image.thumbnail((512, 512))
        found.append(image)
    return found
