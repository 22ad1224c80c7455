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

        from django.conf import settings

        from config.logs import celery_logging_connect
        from config.metrics import worker

        # Both act only inside a Celery worker: its metrics endpoint, and JSON logs when LOG_FORMAT=json.
        worker.connect()
        celery_logging_connect(log_format=settings.LOG_FORMAT)
