"""Product summaries for result lists: one query whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import OuterRef, Subquery

from catalog.models import Product, ProductImage
from recommender.storefront.selectors.ranking import Ranking
from recommender.storefront.selectors.scoring import Scored

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
    # The primary photo (lowest position) rides along as two correlated subqueries: one round trip.
    primary = ProductImage.objects.filter(product_id=OuterRef("pk")).order_by("position", "id")
    products = (
        Product.objects.filter(id__in=product_ids)
        .select_related("category")
        .annotate(
            primary_file=Subquery(primary.values("file")[:1]),
            primary_thumbnails=Subquery(primary.values("thumbnails")[:1]),
        )
    )
    return {
        product.id: ProductSummary(
            id=product.id,
            sku=product.sku,
            title=product.title,
            brand=product.brand,
            category=product.category.slug if product.category else None,
            price=product.price,
            currency=product.currency,
            in_stock=product.stock > 0,
            thumbnail=_image_url(product.primary_file, product.primary_thumbnails),
        )
        for product in products
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
