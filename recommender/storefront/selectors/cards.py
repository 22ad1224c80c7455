"""Reads for the pages: product cards with their thumbnails, categories, product detail.

Cards carry thumbnail URLs only: thumbnails are rendered once at upload
(ProductImage.thumbnails), so the grid never makes the browser scale full photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from catalog.models import Category, Product, ProductImage

GRID_PAGE_SIZE = 48
SMALL = "160"
LARGE = "480"


@dataclass(frozen=True)
class Card:
    id: int
    title: str
    price: Decimal
    currency: str
    category: str
    thumb: str | None  # 160 px thumbnail URL
    thumb_large: str | None  # 480 px thumbnail URL


@dataclass(frozen=True)
class Photo:
    id: int
    full: str
    large: str
    small: str
    width: int
    height: int


def thumbnail_url(thumbnails: dict[str, str] | None, file_name: str | None, size: str) -> str | None:
    """The pre-rendered thumbnail of `size`; the original only for photos whose thumbnails are missing."""
    if thumbnails and thumbnails.get(size):
        return default_storage.url(thumbnails[size])
    return default_storage.url(file_name) if file_name else None


def _primary_image(field: str) -> Subquery:
    # The primary photo is the one with the lowest position (ties broken by id).
    images = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    return Subquery(images.values(field)[:1])


def _card(row: Any) -> Card:
    return Card(
        id=row.pk,
        title=row.title,
        price=row.price,
        currency=row.currency,
        category=row.category_name or "",
        thumb=thumbnail_url(row.primary_thumbnails, row.primary_file, SMALL),
        thumb_large=thumbnail_url(row.primary_thumbnails, row.primary_file, LARGE),
    )


def _card_queryset() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).annotate(
        category_name=F("category__name"),
        primary_thumbnails=_primary_image("thumbnails"),
        primary_file=_primary_image("file"),
    )


@dataclass(frozen=True)
class GridPage:
    cards: list[Card]
    number: int
    num_pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


def catalog_page(*, category_slug: str | None, page_number: int | str | None) -> GridPage:
    """One page of the storefront grid, newest first (an out-of-range page number gives the last page)."""
    queryset = _card_queryset().only("id", "title", "price", "currency")
    if category_slug:
        queryset = queryset.filter(category__slug=category_slug)
    paginator: Paginator[Product] = Paginator(queryset, GRID_PAGE_SIZE)
    page = paginator.get_page(page_number)
    return GridPage(
        cards=[_card(row) for row in page.object_list],
        number=page.number,
        num_pages=paginator.num_pages,
        total=paginator.count,
    )


def cards_by_id(product_ids: list[int]) -> list[Card]:
    """Cards for the given products, in the given order (missing or inactive ones left out)."""
    rows = {row.pk: _card(row) for row in _card_queryset().filter(pk__in=product_ids)}
    return [rows[pk] for pk in product_ids if pk in rows]


def category_product_ids(slug: str, *, limit: int) -> list[int]:
    """The newest active products of a category (the matrix's "a category" selection)."""
    rows = Product.objects.filter(category__slug=slug, is_active=True).values_list("pk", flat=True)
    return list(rows[:limit])


def categories_with_counts() -> list[dict[str, Any]]:
    rows = Category.objects.annotate(active=Count("products", filter=Q(products__is_active=True))).filter(active__gt=0)
    return [{"slug": row.slug, "name": row.name, "count": row.active} for row in rows.order_by("name")]


def product_for_page(product_id: int) -> Product | None:
    images = Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    return Product.objects.select_related("category").prefetch_related(images).filter(pk=product_id).first()


def product_photos(product: Product) -> list[Photo]:
    photos = []
    for image in product.images.all():
        full = image.file.url if image.file else ""
        photos.append(
            Photo(
                id=image.pk,
                full=full,
                large=thumbnail_url(image.thumbnails, image.file.name, LARGE) or full,
                small=thumbnail_url(image.thumbnails, image.file.name, SMALL) or full,
                width=image.width,
                height=image.height,
            )
        )
    return photos


def map_thumbnails(product_ids: list[int]) -> dict[int, dict[str, str]]:
    """Small thumbnail URL and title per product, for the points the catalog map shows as pictures."""
    rows: Any = _card_queryset().filter(pk__in=product_ids).only("id", "title").order_by()
    return {
        row.pk: {"url": thumbnail_url(row.primary_thumbnails, row.primary_file, SMALL) or "", "title": row.title}
        for row in rows
    }
