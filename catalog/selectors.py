"""Catalog reads."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from catalog.models import Product, ProductImage


def product_get_with_images(product_id: int) -> Product:
    """One product with its category and photos in display order (3 queries), or Http404."""
    query = Product.objects.select_related("category").prefetch_related(
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "id"))
    )
    return get_object_or_404(query, pk=product_id)


def product_get(product_id: int) -> Product:
    return get_object_or_404(Product, pk=product_id)


def product_image_get(*, product_id: int, image_id: int) -> ProductImage:
    return get_object_or_404(ProductImage, pk=image_id, product_id=product_id)


def product_image_sources_done(product_id: int) -> set[str]:
    """Sources (paths/URLs) an import already turned into photos of this product."""
    return set(ProductImage.objects.filter(product_id=product_id).exclude(source="").values_list("source", flat=True))
