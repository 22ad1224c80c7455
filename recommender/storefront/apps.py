from __future__ import annotations

from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    name = "recommender.storefront"
    label = "storefront"
    default_auto_field = "django.db.models.BigAutoField"
