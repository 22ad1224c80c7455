"""`manage.py load_demo_catalog`: Fashion-MNIST products with photos, deterministic and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from PIL import Image

from catalog.models import Category, Product, ProductImage

pytestmark = pytest.mark.django_db


def test_it_loads_plausible_products_in_ten_categories_with_one_photo_each(
    media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as enqueued:
        call_command("load_demo_catalog", "--limit", "40", "--no-progress")

    assert Product.objects.count() == 40
    assert Category.objects.count() == 10
    assert ProductImage.objects.filter(embedding_status="pending").count() == 40
    assert len(enqueued) == 2, "one chunk: one enqueue of its photos, one of its products' words"
    product = Product.objects.order_by("sku").first()
    assert product is not None and product.sku == "FM-00000-0"
    assert product.title.split()[-1] in {
        "boots",
        "T-shirt",
        "trousers",
        "pullover",
        "dress",
        "coat",
        "sandals",
        "shirt",
        "sneakers",
        "bag",
    }
    assert product.price > 0 and product.brand and product.seller and product.attributes["colour"]
    photo = product.images.get()
    assert (photo.width, photo.height) == (224, 224) and photo.phash is not None
    assert len(photo.phash_turns) == 7, "the bulk loader keeps the turned pHashes as an upload does"
    with Image.open(media_root / photo.file.name) as image:
        assert (image.format, image.size, image.getpixel((0, 0))) == ("PNG", (224, 224), (244, 243, 240))
    grouped = Product.objects.exclude(product_group="").values_list("product_group", flat=True)
    assert len(grouped) > len(set(grouped)), "some garments come in several colours (variants)"


def test_a_second_run_adds_only_what_is_missing() -> None:
    call_command("load_demo_catalog", "--limit", "10", "--no-progress")
    first = dict(Product.objects.values_list("sku", "title"))

    call_command("load_demo_catalog", "--limit", "15", "--no-progress")

    again = dict(Product.objects.values_list("sku", "title"))
    assert len(again) == 15 and {sku: again[sku] for sku in first} == first
    assert ProductImage.objects.count() == 15
