"""Resize and crop exactly as each model's Hugging Face image processor does, but faster.

We do not call the processors at run time: they copy every image to float64 and, in
transformers 5, the default ones need torchvision. Instead we read their saved
configuration and reproduce it with Pillow on uint8 pixels; normalisation happens on
the accelerator (see base.py). tests/encoders checks the result against the processors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from embeddings.encoders.images import DEFAULT_MAX_PIXELS, decode_image, to_rgb

ImageInput = Image.Image | bytes


@dataclass(frozen=True)
class Preprocess:
    # An int resizes the shortest edge to it (aspect kept); (height, width) resizes exactly.
    size: int | tuple[int, int]
    crop: tuple[int, int] | None
    # On the 0..1 scale, per RGB channel.
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: Image.Resampling = Image.Resampling.BICUBIC

    @property
    def decode_size(self) -> int:
        """The smallest side a JPEG may be decoded at without losing detail we keep."""
        return self.size if isinstance(self.size, int) else max(self.size)

    @property
    def output_size(self) -> tuple[int, int]:
        if self.crop is not None:
            return self.crop
        if isinstance(self.size, int):
            raise ValueError("shortest-edge resize without a crop gives images of varying size")
        return self.size

    def pixels(self, image: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """One image -> (height, width, 3) uint8, ready to stack into a batch."""
        if isinstance(image, bytes | bytearray | memoryview):
            image = decode_image(bytes(image), max_pixels=max_pixels, min_size=self.decode_size)
        elif image.mode != "RGB":
            image = to_rgb(image)
        width, height = image.size
        if isinstance(self.size, int):
            # Same arithmetic as transformers' get_resize_output_image_size (truncating the long side).
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = self.size, int(self.size * long / short)
            target = (new_short, new_long) if width <= height else (new_long, new_short)
        else:
            target = (self.size[1], self.size[0])
        if target != (width, height):
            image = image.resize(target, resample=self.resample)
        if self.crop is not None:
            image = _centre_crop(image, self.crop)
        return np.asarray(image, dtype=np.uint8)


def _centre_crop(image: Image.Image, crop: tuple[int, int]) -> Image.Image:
    crop_h, crop_w = crop
    width, height = image.size
    if crop_h > height or crop_w > width:
        # transformers pads with zeros here; only reachable with odd configs, so keep parity.
        padded = Image.new("RGB", (max(width, crop_w), max(height, crop_h)))
        padded.paste(image, ((padded.width - width) // 2, (padded.height - height) // 2))
        image, width, height = padded, padded.width, padded.height
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def from_hf_config(directory: Path, *, default_to_square: bool = True) -> Preprocess:
    """Build a Preprocess from a saved ``preprocessor_config.json`` (BitImageProcessor, SiglipImageProcessor,
    CLIPImageProcessor).

    Legacy configs (CLIP's on the hub) give ``size`` and ``crop_size`` as bare integers; the
    processor class decides what a bare ``size`` means, and ``default_to_square`` says it as
    transformers' get_size_dict does: a square (SigLIP), or the shortest edge (CLIP, BiT).
    """
    config = json.loads((directory / "preprocessor_config.json").read_text())
    size = config.get("size", {})
    if isinstance(size, int):
        size = {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    # {"shortest_edge": n} keeps the aspect ratio (BiT/DINOv2, CLIP); {"height", "width"} squashes (SigLIP).
    resize: int | tuple[int, int] = (
        int(size["shortest_edge"]) if "shortest_edge" in size else (int(size["height"]), int(size["width"]))
    )
    crop: tuple[int, int] | None = None
    if config.get("do_center_crop", False):
        crop_size = config["crop_size"]
        # A bare crop size is always a square (get_size_dict(crop_size, default_to_square=True)).
        if isinstance(crop_size, int):
            crop_size = {"height": crop_size, "width": crop_size}
        crop = (int(crop_size["height"]), int(crop_size["width"]))
    # Every supported processor rescales by 1/255; refuse anything else rather than embed garbage.
    if config.get("do_rescale", True) and abs(float(config.get("rescale_factor", 1 / 255)) - 1 / 255) > 1e-9:
        raise ValueError(f"unsupported rescale_factor in {directory}")
    mean = tuple(float(m) for m in config.get("image_mean", (0.0, 0.0, 0.0)))
    std = tuple(float(s) for s in config.get("image_std", (1.0, 1.0, 1.0)))
    if not config.get("do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return Preprocess(
        size=resize,
        crop=crop,
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        resample=Image.Resampling(int(config.get("resample", Image.Resampling.BICUBIC))),
    )
