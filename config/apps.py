from __future__ import annotations

from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project itself as an app: home of the commands that belong to no one app (worker, demo)."""

    name = "config"

    def ready(self) -> None:
        from django.urls import register_converter

        from config.converters import IdConverter

        # <id:...> in every app's routes (registered before any URLconf is imported).
        register_converter(IdConverter, "id")
