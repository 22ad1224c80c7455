"""/api/v1/products/...: the catalog write API (staff)."""

from __future__ import annotations

from django.urls import path

from catalog.api.views import ProductCreateApi, ProductDetailApi, ProductImageCreateApi, ProductImageDeleteApi

urlpatterns = [
    path("products/", ProductCreateApi.as_view(), name="product-create"),
    path("products/<id:product_id>/", ProductDetailApi.as_view(), name="product-detail"),
    path("products/<id:product_id>/images/", ProductImageCreateApi.as_view(), name="product-image-create"),
    path(
        "products/<id:product_id>/images/<id:image_id>/",
        ProductImageDeleteApi.as_view(),
        name="product-image-delete",
    ),
]
