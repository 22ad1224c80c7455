"""Admin for store staff: products with their photos and embedding status.

Image uploads through the admin go through catalog.services (validation,
de-duplication by bytes, enqueueing) — see ProductImageInline.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.imaging import ImageRejected, inspect_image
from catalog.models import Category, Product, ProductImage
from catalog.services import (
    StorageUnavailable,
    product_delete,
    product_image_add,
    product_image_delete,
    product_images_request_embedding,
    product_texts_mark_dirty,
)
from catalog.services.products import PRODUCT_FIELDS, product_words_changed


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]

    def save_model(self, request: HttpRequest, obj: Category, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # The category's name is part of its products' words (their semantic vectors).
        if change and "name" in form.changed_data:
            product_texts_mark_dirty(product_ids=list(obj.products.values_list("id", flat=True)))

    prepopulated_fields = {"slug": ("name",)}


def thumbnail_html(image: ProductImage, size: int = 80) -> str:
    if not image.file:
        return "-"
    relative = image.thumbnails.get("160") if image.thumbnails else None
    # The storage's URL, never a hand-built /media/ path: object storage serves from elsewhere.
    url = default_storage.url(relative) if relative else image.file.url
    return format_html(
        '<img src="{}" alt="photo {}" style="max-height:{}px;max-width:{}px">', url, image.pk, size, size
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos at once; each is validated like an API upload, so errors show on the form."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(widget=MultipleFileInput(attrs={"accept": "image/*"}), **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        problems = []
        for upload in files:
            try:
                inspect_image(upload.read(), max_bytes=settings.IMAGE_MAX_BYTES, max_pixels=settings.IMAGE_MAX_PIXELS)
            except ImageRejected as exc:
                problems.append(f"{upload.name}: {exc.message}")
            finally:
                upload.seek(0)
        if problems:
            raise forms.ValidationError(problems)
        return list(files)


class ProductAdminForm(forms.ModelForm[Product]):
    new_photos = MultipleImageField(
        required=False, help_text="Add photos (JPEG, PNG, WebP, GIF, AVIF, HEIC); they are embedded in seconds."
    )

    class Meta:
        model = Product
        fields = list(PRODUCT_FIELDS)


class ProductImageInline(admin.TabularInline[ProductImage, Product]):
    model = ProductImage
    extra = 0
    # New photos come in through ProductAdminForm.new_photos (the upload service), not as blank rows.
    max_num = 0
    fields = ["preview", "position", "embedding_status", "embedding_error", "embedded_at", "width", "height"]
    readonly_fields = ["preview", "embedding_status", "embedding_error", "embedded_at", "width", "height"]

    @admin.display(description="photo")
    def preview(self, image: ProductImage) -> str:
        return thumbnail_html(image)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    form = ProductAdminForm
    list_display = ["sku", "title", "brand", "category", "price", "currency", "stock", "is_active", "created_at"]
    list_filter = ["is_active", "category", "brand", "images__embedding_status"]
    search_fields = ["sku", "title", "brand", "product_group"]
    list_select_related = ["category"]
    inlines = [ProductImageInline]

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        # The form saves the row itself: new words still have to reach the semantic vector. Compared
        # with the stored row, not form.changed_data (which counts an unchanged "{}" as a change).
        words_changed = product_words_changed(obj)
        super().save_model(request, obj, form, change)
        if words_changed:
            product_texts_mark_dirty(product_ids=[obj.pk])

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for upload in form.cleaned_data.get("new_photos") or []:
            try:
                added = product_image_add(product=form.instance, data=upload.read())
            except StorageUnavailable as exc:
                self.message_user(request, f"{upload.name}: {exc.message}", messages.ERROR)
                continue
            if not added.created:
                self.message_user(request, f"{upload.name} is already a photo of this product.", messages.WARNING)

    # Deletes go through the service, single or bulk: photo files and thumbnails leave storage
    # once the delete commits, and rows are locked in the pipeline's order (photos, then product).
    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        product_delete(product=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        for product in queryset:
            product_delete(product=product)

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseInlineFormSet[Any, Any, Any], change: bool
    ) -> None:
        # Deleting a photo must recompute the product's vector: go through the service.
        instances = formset.save(commit=False)
        for image in formset.deleted_objects:
            product_image_delete(image=image)
        for image in instances:
            image.save(update_fields=["position", "updated_at"])


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin[ProductImage]):
    list_display = ["id", "preview", "product", "embedding_status", "embedding_error", "embedded_at"]
    list_filter = ["embedding_status"]
    search_fields = ["product__sku", "product__title", "sha256"]
    list_select_related = ["product"]
    readonly_fields = [f.name for f in ProductImage._meta.fields]
    actions = ["embed_again"]

    # Through the service: the product's vectors are recomputed, the files leave storage after commit.
    def delete_model(self, request: HttpRequest, obj: ProductImage) -> None:
        product_image_delete(image=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProductImage]) -> None:
        for image in queryset:
            product_image_delete(image=image)

    @admin.action(description="Embed the selected photos again")
    def embed_again(self, request: HttpRequest, queryset: QuerySet[ProductImage]) -> None:
        count = product_images_request_embedding(image_ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} photos queued for embedding.")

    @admin.display(description="photo")
    def preview(self, image: ProductImage) -> str:
        return thumbnail_html(image, 60)
