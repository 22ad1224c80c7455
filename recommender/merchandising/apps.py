from __future__ import annotations

from django.apps import AppConfig


class MerchandisingConfig(AppConfig):
    name = "recommender.merchandising"
    label = "merchandising"
    default_auto_field = "django.db.models.BigAutoField"
