"""The zero-download ``lite`` profile gives sensible answers on a real photograph."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from embeddings.encoders import PROFILES
from embeddings.encoders.base import Encoder, ImageEncoder
from embeddings.encoders.families.conse import ConseEncoder
from embeddings.encoders.imagenet import class_names

PROMPTS = ["a photo of a cat", "a photo of a dog", "a photo of a car", "a photo of a shoe", "a photo of a chair"]


def test_lite_profile_names_the_lite_encoders() -> None:
    assert PROFILES["lite"] == {"visual": "efficientnet-lite0", "semantic": "conse-minilm"}


def test_efficientnet_lite_classifies_chelsea_as_a_cat(lite_semantic: Encoder, chelsea: Image.Image) -> None:
    assert isinstance(lite_semantic, ConseEncoder)
    top = int(lite_semantic.class_probabilities(lite_semantic.raw_outputs([chelsea])).argmax())
    assert "cat" in class_names()[top]


def test_conse_ranks_chelsea_nearest_to_a_photo_of_a_cat(lite_semantic: Encoder, chelsea: Image.Image) -> None:
    image = lite_semantic.encode_images([chelsea])
    texts = lite_semantic.encode_texts(PROMPTS)
    assert PROMPTS[int(np.argmax(image @ texts.T))] == "a photo of a cat"


def test_lite_vectors_have_the_declared_dims_and_unit_norm(
    lite_visual: Encoder, lite_semantic: Encoder, photos: list[Image.Image]
) -> None:
    for encoder in (lite_visual, lite_semantic):
        vectors = encoder.encode_images(photos)
        assert vectors.shape == (len(photos), encoder.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert lite_visual.dim == 1280 and lite_semantic.dim == 384


def test_lite_visual_batched_equals_one_at_a_time(lite_visual: Encoder, photos: list[Image.Image]) -> None:
    assert isinstance(lite_visual, ImageEncoder)
    batched = lite_visual.encode_images(photos, batch_size=len(photos))
    single = np.concatenate([lite_visual.encode_images([photo], batch_size=1) for photo in photos])
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_lite_identities_are_content_hashes(lite_visual: Encoder, lite_semantic: Encoder) -> None:
    assert lite_visual.identity.startswith("efficientnet-lite0@")
    assert lite_semantic.identity.startswith("conse-minilm@")
    assert len(lite_visual.identity.split("@")[1]) == 12


def test_folding_batchnorm_keeps_efficientnet_outputs(lite_visual: Encoder) -> None:
    from embeddings.encoders.families import efficientnet_lite

    stock = efficientnet_lite.load_stock_network(efficientnet_lite.weights_file(lite_visual.spec))
    fused = efficientnet_lite.fuse_for_inference(
        efficientnet_lite.load_stock_network(efficientnet_lite.weights_file(lite_visual.spec))
    )
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(fused(pixels), stock(pixels), atol=1e-3, rtol=1e-4)
