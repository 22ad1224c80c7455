"""Template helpers for the pages (the header shows staff links to merchandisers)."""

from __future__ import annotations

from typing import Any

from django import template

from config.roles import is_merchandiser as _is_merchandiser

register = template.Library()


@register.filter
def is_merchandiser(user: Any) -> bool:
    return _is_merchandiser(user)
