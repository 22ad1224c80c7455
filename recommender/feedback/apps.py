from __future__ import annotations

from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "recommender.feedback"
    label = "feedback"
    default_auto_field = "django.db.models.BigAutoField"
