"""/api/v1/products/ and /api/v1/products/{id}/: store admins create, read, change and delete products."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from catalog.models import Category, Product, ProductImage
from catalog.services import product_image_add
from tests.catalog import factories

pytestmark = pytest.mark.django_db


def jpeg_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", factories.jpeg(1), content_type="image/jpeg")


def test_staff_create_a_product_and_get_it_back() -> None:
    Category.objects.create(slug="dresses", name="Dresses")
    client = factories.api_client(staff=True)

    response = client.post(
        "/api/v1/products/",
        {"sku": "D-1", "title": "Summer dress", "price": "39.90", "category": "dresses", "attributes": {"c": "red"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sku"], body["price"], body["category"], body["images"]) == (
        "D-1",
        "39.90",
        {"slug": "dresses", "name": "Dresses"},
        [],
    )
    assert client.get(f"/api/v1/products/{body['id']}/").json()["title"] == "Summer dress"


def test_it_rejects_a_duplicate_sku_and_an_unknown_category_with_the_error_envelope() -> None:
    factories.product("D-1")
    client = factories.api_client(staff=True)

    duplicate = client.post("/api/v1/products/", {"sku": "D-1", "title": "x", "price": "1"}, format="json")
    unknown = client.post(
        "/api/v1/products/", {"sku": "D-2", "title": "x", "price": "1", "category": "nope"}, format="json"
    )
    negative = client.post("/api/v1/products/", {"sku": "D-3", "title": "x", "price": "-1"}, format="json")

    assert duplicate.status_code == unknown.status_code == negative.status_code == 400
    assert duplicate.json()["error"]["message"].startswith("sku:")
    assert unknown.json()["error"]["details"]["category"]
    assert "price" in negative.json()["error"]["details"]
    assert Product.objects.count() == 1


def test_patch_changes_only_the_given_fields() -> None:
    product = factories.product("P-1", brand="Acme", stock=5)
    client = factories.api_client(staff=True)

    response = client.patch(f"/api/v1/products/{product.pk}/", {"price": "7.50", "stock": 0}, format="json")

    assert response.status_code == 200, response.content
    product.refresh_from_db()
    assert (str(product.price), product.stock, product.brand) == ("7.50", 0, "Acme")


def test_non_staff_writes_are_forbidden_and_anonymous_ones_unauthenticated() -> None:
    product = factories.product("P-1")
    shopper = factories.api_client(staff=False)

    forbidden = shopper.patch(f"/api/v1/products/{product.pk}/", {"stock": 1}, format="json")
    created = shopper.post("/api/v1/products/", {"sku": "X", "title": "x", "price": "1"}, format="json")
    anonymous = factories.APIClient().delete(f"/api/v1/products/{product.pk}/")

    assert forbidden.status_code == created.status_code == 403
    assert forbidden.json()["error"]["code"] == "permission_denied"
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    assert Product.objects.filter(pk=product.pk, stock=5).exists()


def test_staff_status_without_the_catalogue_permissions_writes_nothing() -> None:
    # Given a staff merchandiser with no model permissions (the admin refuses them too)
    product = factories.product("P-1")
    user = get_user_model().objects.create_user(username="merch", password="x-long-password", is_staff=True)
    client = factories.APIClient()
    client.force_authenticate(user)

    # When they try every catalogue write
    answers = [
        client.post("/api/v1/products/", {"sku": "X", "title": "x", "price": "1"}, format="json"),
        client.patch(f"/api/v1/products/{product.pk}/", {"stock": 1}, format="json"),
        client.post(f"/api/v1/products/{product.pk}/images/", {"image": jpeg_upload()}, format="multipart"),
        client.delete(f"/api/v1/products/{product.pk}/"),
    ]

    # Then each is a 403 naming the missing permissions, and nothing changed
    assert [answer.status_code for answer in answers] == [403] * 4
    assert "permissions" in answers[0].json()["error"]["message"]
    assert Product.objects.filter(pk=product.pk, stock=5).exists() and Product.objects.count() == 1
    assert not product.images.exists()


def test_a_user_with_the_model_permission_writes_without_being_staff() -> None:
    user = get_user_model().objects.create_user(username="editor", password="x-long-password")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="catalog", codename="add_product"))
    client = factories.APIClient()
    client.force_authenticate(user)

    created = client.post("/api/v1/products/", {"sku": "NEW", "title": "New", "price": "3"}, format="json")
    changed = client.patch(f"/api/v1/products/{created.json()['id']}/", {"stock": 2}, format="json")

    assert created.status_code == 201, created.content
    assert changed.status_code == 403, "adding is not changing"


def test_delete_removes_the_product_its_photos_and_their_files(
    media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    product = factories.product("P-1")
    image = product_image_add(product=product, data=factories.jpeg(1)).image
    files = [media_root / image.file.name, *(media_root / name for name in image.thumbnails.values())]
    assert all(path.exists() for path in files)

    with django_capture_on_commit_callbacks(execute=True):
        response = factories.api_client(staff=True).delete(f"/api/v1/products/{product.pk}/")

    assert response.status_code == 204
    assert not Product.objects.exists() and not ProductImage.objects.exists()
    assert not any(path.exists() for path in files)


def test_the_detail_shows_photos_with_status_and_thumbnail_urls_in_three_queries(
    django_assert_max_num_queries: object,
) -> None:
    product = factories.product("P-1")
    for seed in range(3):
        product_image_add(product=product, data=factories.jpeg(seed))
    ProductImage.objects.filter(product=product, position=2).update(
        embedding_status="failed", embedding_error="cannot decode"
    )
    client = factories.api_client(staff=True)

    with django_assert_max_num_queries(5):  # type: ignore[operator]
        body = client.get(f"/api/v1/products/{product.pk}/").json()

    assert [image["position"] for image in body["images"]] == [0, 1, 2]
    assert [image["embedding_status"] for image in body["images"]] == ["pending", "pending", "failed"]
    assert body["images"][2]["embedding_error"] == "cannot decode"
    thumbs = body["images"][0]["thumbnails"]
    assert set(thumbs) == {"160", "480"} and thumbs["160"].startswith("http://testserver/media/thumbs/")


def test_the_catalog_endpoints_generate_an_openapi_schema_without_warnings() -> None:
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("catalog.api.urls"))])

    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    upload = schema["paths"]["/api/v1/products/{product_id}/images/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert set(upload["responses"]) >= {"200", "201", "400", "403", "507"}
    # A file to send, not a URL string: Swagger shows a file picker, generated clients upload bytes.
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][form]["properties"]["image"] == {
        "type": "string",
        "format": "binary",
        "description": "JPEG, PNG, WebP, GIF (first frame), AVIF or HEIC.",
    }
