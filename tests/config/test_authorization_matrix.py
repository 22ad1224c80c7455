"""Who may do what, route by route: the URLconf walked, every method checked against one declared table.

Every route of config.urls (django.urls.get_resolver) with every HTTP method its view
allows is tried by every role (tests/config/roles.py). ACCESS below says, per route
and method, which roles are allowed; a route or a method without a rule fails the
test (`test_every_route_and_method_has_a_declared_rule`), so a new route cannot ship
without someone deciding who may use it.

- allowed: not 401/403, and for the staff pages not a redirect to /staff/login/
  (a 400 or a 404 is fine: the role got past the door);
- refused: 401 or 403, or for anonymous visitors of the staff pages a 302 to
  /staff/login/; and nothing changed: no product, photo, category,
  group or decision, and no catalogue-map build flagged.

Writes are sent with bodies that would succeed, so a refusal is a refusal and not a 400.
The view's allowed methods: a class-based view's handlers; for a function view, the
methods of its require_http_methods decorator, or every method when it has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver

from catalog.models import Category, Product, ProductImage
from embeddings.models import Space
from recommender.duplicates.models import DuplicateDecision, DuplicateGroup, DuplicateGroupMember
from recommender.merchandising.tasks import building_key
from tests.catalog import factories
from tests.config.roles import ANONYMOUS, MERCHANDISER, ROLES, STAFF, STORE_ADMIN, role_user, token_header

ANY = "*"  # every method the view allows
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # HEAD is GET's, answered by Django itself
EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()
MERCHANDISERS = frozenset({MERCHANDISER, STAFF})  # config.roles.is_merchandiser: staff, or the group
STORE_ADMINS = frozenset({STORE_ADMIN})  # the catalogue's model permissions; staff status alone is not enough

# Route name (namespace:name), or its pattern when it has none -> method (or ANY) -> roles allowed.
ACCESS: dict[str, dict[str, frozenset[str]]] = {
    "healthz": {ANY: EVERYONE},
    "readyz": {ANY: EVERYONE},
    # No role scrapes: the operator's METRICS_TOKEN bearer or METRICS_ALLOWED_NETWORKS (tests/config/test_metrics.py).
    "metrics": {ANY: NOBODY},
    "product-create": {"POST": STORE_ADMINS, "OPTIONS": STORE_ADMINS},
    "product-detail": {"GET": STORE_ADMINS, "PATCH": STORE_ADMINS, "DELETE": STORE_ADMINS, "OPTIONS": STORE_ADMINS},
    "product-image-create": {"POST": STORE_ADMINS, "OPTIONS": STORE_ADMINS},
    "product-image-delete": {"DELETE": STORE_ADMINS, "OPTIONS": STORE_ADMINS},
    "products-similar": {"GET": EVERYONE, "OPTIONS": EVERYONE},
    "search": {"GET": EVERYONE, "OPTIONS": EVERYONE},
    "search-image": {"POST": EVERYONE, "OPTIONS": EVERYONE},
    "recommendations": {"POST": EVERYONE, "OPTIONS": EVERYONE},
    "events": {"POST": EVERYONE, "OPTIONS": EVERYONE},
    "duplicates-list": {"GET": MERCHANDISERS, "OPTIONS": MERCHANDISERS},
    "duplicates-detail": {"GET": MERCHANDISERS, "OPTIONS": MERCHANDISERS},
    "duplicates-resolve": {"POST": MERCHANDISERS, "OPTIONS": MERCHANDISERS},
    "duplicates-restore": {"POST": MERCHANDISERS, "OPTIONS": MERCHANDISERS},
    "api/v1/^": {ANY: EVERYONE},  # no API route matched: a 404 in the envelope for everyone
    "merchandising:login": {ANY: EVERYONE},
    "merchandising:logout": {ANY: EVERYONE},
    "merchandising:duplicates": {ANY: MERCHANDISERS},
    "merchandising:matrix": {ANY: MERCHANDISERS},
    "merchandising:map": {ANY: MERCHANDISERS},
    "merchandising:map-build": {"POST": MERCHANDISERS},
    "merchandising:map-thumbnails": {"GET": MERCHANDISERS},
    "merchandising:map-points": {"GET": MERCHANDISERS},
    "merchandising:report": {"GET": MERCHANDISERS},
    "storefront:storefront": {ANY: EVERYONE},
    "storefront:product": {ANY: EVERYONE},
}
# Route patterns left out, and why.
EXCLUDED = {
    "admin/": "Django's admin: its own sign-in and the model permissions (tests/catalog/test_admin.py)",
    "api/schema/": "the OpenAPI document: public by design (tests/config/test_openapi_schema.py)",
    "api/docs/": "Swagger UI over that document: public by design",
    "^media/(?P<path>.*)$": "development-only file serving (SERVE_MEDIA); production serves MEDIA_ROOT elsewhere",
}
STAFF_PAGES = "staff/"


@dataclass(frozen=True)
class Route:
    key: str  # ACCESS's key
    pattern: str
    callback: Any

    def methods(self) -> list[str]:
        view_class = getattr(self.callback, "view_class", None)
        if view_class is not None:
            return [method for method in METHODS if hasattr(view_class, method.lower())]
        declared = _decorated_methods(self.callback)
        return [method for method in METHODS if declared is None or method in declared]


def _decorated_methods(view: Any) -> list[str] | None:
    """The methods of Django's require_http_methods around `view` (None when it has no such decorator)."""
    code, cells = getattr(view, "__code__", None), getattr(view, "__closure__", None) or ()
    if code is None or "request_method_list" not in code.co_freevars:
        return None
    return list(cells[code.co_freevars.index("request_method_list")].cell_contents)


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        pattern = prefix + str(entry.pattern)
        if pattern in EXCLUDED:
            continue
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _walk(entry.url_patterns, pattern, inner)
        elif isinstance(entry, URLPattern):
            key = ":".join(part for part in (namespace, entry.name) if part) if entry.name else pattern
            yield Route(key=key, pattern=pattern, callback=entry.callback)


ROUTES = list(_walk(get_resolver().url_patterns))
CASES = [(route, method) for route in ROUTES for method in route.methods()]


def test_every_route_and_method_has_a_declared_rule() -> None:
    undeclared = [f"{route.key} {method}" for route, method in CASES if _rule(route.key, method) is None]
    stale = sorted(set(ACCESS) - {route.key for route in ROUTES})
    assert not undeclared, f"routes without a declared rule in ACCESS: {undeclared}"
    assert not stale, f"rules in ACCESS for routes that no longer exist: {stale}"


def _rule(key: str, method: str) -> frozenset[str] | None:
    rules = ACCESS.get(key, {})
    return rules.get(method, rules.get(ANY))


@pytest.fixture(autouse=True)
def matrix_settings(settings: Any, media_root: Path) -> None:
    # A user in each of 500 tests: PBKDF2's deliberate slowness would be most of the run.
    # The session's private MEDIA_ROOT: an allowed upload stores its photo.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # /metrics is off (a 404 for everyone) until an operator names its scraper: name one no role is.
    settings.METRICS_TOKEN = "the-operator-s-scraper"


@dataclass
class Shop:
    product: Product
    image: ProductImage
    group: DuplicateGroup


@pytest.fixture
def shop(db: None) -> Shop:
    category = Category.objects.create(slug="shirts", name="Shirts")
    product, other = factories.product("AUTH-1", category=category), factories.product("AUTH-2", category=category)
    image = ProductImage.objects.create(product=product, file="products/auth-1.jpg", sha256="a" * 64, width=8, height=8)
    group = DuplicateGroup.objects.create(tier="near_duplicate", representative=product, category=category, score=0.9)
    for member, similarity in ((product, 1.0), (other, 0.9)):
        DuplicateGroupMember.objects.create(
            group=group,
            product=member,
            is_representative=member == product,
            tier="near_duplicate",
            similarity=similarity,
        )
    cache.clear()  # throttle counters and sign-in failures (django-axes) of earlier tests
    return Shop(product=product, image=image, group=group)


def _path(route: Route, shop: Shop) -> str:
    values = {
        "product_id": shop.product.pk,
        "image_id": shop.image.pk,
        "group_id": shop.group.pk,
        "space": Space.VISUAL.value,
    }
    path = "/" + route.pattern
    if path == "/api/v1/^":
        return "/api/v1/no-such-endpoint/"
    for name, value in values.items():
        path = path.replace(f"<id:{name}>", str(value)).replace(f"<str:{name}>", str(value))
    assert "<" not in path, f"no value for a parameter of {route.pattern}"
    return path


def _body(route: Route, method: str, shop: Shop, username: str) -> tuple[str, bytes | str]:
    """A body that would be accepted: a refusal must be the door, not a 400."""
    json_bodies: dict[str, Any] = {
        "product-create": {"sku": "NEW-1", "title": "New", "price": "5.00"},
        "product-detail": {"stock": 99},
        "duplicates-resolve": {"decision": "not_duplicate"},
        "recommendations": {"liked": [shop.product.pk]},
        "search-image": {"image_url": "http://127.0.0.1:9/photo.jpg"},
        "events": {"events": [{"type": "view", "product_id": shop.product.pk, "client_id": "matrix"}]},
    }
    if route.key == "product-image-create":
        return MULTIPART_CONTENT, encode_multipart("BoUnDaRy", {"image": _upload()}).decode("latin-1")
    if route.key in json_bodies and method in ("POST", "PUT", "PATCH"):
        return "application/json", json.dumps(json_bodies[route.key])
    form = {
        "merchandising:map-build": f"space={Space.VISUAL.value}",
        "merchandising:login": f"username={username}&password=a-long-test-password",
    }
    return "application/x-www-form-urlencoded", form.get(route.key, "")


def _upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", factories.jpeg(3), content_type="image/jpeg")


def _state() -> dict[str, Any]:
    """Everything a write could change, to compare before and after a refused request."""
    return {
        "products": list(Product.objects.order_by("pk").values_list("pk", "updated_at", "is_active", "stock")),
        "images": list(ProductImage.objects.order_by("pk").values_list("pk", "product_id")),
        "categories": list(Category.objects.order_by("pk").values_list("pk", flat=True)),
        "groups": list(DuplicateGroup.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        "decisions": DuplicateDecision.objects.count(),
        "map builds": [bool(cache.get(building_key(space))) for space in Space.values],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{route.key} {method}" for route, method in CASES])
def test_each_role_gets_exactly_what_the_table_allows(route: Route, method: str, role: str, shop: Shop) -> None:
    allowed = _rule(route.key, method)
    assert allowed is not None, f"{route.key} {method} has no rule (see the test above)"
    user = role_user(role, prefix="matrix")
    client = Client(headers=token_header(user))
    if user is not None:
        client.force_login(user)
    path = _path(route, shop)
    content_type, body = _body(route, method, shop, user.get_username() if user is not None else "nobody")
    before = _state()

    response = client.generic(method, path, body, content_type=content_type)

    login_redirect = response.status_code == 302 and response["Location"].startswith("/staff/login/")
    answer = f"{method} {path} as {role}: {response.status_code} {response.content[:200]!r}"
    if role in allowed:
        assert response.status_code not in (401, 403) and not login_redirect, answer
        return
    if route.pattern.startswith(STAFF_PAGES) and role == ANONYMOUS:
        assert login_redirect, answer
    else:
        assert response.status_code in (401, 403), answer
    assert _state() == before, f"a refused request changed something: {answer}"


def test_the_table_keeps_the_catalogue_from_staff_status_alone() -> None:
    # A guard on the table itself: staff without permissions may review duplicates, never write the catalogue.
    for key in ("product-create", "product-detail", "product-image-create", "product-image-delete"):
        assert all(STAFF not in roles for roles in ACCESS[key].values()), key
