"""The OpenAPI document as a contract: schemathesis drives every operation of /api/schema/, once per role.

A live server (pytest-django's LiveServer, in a thread of this process, on the test
database) answers; schemathesis generates valid and invalid requests from the
document the server itself publishes and checks every answer: no 5xx, only status
codes the operation documents, bodies and headers matching the schema, and every 4xx
body in the project's error envelope (config/errors.py).

The live server is started here rather than through the `live_server` fixture (as in
tests/recommender/browser/conftest.py): that fixture makes every test transactional.
Nothing here runs inside a test transaction: the server is another thread with its
own connection, so what it must see is committed, and flushed once at the end.
Each role starts from the same planted shop (products with photos and vectors of the
tiny test encoders, categories, duplicate groups), so a store admin's deletes or a
merchandiser's decisions do not change what the next role finds.

The document declares no OpenAPI links; schemathesis infers them from the shapes
(a created product's id feeds its GET, PATCH, photo upload and DELETE; a group's id its
resolve and restore), and the stateful test follows them as a store admin and as a
merchandiser, the roles those chains are for.

Deterministic: a fixed seed, derandomized generation, no example database, a bounded
number of examples: about two minutes on 2 cores.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
import pytest
import schemathesis
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from hypothesis import strategies as st
from pytest_django.live_server_helper import LiveServer
from schemathesis.checks import CheckContext
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Category, Product
from catalog.services import product_image_add
from embeddings.encoders import get_encoder
from embeddings.encoders.testing import TINY_DINOV2, TINY_SIGLIP, build_tiny_models
from embeddings.models import ProductVector, Space
from embeddings.services import space_encoder_register
from recommender.duplicates.decisions import duplicate_group_resolve
from recommender.duplicates.models import DuplicateGroup, DuplicateGroupMember
from tests.catalog import factories
from tests.config.roles import ANONYMOUS, MERCHANDISER, STORE_ADMIN, STOREFRONT, USER, role_user, token_header

SEED = 20261201
# Generated examples per operation and role (the coverage and examples phases add their own, bounded).
MAX_EXAMPLES = 12
# Stateful scenarios per role, and calls per scenario.
SCENARIOS, STEPS = 10, 6
CONTRACT_ROLES = (ANONYMOUS, USER, STOREFRONT, MERCHANDISER, STORE_ADMIN)
PRODUCTS = 8
CONFIG = {
    "seed": SEED,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "generation": {
        "deterministic": True,
        "max-examples": MAX_EXAMPLES,
        "database": "none",
        # The role supplies the credentials; generated Authorization headers would make every request a 401.
        "with-security-parameters": False,
    },
    "phases": {"stateful": {"enabled": False}},
    "request-timeout": 30,
}
# Rates no run reaches: 429 stays documented (tests/recommender/storefront/test_access.py proves it), but a
# throttled answer would hide what the request itself does.
UNTHROTTLED = {"anon": "1000000/min", "user": "1000000/min", "storefront": "1000000/min"}


@dataclass
class Shop:
    """What the server has for the current role: ids that path parameters are drawn from."""

    products: list[int] = field(default_factory=list)
    disposable: list[int] = field(default_factory=list)  # deleted by the store admin's DELETE cases
    images: list[tuple[int, int]] = field(default_factory=list)  # (product, photo) of disposable products
    groups: list[int] = field(default_factory=list)


@dataclass
class LiveApi:
    url: str
    headers: dict[str, dict[str, str]]
    shop: Shop


def _vector(rng: np.random.Generator, dim: int) -> list[float]:
    values = rng.normal(size=dim)
    return (values / np.linalg.norm(values)).tolist()


def _plant_shop(shop: Shop, encoders: dict[str, tuple[str, int]]) -> None:
    """Empty the catalogue and plant it again: the same shop for every role (ids differ, not the shape)."""
    DuplicateGroup.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.all().delete()
    categories = [Category.objects.create(slug=slug, name=slug.title()) for slug in ("dresses", "shirts")]
    rng = np.random.default_rng(SEED)
    products = []
    for number in range(PRODUCTS):
        product = factories.product(
            f"LIVE-{number}",
            title=f"{'Red summer dress' if number % 2 else 'Linen shirt'} {number}",
            brand="Northwind" if number % 3 else "Sunny",
            category=categories[number % 2],
            price=Decimal(10 + 5 * number),
            stock=number % 4,
            attributes={"color": "red" if number % 2 else "white"},
            product_group="" if number < 6 else "VARIANTS",
        )
        product_image_add(product=product, data=factories.jpeg(number), enqueue=False)
        ProductVector.objects.bulk_create(
            ProductVector(product=product, space=space, encoder=identity, embedding=_vector(rng, dim))
            for space, (identity, dim) in encoders.items()
        )
        products.append(product)
    disposable = [factories.product(f"GONE-{number}") for number in range(3)]
    photos = [
        product_image_add(product=product, data=factories.jpeg(100 + n), enqueue=False)
        for n, product in enumerate(disposable)
    ]
    groups = [_plant_group(products[0], products[2]), _plant_group(products[4], products[5])]
    # One group already decided "duplicate", so restore has something to undo.
    duplicate_group_resolve(group_id=groups[1], decision="duplicate", keep_product_id=products[4].pk, actor=None)
    shop.products = [product.pk for product in products]
    shop.disposable = [product.pk for product in disposable]
    shop.images = [(added.image.product_id, added.image.pk) for added in photos]
    shop.groups = groups


def _plant_group(representative: Product, other: Product) -> int:
    group = DuplicateGroup.objects.create(
        tier="near_duplicate", representative=representative, category=representative.category, score=0.93
    )
    for product, similarity in ((representative, 1.0), (other, 0.93)):
        image = product.images.first()
        DuplicateGroupMember.objects.create(
            group=group,
            product=product,
            is_representative=product == representative,
            image=image,
            representative_image=representative.images.first(),
            tier="near_duplicate",
            similarity=similarity,
        )
    return group.pk


@pytest.fixture(scope="module")
def tiny_encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, int]]:
    """The tiny random DINOv2 and SigLIP (embeddings/encoders/testing.py): real text and image towers, no download."""
    build_tiny_models(Path(tmp_path_factory.mktemp("tiny-models")))
    visual, semantic = get_encoder(TINY_DINOV2), get_encoder(TINY_SIGLIP)
    return {Space.VISUAL: (visual.identity, visual.dim), Space.SEMANTIC: (semantic.identity, semantic.dim)}


@pytest.fixture(scope="module")
def live_api(
    django_db_setup: None, django_db_blocker: Any, media_root: Path, tiny_encoders: dict[str, tuple[str, int]]
) -> Iterator[LiveApi]:
    # Everything here is committed, and flushed at the end: it must be the test database, which pytest-django
    # creates only when a collected test is marked django_db (as the tests below are), else this is the real one.
    name = connection.settings_dict["NAME"]
    assert name == connection.settings_dict["TEST"].get("NAME") or name.startswith("test_"), (
        f"not a test database: {name}"
    )
    rates = {"DEFAULT_THROTTLE_RATES": UNTHROTTLED}
    with django_db_blocker.unblock():
        from django.conf import settings

        overrides = override_settings(
            REST_FRAMEWORK={**settings.REST_FRAMEWORK, **rates},
            EMBEDDINGS_VISUAL_ENCODER=TINY_DINOV2,
            EMBEDDINGS_SEMANTIC_ENCODER=TINY_SIGLIP,
            # Generated image URLs name hosts that may exist: no fetch may take long.
            FETCH_TIMEOUT_SECONDS=1.0,
        )
        overrides.enable()
        server = LiveServer("127.0.0.1")
        server._live_server_modified_settings.enable()
        try:
            for space, (identity, dim) in tiny_encoders.items():
                space_encoder_register(space=space, identity=identity, dim=dim)
            headers = {role: token_header(role_user(role, prefix="contract")) for role in CONTRACT_ROLES}
            yield LiveApi(url=server.url, headers=headers, shop=SHOP)
        finally:
            server.stop()
            server._live_server_modified_settings.disable()
            overrides.disable()
            cache.clear()
            # The shop was committed (the server is another thread, with its own connection).
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module", params=CONTRACT_ROLES)
def role(request: pytest.FixtureRequest) -> str:
    # Module-scoped, so pytest runs every operation for one role before the next role's shop is planted.
    return str(request.param)


@pytest.fixture(scope="module")
def shop(live_api: LiveApi, role: str, tiny_encoders: dict[str, tuple[str, int]]) -> Shop:
    _plant_shop(live_api.shop, tiny_encoders)
    cache.clear()  # throttle counters and the previous shop's cold-start clusters
    return live_api.shop


def _known_ids(shop: Shop, method: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Path parameters naming things that exist (generated ids almost never do)."""
    if "image_id" in parameters:
        return [{**parameters, "product_id": str(p), "image_id": str(i)} for p, i in shop.images]
    if "product_id" in parameters:
        ids = shop.disposable if method == "DELETE" else shop.products
        return [{**parameters, "product_id": str(pk)} for pk in ids]
    if "group_id" in parameters:
        return [{**parameters, "group_id": str(pk)} for pk in shop.groups]
    return []


def _served_document() -> dict[str, Any]:
    """The OpenAPI document as /api/schema/ serves it (no database needed to render it)."""
    response = Client(SERVER_NAME="127.0.0.1").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return dict(response.json())


# Who uses each part of the API (the operations' tags); everyone else must be refused.
USERS = {
    "storefront": set(CONTRACT_ROLES),
    "catalog": {STORE_ADMIN},
    "duplicates": {MERCHANDISER},
}
# Who explores each part in the coverage phase (every role fuzzes every operation).
EXPLORERS = {"storefront": {ANONYMOUS}, "catalog": {STORE_ADMIN}, "duplicates": {MERCHANDISER}}
SHOP = Shop()  # what the path-parameter hook draws from; planted per role by the `shop` fixture
schema = schemathesis.openapi.from_dict(_served_document(), config=schemathesis.Config.from_dict(CONFIG))


@schema.hook
def flatmap_path_parameters(context: Any, parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if not parameters:
        return st.just(parameters)
    method = context.operation.method.upper() if context.operation else ""
    return st.sampled_from([parameters, *_known_ids(SHOP, method, parameters)])


def _point_at_the_shop(case: schemathesis.Case, shop: Shop) -> None:
    """A coverage case varies one part of a request and fills the rest with fixed values, so its path ids
    name nothing and the body it varies would only ever meet a 404. Unless the path is the part varied,
    point it at a planted product, photo or group (which one depends only on the case, so runs repeat)."""
    data = case.meta.phase.data if case.meta is not None else None
    if not case.path_parameters or (data is not None and data.parameter_location == ParameterLocation.PATH):
        return
    known = _known_ids(shop, case.method.upper(), case.path_parameters)
    if known:
        description = (data.description if data is not None else None) or ""
        case.path_parameters = known[zlib.crc32(description.encode()) % len(known)]


def error_envelope(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every 4xx body is {"error": {"code": str, "message": str, "details": dict}} (config/errors.py)."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    shape_ok = (
        isinstance(error, dict)
        and set(error) == {"code", "message", "details"}
        and isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and isinstance(error["details"], dict)
    )
    if not shape_ok:
        raise AssertionError(f"{response.status_code} body is not the error envelope: {body!r:.300}")
    return True


def invalid_parameters_are_rejected(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' negative_data_rejection, for query and path parameters: a value the document rules out
    is refused. Not for JSON bodies: DRF coerces JSON numbers to text and text to numbers by design
    (the same serializers read query strings and forms), which that check would flag field by field."""
    data = case.meta.phase.data if case.meta is not None else None
    if data is None or data.parameter_location not in (ParameterLocation.QUERY, ParameterLocation.PATH):
        return None
    result: bool | None = schemathesis.checks.negative_data_rejection(ctx, response, case)
    return result


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    error_envelope,
    invalid_parameters_are_rejected,
]


@pytest.mark.django_db  # for the test database to be created; the tests' own transactions hold nothing
@schema.parametrize()
def test_every_operation_keeps_its_documented_contract(
    case: schemathesis.Case, role: str, live_api: LiveApi, shop: Shop
) -> None:
    coverage = case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE
    (tag,) = case.operation.tags
    refused = role not in USERS[tag]
    if coverage and role not in EXPLORERS[tag]:
        # The coverage phase's hundreds of systematic variations run for the roles an operation is for.
        # Refused roles: refusal comes before any input is read (DRF checks permissions first), so
        # every variation would be the same 401/403. Signed-in shoppers (a storefront token too): the
        # same code path as an anonymous one but for the throttle's scope. Their fuzzing cases prove both.
        return
    if coverage:
        _point_at_the_shop(case, shop)
    response = case.call_and_validate(base_url=live_api.url, headers=live_api.headers[role], checks=CHECKS)
    if refused:
        # A path that matches no route is a 404 whoever asks; anything else is refused, never served.
        refusal = 401 if role == ANONYMOUS else 403
        assert response.status_code in (refusal, 404), (role, response.status_code, response.content[:300])


FLOWS = {STORE_ADMIN: "catalog", MERCHANDISER: "duplicates"}
flows = schemathesis.openapi.from_dict(
    _served_document(),
    config=schemathesis.Config.from_dict({**CONFIG, "phases": {"stateful": {"enabled": True, "max-steps": STEPS}}}),
)


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(FLOWS), indirect=True)
def test_linked_operations_keep_the_contract_one_after_another(role: str, live_api: LiveApi, shop: Shop) -> None:
    """Create, read, change, photograph and delete a product; list, open, resolve and restore a group."""
    machine: Any = flows.include(tag=FLOWS[role]).as_state_machine()

    class Flows(machine):
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": live_api.url, "headers": live_api.headers[role]}

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Flows.run(
        settings=hypothesis.settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
