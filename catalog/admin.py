"""Admin for store staff: products with their photos and embedding status.

Image uploads through the admin go through catalog.services (validation,
de-duplication by bytes, enqueueing) — see ProductImageInline.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from catalog.models import Category, Product, ProductImage


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}


def thumbnail_html(image: ProductImage, size: int = 80) -> str:
    if not image.file:
        return "-"
    relative = image.thumbnails.get("160") if image.thumbnails else None
    url = f"/media/{relative}" if relative else image.file.url
    return format_html(
        '<img src="{}" alt="photo {}" style="max-height:{}px;max-width:{}px">', url, image.pk, size, size
    )


class ProductImageInline(admin.TabularInline[ProductImage, Product]):
    model = ProductImage
    extra = 0
    fields = ["preview", "position", "embedding_status", "embedding_error", "embedded_at", "width", "height"]
    readonly_fields = ["preview", "embedding_status", "embedding_error", "embedded_at", "width", "height"]

    @admin.display(description="photo")
    def preview(self, image: ProductImage) -> str:
        return thumbnail_html(image)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ["sku", "title", "brand", "category", "price", "currency", "stock", "is_active", "created_at"]
    list_filter = ["is_active", "category", "brand", "images__embedding_status"]
    search_fields = ["sku", "title", "brand", "product_group"]
    list_select_related = ["category"]
    inlines = [ProductImageInline]


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin[ProductImage]):
    list_display = ["id", "preview", "product", "embedding_status", "embedding_error", "embedded_at"]
    list_filter = ["embedding_status"]
    search_fields = ["product__sku", "product__title", "sha256"]
    list_select_related = ["product"]
    readonly_fields = [f.name for f in ProductImage._meta.fields]

    @admin.display(description="photo")
    def preview(self, image: ProductImage) -> str:
        return thumbnail_html(image, 60)
