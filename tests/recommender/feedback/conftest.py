"""Products and served lists for the feedback tests: lists are logged as the storefront logs them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from catalog.models import Category, Product
from config.roles import STOREFRONTS
from recommender.storefront.services import recommendation_log_create

_skus = itertools.count(1)


@pytest.fixture(autouse=True)
def clean_throttle_counters() -> Iterator[None]:
    # Throttle counters live in Redis (the tests' own database): every test starts with none.
    cache.clear()
    yield
    cache.clear()


def product(*, category: Category | None = None, stock: int = 5, is_active: bool = True) -> Product:
    number = next(_skus)
    return Product.objects.create(
        sku=f"FB-{number}",
        title=f"Product {number}",
        price=Decimal("10.00"),
        stock=stock,
        category=category,
        is_active=is_active,
    )


def served(
    products: list[Product], *, endpoint: str = "similar", mode: str | None = "hybrid", strategy: str = "hnsw"
) -> uuid.UUID:
    """A storefront list that showed `products`, logged as the views log it; its recommendation_id."""
    params: dict[str, Any] = {"limit": len(products)} | ({"mode": mode} if mode else {})
    return recommendation_log_create(
        endpoint=endpoint, params=params, product_ids=[p.pk for p in products], strategy=strategy
    )


@dataclass
class Shop:
    products: list[Product]
    recommendation_id: uuid.UUID  # a list that showed products[0] and products[1]


@pytest.fixture
def shop(db: None) -> Shop:
    products = [product() for _ in range(3)]
    return Shop(products=products, recommendation_id=served(products[:2]))


def storefront_token(username: str = "shop-frontend") -> str:
    user = User.objects.create_user(username=username, password="x" * 12)
    # get_or_create: a transaction=True test may have flushed the row the migration made.
    user.groups.add(Group.objects.get_or_create(name=STOREFRONTS)[0])
    return Token.objects.create(user=user).key
