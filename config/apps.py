from __future__ import annotations

from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project itself as an app: home of the commands that belong to no one app (worker, demo)."""

    name = "config"
