"""Duplicate-review routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.duplicates.api.views import (
    DuplicateGroupApi,
    DuplicateQueueApi,
    DuplicateResolveApi,
    DuplicateRestoreApi,
)

urlpatterns = [
    path("duplicates/", DuplicateQueueApi.as_view(), name="duplicates-list"),
    path("duplicates/<id:group_id>/", DuplicateGroupApi.as_view(), name="duplicates-detail"),
    path("duplicates/<id:group_id>/resolve/", DuplicateResolveApi.as_view(), name="duplicates-resolve"),
    path("duplicates/<id:group_id>/restore/", DuplicateRestoreApi.as_view(), name="duplicates-restore"),
]
