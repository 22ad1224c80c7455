"""Real photographs as JPEG bytes, shaped like shop uploads, for the benchmarks.

Sources ship with installed packages (scikit-image's data, scikit-learn's sample images),
so benchmarks run offline. Product photos are typically 800-1600 px JPEGs; we upscale
the sources to that range so decode cost is realistic, not flattering.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image


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
