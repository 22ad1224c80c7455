"""Product summaries for result lists: one query whatever the page size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.storage import default_storage
from django.db import connection

from catalog.models import Category, Product, ProductImage
from config.prepared_statements import prepared_cursor
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.scoring import Scored

PRODUCTS, CATEGORIES, IMAGES = (m._meta.db_table for m in (Product, Category, ProductImage))
# Thumbnails written at upload, best first; the original file when none exist yet.
THUMBNAIL_SIZES = ("480", "160")


@dataclass(frozen=True)
class ProductSummary:
    id: int
    sku: str
    title: str
    brand: str
    category: str | None
    price: Decimal
    currency: str
    in_stock: bool
    thumbnail: str | None  # a URL path under MEDIA_URL (or the storage's URL)


def _image_url(file: str | None, thumbnails: object) -> str | None:
    if not file:
        return None
    if isinstance(thumbnails, dict):
        for size in THUMBNAIL_SIZES:
            if thumbnails.get(size):
                return default_storage.url(thumbnails[size])
    return default_storage.url(file)


def product_summaries(product_ids: Sequence[int]) -> dict[int, ProductSummary]:
    """One statement whatever the page size; the primary photo (lowest position) by one LATERAL lookup each.

    Raw SQL rather than the ORM: it is on every storefront response, and building the
    equivalent queryset (a select_related and two correlated subqueries) cost more
    Python time than the statement's own execution.
    """
    if not product_ids:
        return {}
    # Prepared (config.prepared_statements): one plan, by primary key, whatever the ids.
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            f"SELECT p.id, p.sku, p.title, p.brand, c.slug, p.price, p.currency, p.stock > 0, i.file, i.thumbnails "
            f"FROM {PRODUCTS} p LEFT JOIN {CATEGORIES} c ON c.id = p.category_id "
            f"LEFT JOIN LATERAL (SELECT file, thumbnails FROM {IMAGES} WHERE product_id = p.id "
            "ORDER BY position, id LIMIT 1) i ON TRUE WHERE p.id = ANY(%s)",
            [list(product_ids)],
        )
        rows = cursor.fetchall()
    return {
        pid: ProductSummary(
            id=pid,
            sku=sku,
            title=title,
            brand=brand,
            category=category,
            price=price,
            currency=currency,
            in_stock=in_stock,
            # Django's connection hands jsonb over as text (its JSONField parses it).
            thumbnail=_image_url(file, json.loads(thumbnails) if isinstance(thumbnails, str) else thumbnails),
        )
        for pid, sku, title, brand, category, price, currency, in_stock, file, thumbnails in rows
    }


@dataclass(frozen=True)
class ResultPage:
    """A ranked page as served: each result with its summary (products deleted since ranking dropped)."""

    results: list[tuple[Scored, ProductSummary]]
    has_more: bool
    diagnostics: dict[str, Any]

    @property
    def product_ids(self) -> list[int]:
        return [item.product_id for item, _ in self.results]

    @property
    def strategy(self) -> str:
        return str(self.diagnostics.get("strategy", ""))


def result_page(ranking: Ranking) -> ResultPage:
    summaries = product_summaries([item.product_id for item in ranking.items])
    # A product deleted between ranking and this read simply drops out.
    results = [(item, summaries[item.product_id]) for item in ranking.items if item.product_id in summaries]
    return ResultPage(results=results, has_more=ranking.has_more, diagnostics=dict(ranking.diagnostics))
