"""Fixtures for storefront API tests: products with planted vectors, no model needed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection, transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Category, Product
from embeddings.models import ProductVector
from embeddings.services import space_encoder_register

DIM = 8
VISUAL = "test-visual@1"
SEMANTIC = "test-semantic@1"
_skus = itertools.count(1)


def unit(values: Sequence[float]) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    return (array / np.linalg.norm(array)).tolist()


def axis(index: int, *, tilt: float = 0.0, towards: int | None = None) -> list[float]:
    """A unit vector along `index`, optionally tilted towards another axis (similarity = cos(angle))."""
    values = [0.0] * DIM
    values[index] = 1.0
    if towards is not None:
        values[towards] = tilt
    return unit(values)


@pytest.fixture(autouse=True)
def clean_throttle_counters() -> Iterator[None]:
    # Throttle counters live in Redis (our own test db): start every test with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def even_hybrid_blend(settings: SettingsWrapper) -> None:
    # The tests' brute-force references blend the two spaces evenly; the profile's measured
    # default (settings.SIMILAR_VISUAL_WEIGHT) has a test of its own (test_similar.py).
    settings.SIMILAR_VISUAL_WEIGHT = 0.5


@pytest.fixture
def encoders(db: None) -> None:
    space_encoder_register(space="visual", identity=VISUAL, dim=DIM)
    space_encoder_register(space="semantic", identity=SEMANTIC, dim=DIM)


@dataclass
class Catalog:
    categories: dict[str, Category]

    def product(
        self,
        *,
        visual: Sequence[float] | None = None,
        semantic: Sequence[float] | None = None,
        category: str | None = None,
        **fields: Any,
    ) -> Product:
        number = next(_skus)
        defaults: dict[str, Any] = {
            "sku": f"SKU-{number}",
            "title": f"Product {number}",
            "price": Decimal("10.00"),
            "stock": 5,
        }
        if category is not None:
            if category not in self.categories:
                self.categories[category] = Category.objects.create(slug=category, name=category.title())
            defaults["category"] = self.categories[category]
        product = Product.objects.create(**{**defaults, **fields})
        rows = []
        if visual is not None:
            rows.append(ProductVector(product=product, space="visual", encoder=VISUAL, embedding=visual))
        if semantic is not None:
            rows.append(ProductVector(product=product, space="semantic", encoder=SEMANTIC, embedding=semantic))
        ProductVector.objects.bulk_create(rows)
        return product


@pytest.fixture
def catalog(encoders: None) -> Catalog:
    return Catalog(categories={})


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
        cursor.execute("ANALYZE embeddings_productvector")


def ids(response: Any) -> list[int]:
    return [result["id"] for result in response.json()["results"]]


Get = Callable[..., Any]


def pair_as_duplicates(a: Product, b: Product, *, similarity: float = 0.8) -> None:
    """What the duplicate detector writes when it finds `b` a re-listing of `a` (one photo each, stored pair)."""
    from catalog.models import ProductImage
    from recommender.duplicates.detection import PairEvidence
    from recommender.duplicates.services import duplicate_pairs_store
    from recommender.duplicates.thresholds import Tier

    photos = {
        product.pk: ProductImage.objects.create(
            product=product, file=f"test/{product.pk}.jpg", sha256=f"{product.pk:064d}", width=8, height=8
        )
        for product in (a, b)
    }
    low, high = sorted(photos)
    evidence = PairEvidence(
        product_low=low,
        product_high=high,
        image_low=photos[low].pk,
        image_high=photos[high].pk,
        tier=Tier.NEAR_DUPLICATE,
        similarity=similarity,
        phash_distance=6,
        same_bytes=False,
    )
    with transaction.atomic():
        duplicate_pairs_store(evidence=[evidence], encoder=VISUAL)
