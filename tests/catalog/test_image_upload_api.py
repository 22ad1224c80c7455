"""POST /api/v1/products/{id}/images/: validation before storage, one photo per bytes, deletes."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from catalog.imaging import inspect_image
from catalog.models import ProductImage
from catalog.services import product_image_add
from tests.catalog import factories


def upload(client: factories.APIClient, product_id: int, data: bytes, name: str = "photo.jpg") -> object:
    return client.post(
        f"/api/v1/products/{product_id}/images/", {"image": SimpleUploadedFile(name, data)}, format="multipart"
    )


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()]


BAD_INPUTS = [
    ("zero-byte", b"", "image_empty"),
    ("corrupt", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "image_invalid"),
    ("truncated", factories.jpeg(5, (400, 300))[:1500], "image_invalid"),
    ("text renamed as jpg", b"name,price\nshirt,10\n" * 20, "image_invalid"),
    ("decompression bomb", factories.decompression_bomb(), "image_too_large"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "code"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_a_400_naming_the_problem_with_nothing_stored(
    name: str, data: bytes, code: str, media_root: Path
) -> None:
    product = factories.product("P-1")
    before = stored_files(media_root)

    response = upload(factories.api_client(staff=True), product.pk, data)

    assert response.status_code == 400, name  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code and error["message"] and error["details"]["image"]
    assert not ProductImage.objects.exists()
    assert stored_files(media_root) == before


@pytest.mark.django_db
def test_an_oversized_file_is_refused_before_it_is_read(settings: object, media_root: Path) -> None:
    settings.IMAGE_MAX_BYTES = 4096  # type: ignore[attr-defined]
    product = factories.product("P-1")

    response = upload(factories.api_client(staff=True), product.pk, factories.jpeg(1, (600, 600)))

    assert response.status_code == 400  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "image_too_large"  # type: ignore[attr-defined]
    assert not ProductImage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "size"),
    [
        ("exif rotated", factories.exif_rotated_jpeg((120, 40)), (40, 120)),
        ("cmyk jpeg", factories.cmyk_jpeg(), (96, 64)),
        ("16-bit png", factories.png16(), (64, 48)),
    ],
)
def test_awkward_but_valid_photos_are_stored_upright_with_thumbnails(
    name: str, data: bytes, size: tuple[int, int], media_root: Path
) -> None:
    product = factories.product("P-1")

    response = upload(factories.api_client(staff=True), product.pk, data)

    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    image = ProductImage.objects.get()
    assert (image.width, image.height) == size, name
    assert image.embedding_status == "pending" and image.phash is not None
    assert (media_root / image.file.name).read_bytes() == data
    assert set(image.thumbnails) == {"160", "480"}
    assert all((media_root / path).exists() for path in image.thumbnails.values())


@pytest.mark.django_db
def test_an_upload_stores_the_phash_of_each_of_the_photos_other_orientations() -> None:
    data = factories.jpeg(3, (120, 80))

    response = upload(factories.api_client(staff=True), factories.product("P-1").pk, data)

    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    image = ProductImage.objects.get()
    expected = inspect_image(data, max_bytes=10**7, max_pixels=10**7)
    assert image.phash == expected.phash
    assert image.phash_turns == list(expected.phash_turns) and len(image.phash_turns) == 7


@pytest.mark.django_db
def test_the_same_bytes_twice_make_one_photo_and_the_second_upload_answers_200(media_root: Path) -> None:
    product = factories.product("P-1")
    client = factories.api_client(staff=True)
    first = upload(client, product.pk, factories.jpeg(1))
    files = stored_files(media_root)

    second = upload(client, product.pk, factories.jpeg(1), name="again.jpg")

    assert (first.status_code, second.status_code) == (201, 200)  # type: ignore[attr-defined]
    assert first.json()["id"] == second.json()["id"]  # type: ignore[attr-defined]
    assert ProductImage.objects.count() == 1
    assert stored_files(media_root) == files


@pytest.mark.django_db
def test_non_staff_cannot_upload() -> None:
    product = factories.product("P-1")
    response = upload(factories.api_client(staff=False), product.pk, factories.jpeg(1))
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "permission_denied"  # type: ignore[attr-defined]
    assert not ProductImage.objects.exists()


@pytest.mark.django_db
def test_deleting_a_photo_removes_it_and_its_files(media_root: Path, django_capture_on_commit_callbacks: Any) -> None:
    product = factories.product("P-1")
    keep = product_image_add(product=product, data=factories.jpeg(1)).image
    gone = product_image_add(product=product, data=factories.jpeg(2)).image
    gone_files = [media_root / gone.file.name, *(media_root / name for name in gone.thumbnails.values())]

    with django_capture_on_commit_callbacks(execute=True):
        response = factories.api_client(staff=True).delete(f"/api/v1/products/{product.pk}/images/{gone.pk}/")

    assert response.status_code == 204
    assert list(ProductImage.objects.values_list("id", flat=True)) == [keep.pk]
    assert not any(path.exists() for path in gone_files)
    assert (media_root / keep.file.name).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_the_same_bytes_make_one_photo(media_root: Path) -> None:
    product = factories.product("P-1")
    data = factories.jpeg(901, (640, 480))  # bytes no other test stores
    before = set(stored_files(media_root))
    barrier = threading.Barrier(4)
    results: list[bool] = []
    errors: list[BaseException] = []

    def add() -> None:
        try:
            barrier.wait()
            results.append(product_image_add(product=product, data=data).created)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert sorted(results) == [False, False, False, True]
    image = ProductImage.objects.get()
    # Losers removed the files they wrote: only the winner's original and thumbnails remain.
    new_files = {path for path in set(stored_files(media_root)) - before if image.sha256 in path.name}
    assert sorted(path.relative_to(media_root).as_posix() for path in new_files) == sorted(
        [image.file.name, *image.thumbnails.values()]
    )


@pytest.fixture
def full_media(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """MEDIA_ROOT on a 64 KiB tmpfs, nearly full: the next photo's files cannot all be written."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        (mount / "filler").write_bytes(b"\0" * 48 * 1024)
        settings.MEDIA_ROOT = mount
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.django_db
def test_a_full_disk_is_a_507_and_nothing_of_the_photo_is_kept(full_media: Path) -> None:
    product = factories.product("P-1")
    photo = factories.jpeg(7, (900, 700))
    assert len(photo) > 16 * 1024, "larger than the room left"

    response = upload(factories.api_client(staff=True), product.pk, photo)

    assert response.status_code == 507, response.content  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "storage_full" and "nothing was stored" in error["message"]
    assert not ProductImage.objects.exists()
    assert [path.name for path in full_media.rglob("*") if path.is_file()] == ["filler"], "no half-written file"
