"""Writes to the catalog: products and their photos. Views, admin, commands and tasks call these."""

from __future__ import annotations

from catalog.services.files import StorageUnavailable
from catalog.services.images import (
    ImageAdded,
    product_image_add,
    product_image_delete,
    product_images_request_embedding,
)
from catalog.services.products import (
    category_get_or_create,
    product_create,
    product_delete,
    product_texts_mark_all_dirty,
    product_texts_mark_dirty,
    product_update,
)

__all__ = [
    "ImageAdded",
    "StorageUnavailable",
    "category_get_or_create",
    "product_create",
    "product_delete",
    "product_image_add",
    "product_image_delete",
    "product_images_request_embedding",
    "product_texts_mark_all_dirty",
    "product_texts_mark_dirty",
    "product_update",
]
