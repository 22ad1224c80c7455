"""A CLIP checkpoint chosen by EMBEDDINGS_SEMANTIC_ENCODER serves the semantic space, as SigLIP does.

Uploads are embedded by it (its identity on every semantic vector), and a shopper's words are
embedded by its text tower and compared with those vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.test import Client

from catalog.services import product_image_add
from embeddings import pipeline
from embeddings.encoders import get_encoder
from embeddings.encoders.testing import TINY_CLIP, TINY_DINOV2
from embeddings.models import ImageVector, ProductVector
from embeddings.selectors import active_encoder, configured_encoder_name
from tests.catalog import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip_semantic(_tiny_models: None, settings: Any) -> None:
    settings.EMBEDDINGS_VISUAL_ENCODER = TINY_DINOV2
    settings.EMBEDDINGS_SEMANTIC_ENCODER = TINY_CLIP


def as_array(value: Any) -> np.ndarray:
    return np.asarray(value.to_list() if hasattr(value, "to_list") else value, dtype=np.float32)


def test_uploads_are_embedded_by_the_configured_clip_encoder(clip_semantic: None) -> None:
    # Given a product photo uploaded with CLIP configured as the semantic encoder
    photo = factories.jpeg(3)
    image = product_image_add(product=factories.product("CLIP-1"), data=photo, enqueue=False).image

    # When the worker's pipeline embeds it
    outcome = pipeline.embed_images(image_ids=[image.pk])

    # Then the semantic space is CLIP's: its identity, its width, its image tower's vector
    clip = get_encoder(TINY_CLIP)
    semantic = active_encoder("semantic")
    assert outcome.done == [image.pk]
    assert configured_encoder_name("semantic") == TINY_CLIP
    assert semantic is not None and (semantic.identity, semantic.dim) == (clip.identity, 24)
    stored = ImageVector.objects.get(image=image, space="semantic")
    assert stored.encoder == clip.identity
    expected = clip.encode_images([photo])[0]
    # halfvec storage keeps about three significant digits.
    np.testing.assert_allclose(as_array(stored.embedding), expected, atol=2e-3)
    product_vector = ProductVector.objects.get(product=image.product, space="semantic")
    np.testing.assert_allclose(as_array(product_vector.embedding), expected, atol=2e-3)


def test_words_are_embedded_by_clips_text_tower_and_compared_with_its_image_vectors(
    clip_semantic: None, client: Client
) -> None:
    # Given two embedded products
    images = [
        product_image_add(product=factories.product(f"CLIP-{i}"), data=factories.jpeg(i), enqueue=False).image
        for i in range(2)
    ]
    pipeline.embed_images(image_ids=[image.pk for image in images])

    # When a shopper searches by words, on the semantic space alone
    response = client.get("/api/v1/search/", {"q": "a red running shoe", "text_weight": "0"})

    # Then the text tower of the same CLIP checkpoint embedded the query, and the scores are its cosines
    body = response.json()
    assert response.status_code == 200, body
    clip = get_encoder(TINY_CLIP)
    assert body["diagnostics"]["encoders"] == {"semantic": clip.identity}
    query = clip.encode_texts(["a red running shoe"])[0]
    cosines = {image.product_id: float(clip.encode_images([image.file.read()])[0] @ query) for image in images}
    for result in body["results"]:
        assert result["scores"]["semantic"] == pytest.approx(cosines[result["id"]], abs=5e-3)
    assert {result["id"] for result in body["results"]} == set(cosines)
