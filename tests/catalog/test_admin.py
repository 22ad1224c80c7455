"""Django admin: photos added on the product form go through the upload service."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import Product, ProductImage
from tests.catalog import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in() -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password")
    client = Client()
    client.force_login(user)
    return client


def form(**extra: Any) -> dict[str, Any]:
    return {
        "sku": "ADM-1",
        "title": "Admin product",
        "price": "12.00",
        "currency": "EUR",
        "stock": "3",
        "attributes": "{}",
        "is_active": "on",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "0",
        **extra,
    }


def test_photos_uploaded_with_a_new_product_are_validated_stored_and_pending(admin_client_logged_in: Client) -> None:
    photos = [SimpleUploadedFile(f"p{i}.jpg", factories.jpeg(i)) for i in range(2)]

    response = admin_client_logged_in.post("/admin/catalog/product/add/", form(new_photos=photos))

    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(sku="ADM-1")
    assert list(product.images.values_list("embedding_status", flat=True)) == ["pending", "pending"]
    assert all(set(image.thumbnails) == {"160", "480"} for image in product.images.all())


def test_a_bad_photo_is_reported_on_the_form_and_nothing_is_saved(admin_client_logged_in: Client) -> None:
    bad = SimpleUploadedFile("notes.jpg", b"plain text, not a photo")

    response = admin_client_logged_in.post("/admin/catalog/product/add/", form(new_photos=[bad]))

    assert response.status_code == 200
    assert "notes.jpg: The file is not a usable image" in response.content.decode()
    assert not Product.objects.exists() and not ProductImage.objects.exists()
