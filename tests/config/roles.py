"""The project's roles (config/roles.py) as test users, shared by the contract, authorization and hostile-input tests.

One user per role, made on demand: the groups come from get_or_create because a
transaction=True test's flush drops the rows the migrations made.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from config.roles import MERCHANDISERS, STOREFRONTS
from tests.catalog.factories import store_admins

ANONYMOUS = "anonymous"
USER = "user"  # signed in, in no group: a shopper with an account
STOREFRONT = "storefront"  # a storefront frontend's token (group storefronts)
MERCHANDISER = "merchandiser"  # group merchandisers, not staff
STAFF = "staff"  # is_staff, no permission, no group
STORE_ADMIN = "store_admin"  # group store-admins (the catalogue's model permissions), not staff
ROLES = (ANONYMOUS, USER, STOREFRONT, MERCHANDISER, STAFF, STORE_ADMIN)


def role_user(role: str, *, prefix: str = "role") -> User | None:
    """The user playing `role` (None for anonymous)."""
    if role == ANONYMOUS:
        return None
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user = User.objects.create_user(
        username=f"{prefix}-{role}", password="a-long-test-password", is_staff=role == STAFF
    )
    if role == STOREFRONT:
        user.groups.add(Group.objects.get_or_create(name=STOREFRONTS)[0])
    elif role == MERCHANDISER:
        user.groups.add(Group.objects.get_or_create(name=MERCHANDISERS)[0])
    elif role == STORE_ADMIN:
        user.groups.add(store_admins())
    return user


def token_header(user: User | None) -> dict[str, str]:
    """The Authorization header of `user`'s API token ({} for anonymous)."""
    if user is None:
        return {}
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
