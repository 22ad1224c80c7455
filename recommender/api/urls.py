"""Storefront routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.api.views.recommendations import RecommendationsView
from recommender.api.views.search import SearchView
from recommender.api.views.search_image import ImageSearchView
from recommender.api.views.similar import SimilarProductsView

urlpatterns = [
    path("products/<int:product_id>/similar/", SimilarProductsView.as_view(), name="products-similar"),
    path("search/", SearchView.as_view(), name="search"),
    path("search/image/", ImageSearchView.as_view(), name="search-image"),
    path("recommendations/", RecommendationsView.as_view(), name="recommendations"),
]
