"""Product.listing_key: PostgreSQL writes it from title and brand, spelt as the duplicate detector spells it."""

from __future__ import annotations

import pytest

from catalog.models import Product
from recommender.duplicates.detection import listing_key
from tests.catalog import factories

pytestmark = pytest.mark.django_db

TITLES = [
    ("Red  Cotton dress", "Northwind"),
    ("  red cotton DRESS\t", "northwind "),
    ("Line\nbreak  and\r\ntabs\t\there", "Kestrel"),
    ("Plain", ""),
]


@pytest.mark.parametrize(("title", "brand"), TITLES)
def test_the_stored_key_equals_the_detectors_key(title: str, brand: str) -> None:
    product = factories.product(title=title, brand=brand)

    stored = Product.objects.values_list("listing_key", flat=True).get(pk=product.pk)

    assert stored == listing_key(title, brand)


def test_the_key_follows_every_update_of_title_or_brand_even_one_by_sql() -> None:
    product = factories.product(title="Red coat", brand="Northwind")

    Product.objects.filter(pk=product.pk).update(title="Blue  COAT")
    after_title = Product.objects.values_list("listing_key", flat=True).get(pk=product.pk)
    product.refresh_from_db()
    product.brand = "Kestrel"
    product.save()

    assert after_title == "blue coat | northwind"
    assert Product.objects.values_list("listing_key", flat=True).get(pk=product.pk) == "blue coat | kestrel"


def test_a_product_without_a_title_keeps_a_key_no_untitled_source_matches() -> None:
    product = factories.product(title="   ", brand="Northwind")

    stored = Product.objects.values_list("listing_key", flat=True).get(pk=product.pk)

    # The detector gives an untitled product no key (""): "more like this" never treats two as copies.
    assert listing_key("   ", "Northwind") == ""
    assert stored == "| northwind"
