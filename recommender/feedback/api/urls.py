"""Feedback routes, included by config/api_urls.py under /api/v1/."""

from __future__ import annotations

from django.urls import path

from recommender.feedback.api.views import EventsApi

urlpatterns = [
    path("events/", EventsApi.as_view(), name="events"),
]
