"""The roles, defined once: every app, and the migrations that create the groups, import these names.

- shopper: anonymous; reads the storefront API and pages, throttled per address;
- storefront frontend: a token of a user in STOREFRONTS; reads at the storefront rate;
- merchandiser: staff, or a user in MERCHANDISERS; reviews duplicates and opens the staff
  pages (signing in at /staff/login/: the admin's sign-in admits staff only);
- store admin: a user with the catalogue's model permissions (the STORE_ADMINS group has
  them all); writes the catalogue.

One rule per role, used by the API, the admin and the pages alike: staff status
alone writes nothing (Django's admin asks for the same model permissions).
"""

from __future__ import annotations

from typing import Any

MERCHANDISERS = "merchandisers"
STOREFRONTS = "storefronts"
STORE_ADMINS = "store-admins"
ROLE_GROUPS = (MERCHANDISERS, STOREFRONTS)
# What the store admins' group may do: every model permission of the catalogue app.
CATALOG_MODELS = ("product", "productimage", "category")
CATALOG_ACTIONS = ("view", "add", "change", "delete")


def _in_group(user: Any, name: str) -> bool:
    return bool(user.groups.filter(name=name).exists())


def _signed_in(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_merchandiser(user: Any) -> bool:
    if not _signed_in(user):
        return False
    return bool(user.is_staff) or _in_group(user, MERCHANDISERS)


def is_storefront(user: Any) -> bool:
    return _signed_in(user) and _in_group(user, STOREFRONTS)


def may_edit_catalog(user: Any, action: str, model: str) -> bool:
    """The catalogue rule: the model permission `catalog.<action>_<model>` (superusers have them all)."""
    if action not in CATALOG_ACTIONS or model not in CATALOG_MODELS:
        raise ValueError(f"no catalogue permission {action}_{model}")
    return _signed_in(user) and bool(user.has_perm(f"catalog.{action}_{model}"))
