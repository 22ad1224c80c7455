"""Storefront routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.storefront.api.views.recommendations import RecommendationsApi
from recommender.storefront.api.views.search import SearchApi
from recommender.storefront.api.views.search_image import ImageSearchApi
from recommender.storefront.api.views.similar import SimilarProductsApi

urlpatterns = [
    path("products/<id:product_id>/similar/", SimilarProductsApi.as_view(), name="products-similar"),
    path("search/", SearchApi.as_view(), name="search"),
    path("search/image/", ImageSearchApi.as_view(), name="search-image"),
    path("recommendations/", RecommendationsApi.as_view(), name="recommendations"),
]
