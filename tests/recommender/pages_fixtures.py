"""Fixtures for the pages' view tests (storefront and merchandising): products with photos, thumbnails, planted vectors.

Imported by tests/recommender/merchandising/conftest.py and by tests/recommender/storefront/test_pages.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from catalog.models import Category, Product, ProductImage
from config.roles import MERCHANDISERS
from embeddings.models import ProductVector, Space
from embeddings.services import space_encoder_register
from recommender.merchandising.tasks import building_key

VISUAL = "pages-visual@1"
SEMANTIC = "pages-semantic@1"
DIM = 4
_numbers = itertools.count(1)


def unit(values: Sequence[float]) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    return (array / np.linalg.norm(array)).tolist()


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CATALOG_MAP_ROOT = tmp_path / "maps"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(autouse=True)
def clean_cache() -> Iterator[None]:
    # The map's "building" flags live in Redis: start and end every test with none.
    # (Only our keys: cache.clear() would FLUSHDB the database the broker shares.)
    keys = [building_key(space) for space in Space.values]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@dataclass
class Shop:
    categories: dict[str, Category] = field(default_factory=dict)

    def product(
        self,
        *,
        category: str | None = None,
        visual: Sequence[float] | None = None,
        semantic: Sequence[float] | None = None,
        photos: int = 1,
        thumbnails: bool = True,
        **fields: Any,
    ) -> Product:
        number = next(_numbers)
        defaults: dict[str, Any] = {"sku": f"PG-{number}", "title": f"Product {number}", "price": Decimal("19.90")}
        if category is not None:
            if category not in self.categories:
                self.categories[category] = Category.objects.create(slug=category, name=category.title())
            defaults["category"] = self.categories[category]
        product = Product.objects.create(**{**defaults, **fields})
        for position in range(photos):
            digest = f"{number:032x}{position:032x}"
            ProductImage.objects.create(
                product=product,
                file=f"products/{digest[:2]}/{digest}.jpg",
                sha256=digest,
                width=800,
                height=800,
                position=position,
                thumbnails={"160": f"thumbs/160/{digest}.jpg", "480": f"thumbs/480/{digest}.jpg"} if thumbnails else {},
            )
        rows = []
        if visual is not None:
            rows.append(ProductVector(product=product, space="visual", encoder=VISUAL, embedding=unit(visual)))
        if semantic is not None:
            rows.append(ProductVector(product=product, space="semantic", encoder=SEMANTIC, embedding=unit(semantic)))
        ProductVector.objects.bulk_create(rows)
        return product


@pytest.fixture
def shop(db: None) -> Shop:
    return Shop()


@pytest.fixture
def encoders(db: None) -> None:
    space_encoder_register(space="visual", identity=VISUAL, dim=DIM)
    space_encoder_register(space="semantic", identity=SEMANTIC, dim=DIM)


def login(client: Client, *, staff: bool = False, merchandiser: bool = False) -> Client:
    user = get_user_model().objects.create_user(username=f"user{next(_numbers)}", password="pw-123456", is_staff=staff)
    if merchandiser:
        user.groups.add(Group.objects.get_or_create(name=MERCHANDISERS)[0])
    client.force_login(user)
    return client


@pytest.fixture
def merchandiser(client: Client, db: None) -> Client:
    return login(client, merchandiser=True)
