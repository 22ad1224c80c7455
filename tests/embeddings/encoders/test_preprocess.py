"""Our Pillow preprocessing reproduces the Hugging Face image processors it replaces."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from embeddings.encoders.base import Encoder, ImageEncoder, PixelNormalise
from embeddings.encoders.families.efficientnet_lite import preprocessing


def normalised(encoder: ImageEncoder, image: Image.Image) -> np.ndarray:
    """What the tower's first layer sees: our resize and crop, then the tower's normalisation."""
    pixels = torch.from_numpy(encoder._prepare(image)[None])
    return PixelNormalise(encoder.preprocess)(pixels).numpy()


def test_dinov2_matches_bit_image_processor(tiny_dinov2: Encoder, photos: list[Image.Image]) -> None:
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    assert isinstance(tiny_dinov2, ImageEncoder)
    processor = BitImageProcessorPil.from_pretrained(tiny_dinov2.spec.source)
    for photo in photos:
        expected = processor(images=photo, return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(normalised(tiny_dinov2, photo), expected, atol=1e-4)


def test_siglip_matches_siglip_image_processor(tiny_siglip: Encoder, photos: list[Image.Image]) -> None:
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    assert isinstance(tiny_siglip, ImageEncoder)
    processor = SiglipImageProcessorPil.from_pretrained(tiny_siglip.spec.source)
    for photo in photos:
        expected = processor(images=photo, return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(normalised(tiny_siglip, photo), expected, atol=1e-4)


def test_efficientnet_lite_uses_tensorflow_scaling() -> None:
    grey = Image.new("RGB", (300, 400), (255, 255, 255))
    pixels = preprocessing(224).pixels(grey)
    assert pixels.shape == (224, 224, 3)
    mean = torch.tensor(preprocessing(224).mean) * 255
    std = torch.tensor(preprocessing(224).std) * 255
    assert torch.allclose((255 - mean) / std, torch.full((3,), 1.0))


def test_clip_matches_clip_image_processor_on_the_hubs_legacy_config(
    tiny_clip: Encoder, photos: list[Image.Image]
) -> None:
    """The tiny checkpoint's config says "size": 36, "crop_size": 32, as openai/clip-vit-large-patch14's does."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    assert isinstance(tiny_clip, ImageEncoder)
    assert (tiny_clip.preprocess.size, tiny_clip.preprocess.crop) == (36, (32, 32)), "shortest edge, then a square"
    processor = CLIPImageProcessorPil.from_pretrained(tiny_clip.spec.source)
    for photo in photos:
        expected = processor(images=photo, return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(normalised(tiny_clip, photo), expected, atol=1e-4)
