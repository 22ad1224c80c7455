"""Product summaries for result lists: two queries whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.storage import default_storage

from catalog.models import Product, ProductImage

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


def _image_url(image: ProductImage) -> str:
    thumbnails = image.thumbnails if isinstance(image.thumbnails, dict) else {}
    for size in THUMBNAIL_SIZES:
        if thumbnails.get(size):
            return default_storage.url(thumbnails[size])
    return image.file.url


def product_summaries(product_ids: Sequence[int]) -> dict[int, ProductSummary]:
    products = Product.objects.filter(id__in=product_ids).select_related("category")
    # DISTINCT ON keeps the primary photo (lowest position) of each product, in one query.
    images = (
        ProductImage.objects.filter(product_id__in=product_ids)
        .order_by("product_id", "position", "id")
        .distinct("product_id")
        .only("id", "product_id", "file", "thumbnails")
    )
    thumbnails = {image.product_id: _image_url(image) for image in images}
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
            thumbnail=thumbnails.get(product.id),
        )
        for product in products
    }
