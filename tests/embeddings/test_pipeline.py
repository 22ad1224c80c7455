"""embeddings.pipeline in this process, with tiny random-weight models: batching, idempotency, failures.

The end-to-end tests (test_worker_end_to_end.py) run the same code in a real
worker process with the lite profile's real weights.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from catalog.models import ProductImage
from catalog.services import product_image_add, product_image_delete, product_images_request_embedding
from embeddings import pipeline
from embeddings.models import ImageVector, ProductVector
from embeddings.selectors import active_encoder
from tests.catalog import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tiny(tiny_encoders: None) -> None:
    """Every test here embeds with the tiny models (conftest.tiny_encoders)."""


def as_array(value: Any) -> np.ndarray:
    return np.asarray(value.to_list() if hasattr(value, "to_list") else value, dtype=np.float32)


def add_photos(count: int, *, sku: str = "P-1", seed: int = 0) -> list[ProductImage]:
    product = factories.product(sku)
    return [
        product_image_add(product=product, data=factories.jpeg(seed + i), enqueue=False).image for i in range(count)
    ]


def test_one_call_embeds_its_photos_and_tops_the_batch_up_with_other_pending_ones() -> None:
    first = add_photos(2, sku="P-1")
    others = add_photos(3, sku="P-2", seed=10)

    outcome = pipeline.embed_images(image_ids=[first[0].pk], batch_size=4)

    assert outcome.claimed == 4 and len(outcome.done) == 4
    assert first[0].pk in outcome.done
    statuses = dict(ProductImage.objects.values_list("id", "embedding_status"))
    assert sorted(statuses.values()) == ["done"] * 4 + ["pending"]
    assert statuses[others[-1].pk] == "pending", "the longest-waiting photos fill the batch, in order"
    # One vector per photo and space, one per product and space.
    assert ImageVector.objects.count() == 4 * 2
    assert ProductVector.objects.filter(product=first[0].product).count() == 2


def test_an_idle_worker_embeds_a_lone_upload_at_once_and_a_backlog_in_full_batches() -> None:
    # Latency: with one photo pending, the batch is that photo; nothing waits for a batch to fill.
    (lone,) = add_photos(1, sku="LONE")
    alone = pipeline.embed_images(image_ids=[lone.pk], batch_size=64)
    assert (alone.claimed, alone.done) == (1, [lone.pk])

    # Throughput: under a backlog every claim is a full batch, the rest left for the next message.
    backlog = add_photos(10, sku="MANY", seed=20)
    first = pipeline.embed_images(image_ids=[backlog[0].pk], batch_size=4)
    assert first.claimed == 4
    assert ProductImage.objects.filter(embedding_status="pending").count() == 6


def test_a_product_vector_is_the_normalised_mean_of_its_done_photos() -> None:
    images = add_photos(3)
    pipeline.embed_images(image_ids=[image.pk for image in images])
    visual = active_encoder("visual")
    assert visual is not None

    vectors = np.array([as_array(v.embedding) for v in ImageVector.objects.filter(space="visual").order_by("image_id")])
    product_vector = ProductVector.objects.get(space="visual", encoder=visual.identity)
    mean = vectors.mean(axis=0)
    assert product_vector.image_count == 3
    np.testing.assert_allclose(as_array(product_vector.embedding), mean / np.linalg.norm(mean), atol=2e-3)


def test_a_duplicated_message_does_nothing_the_second_time() -> None:
    images = add_photos(2)
    ids = [image.pk for image in images]
    pipeline.embed_images(image_ids=ids)
    written = {v.pk: v.created_at for v in ImageVector.objects.all()}

    again = pipeline.embed_images(image_ids=ids)

    assert again.claimed == 0
    assert {v.pk: v.created_at for v in ImageVector.objects.all()} == written


def test_vectors_of_an_older_version_never_replace_newer_ones() -> None:
    from embeddings.services import image_vectors_write

    (image,) = add_photos(1)
    product_images_request_embedding(image_ids=[image.pk])  # version 2
    pipeline.embed_images(image_ids=[image.pk])
    visual = active_encoder("visual")
    assert visual is not None
    current = ImageVector.objects.get(image=image, space="visual")
    assert current.image_version == 2

    stale = np.ones((1, visual.dim), dtype=np.float32) / np.sqrt(visual.dim)
    image_vectors_write(
        space="visual",
        encoder=visual.identity,
        image_ids=[image.pk],
        product_ids=[image.product_id],
        image_versions=[1],
        vectors=stale,
    )

    np.testing.assert_array_equal(
        as_array(ImageVector.objects.get(pk=current.pk).embedding), as_array(current.embedding)
    )


def test_an_undecodable_stored_file_fails_that_photo_with_the_reason_and_not_its_batch(media_root: Path) -> None:
    broken, fine = add_photos(2)
    (media_root / broken.file.name).write_bytes(b"overwritten on disk by something else")

    outcome = pipeline.embed_images(image_ids=[broken.pk, fine.pk])

    broken.refresh_from_db()
    assert outcome.done == [fine.pk]
    assert broken.embedding_status == "failed"
    assert broken.embedding_error.startswith("cannot decode the stored file")
    assert not ImageVector.objects.filter(image=broken).exists()


def test_deleting_a_photo_recomputes_its_product_vector_from_the_rest() -> None:
    keep, drop = add_photos(2)
    pipeline.embed_images(image_ids=[keep.pk, drop.pk])

    product_image_delete(image=drop)

    vector = ProductVector.objects.get(product=keep.product, space="visual")
    only = ImageVector.objects.get(image=keep, space="visual")
    assert vector.image_count == 1
    np.testing.assert_allclose(as_array(vector.embedding), as_array(only.embedding), atol=2e-3)
    product_image_delete(image=keep)
    assert not ProductVector.objects.filter(product=keep.product).exists()


def test_the_sweeper_touches_only_photos_pending_too_long() -> None:
    stale, fresh = add_photos(2)
    ProductImage.objects.filter(pk=stale.pk).update(embedding_requested_at=timezone.now() - timedelta(minutes=10))

    touched = pipeline.stale_pending_images_touch(older_than=timedelta(minutes=2))

    assert touched == [stale.pk]
    assert pipeline.stale_pending_images_touch(older_than=timedelta(minutes=2)) == [], "its clock was restarted"
    fresh.refresh_from_db()
    assert fresh.embedding_status == "pending"
