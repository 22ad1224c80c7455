from __future__ import annotations

from django.apps import AppConfig


class FanOutConfig(AppConfig):
    name = "config.fanout"
    # The tables and migrations keep the label "fanout" (fanout_fanout, fanout_shard).
    label = "fanout"
    default_auto_field = "django.db.models.BigAutoField"
