"""The roles, defined once: every app, and the migration that creates the groups, imports these names.

| role | how | can |
|---|---|---|
| shopper | anonymous | read the storefront API and pages, throttled per address |
| storefront frontend | a token of a user in STOREFRONTS | read at the storefront rate |
| merchandiser | staff, or a user in MERCHANDISERS | review duplicates, open the staff pages |
| store admin | staff (is_staff) | write the catalogue |
"""

from __future__ import annotations

from typing import Any

MERCHANDISERS = "merchandisers"
STOREFRONTS = "storefronts"
ROLE_GROUPS = (MERCHANDISERS, STOREFRONTS)


def _in_group(user: Any, name: str) -> bool:
    return bool(user.groups.filter(name=name).exists())


def is_merchandiser(user: Any) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff) or _in_group(user, MERCHANDISERS)


def is_storefront(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active) and _in_group(user, STOREFRONTS)


def is_store_admin(user: Any) -> bool:
    """The staff rule: who may write the catalogue."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)
