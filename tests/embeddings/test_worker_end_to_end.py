"""Upload through the API -> real Celery worker (lite profile, real weights) -> vectors in pgvector.

These tests run against a worker process (tests/fixtures_worker.py), so they
use transaction=True: the worker only sees committed rows.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from PIL import Image, ImageEnhance

from catalog.models import ProductImage
from catalog.services import product_image_add
from embeddings.models import ImageVector, ProductVector
from embeddings.selectors import active_encoder
from embeddings.tasks import enqueue_embedding, sweep_pending_images
from embeddings.vector_indexes import knn_distance_sql
from recommender.duplicates.models import DuplicatePair
from tests.catalog import factories
from tests.fixtures_worker import WorkerProcess, wait_for

# The worker logs each task's result; a message whose photos are all done claims nothing.
NOTHING_CLAIMED = "{'claimed': 0, 'done': 0, 'failed': 0}"
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def jpeg_of(array: np.ndarray, *, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def edited_copy(array: np.ndarray) -> bytes:
    """The same photo re-listed: cropped a little, resized, brighter, recompressed."""
    image = Image.fromarray(array)
    width, height = image.size
    image = image.crop((width // 20, height // 20, width - width // 20, height - height // 20)).resize((320, 210))
    out = io.BytesIO()
    ImageEnhance.Brightness(image).enhance(1.15).save(out, format="JPEG", quality=70)
    return out.getvalue()


def all_done(ids: list[int]) -> bool:
    return ProductImage.objects.filter(pk__in=ids, embedding_status="done").count() == len(ids)


def nearest_products(product_id: int, k: int) -> list[int]:
    """k-NN over product vectors of the active visual encoder, through its partial HNSW index."""
    visual = active_encoder("visual")
    assert visual is not None
    distance = knn_distance_sql("pv", visual.dim)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT pv.product_id FROM embeddings_productvector pv
            WHERE pv.space = %s AND pv.encoder = %s AND pv.product_id <> %s
            ORDER BY {distance} LIMIT %s
            """,
            [
                "visual",
                visual.identity,
                product_id,
                ProductVector.objects.get(product_id=product_id, space="visual", encoder=visual.identity).embedding,
                k,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def test_an_upload_is_embedded_within_seconds_and_its_planted_twin_is_the_nearest_neighbour(
    celery_worker: WorkerProcess,
) -> None:
    client = factories.api_client(staff=True)
    photos = {
        "cat": jpeg_of(skimage.data.chelsea()),
        "cat-relisted": edited_copy(skimage.data.chelsea()),
        "coffee": jpeg_of(skimage.data.coffee()),
        "astronaut": jpeg_of(skimage.data.astronaut()),
        "rocket": jpeg_of(skimage.data.rocket()),
        "cells": jpeg_of(skimage.data.immunohistochemistry()),
    }
    products = {name: factories.product(name.upper()) for name in photos}
    image_ids = []
    for name, data in photos.items():
        response = client.post(
            f"/api/v1/products/{products[name].pk}/images/",
            {"image": SimpleUploadedFile(f"{name}.jpg", data)},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        image_ids.append(response.json()["id"])

    wait_for(lambda: all_done(image_ids), timeout=60, what="the worker to embed the uploads")

    # Both spaces written, once per photo; the product vectors exist.
    assert ImageVector.objects.filter(space="visual").count() == ImageVector.objects.filter(space="semantic").count()
    assert ImageVector.objects.count() == 2 * len(photos)
    assert nearest_products(products["cat"].pk, 1) == [products["cat-relisted"].pk]
    detail = client.get(f"/api/v1/products/{products['cat'].pk}/").json()
    assert detail["images"][0]["embedding_status"] == "done" and detail["images"][0]["embedded_at"]
    # The worker's duplicate check then pairs the re-listing with the original (a cropped, brighter
    # copy), and from then on "more like this" of the cat never shows its own re-listing.
    cat, relisted = products["cat"].pk, products["cat-relisted"].pk
    wait_for(
        lambda: DuplicatePair.objects.filter(
            product_low_id=min(cat, relisted), product_high_id=max(cat, relisted)
        ).exists(),
        timeout=30,
        what="the duplicate check to pair the re-listing with its original",
    )
    similar = factories.APIClient().get(f"/api/v1/products/{cat}/similar/?limit=3")
    assert similar.status_code == 200, similar.content
    assert relisted not in [result["id"] for result in similar.json()["results"]]
    assert similar.json()["count"] == 3 and "duplicate_pairs" in similar.json()["diagnostics"]["excluded"]


def worker_mid_batch() -> bool:
    """A worker holds a claimed batch open (it is encoding): its transaction's last statement is the claim.

    Read from pg_stat_activity, without taking any row lock: a probe that locked
    pending rows itself would make the worker's SKIP LOCKED claim skip them.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND state LIKE 'idle in transaction%%' AND query LIKE '%%SKIP LOCKED%%'
            """
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def test_a_worker_killed_mid_batch_leaves_nothing_half_written_and_every_photo_ends_done_once(
    celery_worker: WorkerProcess, settings: Any
) -> None:
    product = factories.product("MANY")
    ids = [
        product_image_add(product=product, data=factories.jpeg(seed, (800, 600)), enqueue=False).image.pk
        for seed in range(48)
    ]
    enqueue_embedding(ids)  # Outside a transaction: sent at once, in batches of EMBEDDING_CLAIM_BATCH_SIZE.

    wait_for(worker_mid_batch, timeout=60, interval=0.02, what="the worker to claim a batch")
    celery_worker.kill()

    # The killed batch rolled back: its photos are pending, with no vectors.
    done_ids = set(ProductImage.objects.filter(embedding_status="done").values_list("id", flat=True))
    assert len(done_ids) < len(ids)
    assert set(ImageVector.objects.values_list("image_id", flat=True)) == done_ids

    celery_worker.start()
    settings.EMBEDDING_PENDING_TIMEOUT = 0  # what beat does after the timeout, now
    sweep_pending_images()
    wait_for(lambda: all_done(ids), timeout=120, what="the restarted worker to finish after the sweep")

    rows = list(ImageVector.objects.values_list("image_id", "space"))
    assert len(rows) == len(set(rows)) == 2 * len(ids)
    assert ProductVector.objects.get(product=product, space="visual").image_count == len(ids)
    # A late duplicate of the original messages (redelivery) changes nothing.
    before = list(ImageVector.objects.order_by("pk").values_list("pk", "created_at"))
    idle_runs = celery_worker.new_log().count(NOTHING_CLAIMED)
    enqueue_embedding(ids)
    wait_for(lambda: celery_worker.new_log().count(NOTHING_CLAIMED) == idle_runs + 1, timeout=30, what="the duplicate")
    assert list(ImageVector.objects.order_by("pk").values_list("pk", "created_at")) == before
