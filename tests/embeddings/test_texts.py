"""embeddings.texts and the multimodal product vector, in this process with the tiny models.

The semantic vector of a product with photos and words is blend(photos' mean,
words, SEMANTIC_TEXT_WEIGHT); the visual vector and the photos' mean stay pure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Product
from catalog.services import product_image_add, product_update
from embeddings import pipeline, texts
from embeddings.encoders import get_encoder
from embeddings.encoders.multimodal import blend, product_text
from embeddings.models import ImageVector, ProductNeighbours, ProductTextVector, ProductVector
from embeddings.services import product_text_vectors_write
from tests.catalog import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tiny(tiny_encoders: None) -> None:
    """Every test here embeds with the tiny models (conftest.tiny_encoders)."""


def as_array(value: Any) -> np.ndarray:
    return np.asarray(value.to_list() if hasattr(value, "to_list") else value, dtype=np.float32)


def listed(sku: str, *, photos: int = 1, seed: int = 0, **fields: Any) -> Product:
    """A product whose photos are embedded (its words not yet: products start dirty)."""
    product = factories.product(sku, **fields)
    images = [
        product_image_add(product=product, data=factories.jpeg(seed + i), enqueue=False).image for i in range(photos)
    ]
    pipeline.embed_images(image_ids=[image.pk for image in images])
    return product


def vector(product: Product, space: str) -> ProductVector:
    return ProductVector.objects.get(product=product, space=space)


def photo_mean(product: Product, space: str) -> np.ndarray:
    rows = np.array([as_array(v.embedding) for v in ImageVector.objects.filter(product=product, space=space)])
    mean = rows.mean(axis=0)
    return mean / np.linalg.norm(mean)


def words_of(product: Product) -> np.ndarray:
    product.refresh_from_db()
    text = product_text(title=product.title, brand=product.brand, description=product.description)
    return get_encoder("tiny-siglip").encode_texts([text])[0]


def test_a_products_words_are_blended_into_its_semantic_vector_only(settings: Any) -> None:
    # Given a product with two embedded photos, whose words are not embedded yet
    settings.SEMANTIC_TEXT_WEIGHT = 0.5
    product = listed("P-1", photos=2, title="Red wool coat")
    visual_before = as_array(vector(product, "visual").embedding)
    np.testing.assert_allclose(
        as_array(vector(product, "semantic").embedding), photo_mean(product, "semantic"), atol=2e-3
    )
    assert vector(product, "semantic").image_embedding is None, "the pure mean until the words are in"

    # When the worker embeds its words
    assert texts.embed_product_texts(product_ids=[product.pk]) == 1

    # Then the semantic vector blends them in, the photos' mean is kept beside it, the visual one is untouched
    semantic = vector(product, "semantic")
    text = ProductTextVector.objects.get(product=product, space="semantic")
    assert (text.encoder, text.text_version) == (semantic.encoder, 1)
    mean = photo_mean(product, "semantic")
    expected = blend(mean[None], words_of(product)[None], 0.5)[0]
    np.testing.assert_allclose(as_array(semantic.embedding), expected, atol=3e-3)
    np.testing.assert_allclose(as_array(semantic.image_embedding), mean, atol=2e-3)
    np.testing.assert_array_equal(as_array(vector(product, "visual").embedding), visual_before)
    assert vector(product, "visual").image_embedding is None
    assert not ProductTextVector.objects.filter(space="visual").exists()
    assert Product.objects.get(pk=product.pk).text_dirty_at is None


def test_a_title_change_marks_the_product_dirty_and_its_vector_and_lists_follow(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Given two products with photos and words embedded
    settings.SEMANTIC_TEXT_WEIGHT = 0.5
    first, second = listed("P-1", seed=0, title="Red wool coat"), listed("P-2", seed=5, title="Blue bag")
    texts.embed_product_texts(product_ids=[first.pk, second.pk])
    before = as_array(vector(first, "semantic").embedding)

    # When staff retitle the first (through the service)
    with django_capture_on_commit_callbacks() as enqueued:
        product_update(product=first, title="Green canvas sneakers")
    first.refresh_from_db()
    assert first.text_dirty_at is not None and first.text_version == 2
    assert len(enqueued) == 1, "its words are enqueued once the edit commits"
    texts.embed_product_texts(product_ids=[first.pk])

    # Then its semantic vector holds the new words, and the stored lists hold the new similarity
    after = as_array(vector(first, "semantic").embedding)
    expected = blend(photo_mean(first, "semantic")[None], words_of(first)[None], 0.5)[0]
    np.testing.assert_allclose(after, expected, atol=3e-3)
    assert not np.allclose(after, before, atol=1e-3)
    assert ProductTextVector.objects.get(product=first, space="semantic").text_version == 2
    listing = ProductNeighbours.objects.get(product=first, space="semantic")
    assert listing.neighbour_ids == [second.pk]
    similarity = float(after @ as_array(vector(second, "semantic").embedding))
    assert listing.similarities[0] == pytest.approx(similarity, abs=5e-3)


def test_a_new_photo_keeps_the_blend(settings: Any) -> None:
    # Given a product whose words are blended in
    settings.SEMANTIC_TEXT_WEIGHT = 0.3
    product = listed("P-1", title="Black leather handbag")
    texts.embed_product_texts(product_ids=[product.pk])

    # When a second photo is embedded
    image = product_image_add(product=product, data=factories.jpeg(9), enqueue=False).image
    pipeline.embed_images(image_ids=[image.pk])

    # Then the product vector blends the words with the mean of both photos
    semantic = vector(product, "semantic")
    mean = photo_mean(product, "semantic")
    assert semantic.image_count == 2
    np.testing.assert_allclose(
        as_array(semantic.embedding), blend(mean[None], words_of(product)[None], 0.3)[0], atol=3e-3
    )
    np.testing.assert_allclose(as_array(semantic.image_embedding), mean, atol=2e-3)


def test_a_weight_of_zero_stores_the_photos_mean(settings: Any) -> None:
    settings.SEMANTIC_TEXT_WEIGHT = 0.0
    product = listed("P-1", photos=2)

    texts.embed_product_texts(product_ids=[product.pk])

    semantic = vector(product, "semantic")
    np.testing.assert_allclose(as_array(semantic.embedding), photo_mean(product, "semantic"), atol=2e-3)
    assert semantic.image_embedding is None
    assert ProductTextVector.objects.filter(product=product).count() == 1, "the words are kept for a later weight"


def test_an_edit_while_the_words_are_encoded_leaves_the_product_dirty_and_old_words_never_win() -> None:
    # Given a product whose words the worker has read (version 1)
    product = factories.product("P-1", title="Red wool coat")
    (words,) = texts.claim_dirty(product_ids=[product.pk], limit=10)

    # When staff retitle it before the worker writes
    product_update(product=product, title="Blue linen dress")
    texts.texts_write([words], texts.text_targets())

    # Then the old words are stored but the product stays dirty, for the edit's own message
    product.refresh_from_db()
    assert product.text_version == 2 and product.text_dirty_at is not None
    stored = ProductTextVector.objects.get(product=product)
    assert stored.text_version == 1
    # and a late write of version 1 never replaces version 2
    (fresh,) = texts.claim_dirty(product_ids=[product.pk], limit=10)
    texts.texts_write([fresh], texts.text_targets())
    newer = as_array(ProductTextVector.objects.get(product=product).embedding)
    product_text_vectors_write(
        space="semantic",
        encoder=stored.encoder,
        product_ids=[product.pk],
        text_versions=[1],
        vectors=as_array(stored.embedding)[None],
    )
    np.testing.assert_array_equal(as_array(ProductTextVector.objects.get(product=product).embedding), newer)
    assert Product.objects.get(pk=product.pk).text_dirty_at is None


def test_a_price_change_leaves_the_words_clean() -> None:
    product = factories.product("P-1")
    texts.embed_product_texts(product_ids=[product.pk])

    product_update(product=product, price=12, stock=3)

    product.refresh_from_db()
    assert product.text_dirty_at is None and product.text_version == 1


def test_the_sweeper_touches_only_products_dirty_too_long() -> None:
    old, recent = factories.product("OLD"), factories.product("NEW")
    Product.objects.filter(pk=old.pk).update(text_dirty_at=timezone.now() - timedelta(minutes=10))

    assert texts.stale_dirty_products_touch(older_than=timedelta(minutes=5)) == [old.pk]
    assert texts.stale_dirty_products_touch(older_than=timedelta(minutes=5)) == [], "touched: not swept twice"
    assert Product.objects.get(pk=recent.pk).text_dirty_at is not None


def test_the_command_re_blends_every_product_after_a_weight_change(settings: Any, capsys: Any) -> None:
    # Given a catalogue blended at one weight
    settings.SEMANTIC_TEXT_WEIGHT = 0.2
    product = listed("P-1", title="Grey wool pullover")
    call_command("embed_texts")
    assert "the words of 1 products embedded" in capsys.readouterr().out

    # When the weight changes and the command re-embeds everything
    settings.SEMANTIC_TEXT_WEIGHT = 0.6
    call_command("embed_texts", "--all")

    # Then the vector is blended at the new weight
    assert "1 products marked dirty" in capsys.readouterr().out
    semantic = vector(product, "semantic")
    expected = blend(photo_mean(product, "semantic")[None], words_of(product)[None], 0.6)[0]
    np.testing.assert_allclose(as_array(semantic.embedding), expected, atol=3e-3)
    assert Product.objects.get(pk=product.pk).text_dirty_at is None
