"""Versioned API routes: each app contributes its own list."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path

from config.errors import api_not_found

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("catalog.api.urls")),
    path("", include("recommender.storefront.api.urls")),
    path("", include("recommender.duplicates.api.urls")),
    path("", include("recommender.feedback.api.urls")),
    # Last: anything else under /api/v1/ (an unknown path, an id that is no id) is a 404 in the envelope.
    re_path(r"^", api_not_found),
]
