"""Storefront routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.api.views.similar import SimilarProductsView

urlpatterns = [
    path("products/<int:product_id>/similar/", SimilarProductsView.as_view(), name="products-similar"),
]
