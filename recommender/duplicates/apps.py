from __future__ import annotations

from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    name = "recommender.duplicates"
    label = "duplicates"
    default_auto_field = "django.db.models.BigAutoField"
