"""Photos on S3-compatible object storage (MEDIA_STORAGE=s3), against a real S3 server started here (moto).

A web process and a worker process, each configured from the environment as
two machines would be, share one bucket: the upload lands in the bucket (not on
the local disk), the worker embeds it from there, and the thumbnails' URLs are
the bucket's. A bucket that refuses the write, or cannot be reached, costs the
upload a 503 naming the reason, and leaves no photo row and no object behind.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.authtoken.models import Token

from catalog.models import ProductImage
from catalog.services import product_image_add
from catalog.services.files import StorageUnavailable, image_files_delete
from config.media_storage import s3_storage
from tests.catalog import factories
from tests.embeddings.test_worker_end_to_end import all_done
from tests.fixtures_worker import WorkerProcess, child_process_env, purge_queues, wait_for
from tests.processes import PrivateS3, WebProcess

pytestmark = [pytest.mark.worker]
BUCKET = "lookalike-photos"


@pytest.fixture
def s3() -> Iterator[PrivateS3]:
    server = PrivateS3()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.kill()


def objects(server: PrivateS3) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def local_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()]


def store_admin_token() -> str:
    user = get_user_model().objects.create_user(username="s3-admin", password="x-long-password")
    user.groups.add(factories.store_admins())
    return Token.objects.create(user=user).key


@pytest.mark.django_db(transaction=True)
def test_web_and_worker_share_photos_through_the_bucket_and_a_refusing_bucket_is_a_503_with_nothing_kept(
    s3: PrivateS3, media_root: Path, tmp_path: Path, session_worker: WorkerProcess
) -> None:
    # Given a web process and a worker whose photos live in the bucket (the session's worker stays idle)
    env = child_process_env(**s3.env(BUCKET), WEB_PRELOAD_ENCODERS="0")
    web = WebProcess(env, tmp_path / "web.log")
    worker = WorkerProcess(tmp_path / "worker.log", env, argv=["--pool", "solo"], hostname="lookalike-s3@%h")
    product = factories.product("S3-1")
    token = store_admin_token()
    on_disk = local_files(media_root)
    purge_queues()
    web.start()
    worker.start()
    try:
        # When a store admin uploads a photo
        status, body = web.upload(product.pk, factories.jpeg(7, (640, 480)), token=token)

        # Then the original and both thumbnails are objects in the bucket, named as the row says, none on disk
        assert status == 201, body
        image = ProductImage.objects.get(pk=body["id"])
        assert objects(s3) == sorted([image.file.name, *image.thumbnails.values()])
        assert local_files(media_root) == on_disk
        # and the worker, another process with only the bucket in common, embeds it from there
        wait_for(lambda: all_done([image.pk]), timeout=120, what=f"the worker to embed (log: {worker.log_path})")
        # and the thumbnail URLs the API hands out are the bucket's (signed), and serve the JPEG
        status, detail = web.request("GET", f"/api/v1/products/{product.pk}/", token=token)
        thumbnail = detail["images"][0]["thumbnails"]["160"]
        assert status == 200 and thumbnail.startswith(f"{s3.url}/{BUCKET}/thumbs/") and "Signature" in thumbnail
        with urllib.request.urlopen(thumbnail) as answer:
            assert answer.read()[:3] == b"\xff\xd8\xff"

        # When the bucket's server goes away
        s3.kill()
        status, body = web.upload(product.pk, factories.jpeg(8), token=token)
        # Then the upload is a 503 that says why, and no row was made
        assert status == 503, body
        assert body["error"]["code"] == "storage_unavailable" and "EndpointConnectionError" in body["error"]["message"]

        # When it comes back without the bucket (moto keeps nothing): S3 refuses the write
        s3.start()
        status, body = web.upload(product.pk, factories.jpeg(9), token=token)
        assert status == 503, body
        assert "NoSuchBucket" in body["error"]["message"] and "nothing was stored" in body["error"]["message"]
        assert list(ProductImage.objects.filter(product=product).values_list("pk", flat=True)) == [image.pk]
    finally:
        web.stop()
        worker.stop()
        purge_queues()


def bucket_storage(server: PrivateS3, bucket: str) -> dict[str, Any]:
    return s3_storage(
        bucket=bucket,
        endpoint_url=server.url,
        region=server.REGION,
        access_key=server.ACCESS_KEY,
        secret_key=server.SECRET_KEY,
        addressing_style="path",
        timeout=2,
    )


@pytest.mark.django_db
def test_a_missing_bucket_refuses_the_photo_with_its_reason_and_no_row(s3: PrivateS3, settings: Any) -> None:
    product = factories.product("S3-2")
    missing = {**settings.STORAGES, "default": bucket_storage(s3, "no-such-bucket")}
    with override_settings(STORAGES=missing), pytest.raises(StorageUnavailable) as refused:
        product_image_add(product=product, data=factories.jpeg(3), enqueue=False)
    assert refused.value.status == 503 and refused.value.code == "storage_unavailable"
    assert "NoSuchBucket" in refused.value.message
    assert not ProductImage.objects.filter(product=product).exists()
    assert objects(s3) == []


def test_deleting_files_from_an_unreachable_bucket_is_logged_not_raised(
    s3: PrivateS3, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A photo's files go after its row is deleted (on commit): the bucket being down must not fail that request.
    s3.kill()
    with override_settings(STORAGES={**settings.STORAGES, "default": bucket_storage(s3, BUCKET)}):
        image_files_delete(["products/ab/gone.jpg"])
    assert "could not delete stored file products/ab/gone.jpg" in caplog.text
