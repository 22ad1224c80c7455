from __future__ import annotations

from catalog.models.images import EmbeddingStatus, ProductImage
from catalog.models.products import Category, Product

__all__ = ["Category", "EmbeddingStatus", "Product", "ProductImage"]
