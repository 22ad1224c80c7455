"""Duplicate-review routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.duplicates.api.views import (
    DuplicateGroupView,
    DuplicateQueueView,
    DuplicateResolveView,
    DuplicateRestoreView,
)

urlpatterns = [
    path("duplicates/", DuplicateQueueView.as_view(), name="duplicates-list"),
    path("duplicates/<int:group_id>/", DuplicateGroupView.as_view(), name="duplicates-detail"),
    path("duplicates/<int:group_id>/resolve/", DuplicateResolveView.as_view(), name="duplicates-resolve"),
    path("duplicates/<int:group_id>/restore/", DuplicateRestoreView.as_view(), name="duplicates-restore"),
]
