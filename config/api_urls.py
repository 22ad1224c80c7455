"""Versioned API routes: each app contributes its own list."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("catalog.api.urls")),
    path("", include("recommender.storefront.api.urls")),
    path("", include("recommender.duplicates.api.urls")),
]
