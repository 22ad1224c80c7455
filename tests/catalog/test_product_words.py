"""A product's words (title, brand, category, attributes, description) feed its semantic vector: every write
path that changes them marks the product dirty and enqueues its text vectors once the write commits."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Category, Product
from tests.catalog import factories
from tests.catalog.test_admin import form

pytestmark = pytest.mark.django_db


def dirty(product: Product) -> tuple[bool, int]:
    product.refresh_from_db()
    return product.text_dirty_at is not None, product.text_version


def clean(product: Product) -> Product:
    Product.objects.filter(pk=product.pk).update(text_dirty_at=None)
    return product


def admin_browser() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password"))
    return client


def test_a_new_product_starts_dirty_and_its_words_are_enqueued(django_capture_on_commit_callbacks: Any) -> None:
    client = factories.api_client(staff=True)

    with django_capture_on_commit_callbacks() as enqueued:
        response = client.post("/api/v1/products/", {"sku": "W-1", "title": "Red coat", "price": "9"}, format="json")

    assert response.status_code == 201, response.content
    assert dirty(Product.objects.get(sku="W-1")) == (True, 1)
    assert len(enqueued) == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "Blue coat"}, (True, 2)),
        ({"attributes": {"colour": "blue"}}, (True, 2)),
        ({"description": "Warm and long."}, (True, 2)),
        ({"price": "7.50", "stock": 0}, (False, 1)),
        ({"title": "Product W-1"}, (False, 1)),  # the same title again: nothing to re-embed
    ],
)
def test_an_api_edit_marks_the_words_dirty_only_when_they_change(
    changes: dict[str, Any], expected: tuple[bool, int], django_capture_on_commit_callbacks: Any
) -> None:
    product = clean(factories.product("W-1"))

    with django_capture_on_commit_callbacks() as enqueued:
        response = factories.api_client(staff=True).patch(f"/api/v1/products/{product.pk}/", changes, format="json")

    assert response.status_code == 200, response.content
    assert dirty(product) == expected
    assert len(enqueued) == int(expected[0])


def test_an_admin_edit_of_the_title_marks_the_words_dirty() -> None:
    product = clean(factories.product("ADM-1", title="Admin product"))
    client = admin_browser()

    client.post(f"/admin/catalog/product/{product.pk}/change/", form(title="Admin product, renamed"))
    assert dirty(product) == (True, 2)

    clean(product)
    client.post(f"/admin/catalog/product/{product.pk}/change/", form(title="Admin product, renamed", stock="9"))
    assert dirty(product) == (False, 2)


def test_renaming_a_category_marks_its_products_words_dirty() -> None:
    coats = Category.objects.create(slug="coats", name="Coats")
    inside, outside = clean(factories.product("C-1", category=coats)), clean(factories.product("C-2"))
    client = admin_browser()

    client.post(f"/admin/catalog/category/{coats.pk}/change/", {"name": "Winter coats", "slug": "coats"})

    assert dirty(inside) == (True, 2)
    assert dirty(outside) == (False, 1)
