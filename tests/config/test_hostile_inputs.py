"""The hostile-input battery: one table of everything a client or a feed can throw at the service.

Each kind is sent once, as the role that may use the endpoint (so the input, not the door,
is what gets refused), and must be answered with its status, the envelope's code, a
message that names the problem (the field or parameter, and what is wrong with it), and
nothing stored: no product, photo, category, decision or recommendation-log row, and no
file under MEDIA_ROOT. Import rows (`manage.py import_catalog`) are judged the same way
on the command's failure line (exit status 1, no envelope).

Kinds tested more deeply elsewhere appear here once, reusing their helpers:
tests/catalog/test_image_upload_api.py (bad photos), tests/catalog/test_fetching.py
(the fetcher's own rules), tests/catalog/test_import_catalog.py (summaries, resumption).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from catalog import fetching
from catalog.models import Category, Product, ProductImage
from embeddings.models import ProductVector
from embeddings.services import space_encoder_register
from recommender.duplicates.models import DuplicateDecision, DuplicateGroup, DuplicateGroupMember
from recommender.storefront.models import RecommendationLog
from tests.catalog import factories
from tests.catalog.test_fetching import Handler, QuietServer
from tests.catalog.test_image_upload_api import BAD_INPUTS, stored_files
from tests.config.roles import ANONYMOUS, MERCHANDISER, STORE_ADMIN, role_user, token_header

pytestmark = pytest.mark.django_db

TWENTY_DIGITS = "12345678901234567890"
BIGINT_PLUS_2 = "9223372036854775809"
DEEP_JSON = "[" * 100_000 + "]" * 100_000
MIB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None
    message: str


class Env:
    """What a kind is sent against: a product with vectors, a photo, a duplicate group, clients per role."""

    def __init__(self, tmp_path: Path, fetch_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path, self.server, self.monkeypatch = tmp_path, fetch_server, monkeypatch
        space_encoder_register(space="visual", identity="hostile-visual@1", dim=4)
        space_encoder_register(space="semantic", identity="hostile-semantic@1", dim=4)
        self.category = Category.objects.create(slug="shirts", name="Shirts")
        self.product = factories.product("HOSTILE-1", category=self.category, attributes={"color": "red"})
        other = factories.product("HOSTILE-2", category=self.category)
        for product, vector in ((self.product, [1.0, 0, 0, 0]), (other, [0.8, 0.6, 0, 0])):
            ProductVector.objects.bulk_create(
                ProductVector(product=product, space=space, encoder=f"hostile-{space}@1", embedding=vector)
                for space in ("visual", "semantic")
            )
        self.group = DuplicateGroup.objects.create(
            tier="near_duplicate", representative=self.product, category=self.category, score=0.9
        )
        for member, similarity in ((self.product, 1.0), (other, 0.9)):
            DuplicateGroupMember.objects.create(
                group=self.group,
                product=member,
                is_representative=member == self.product,
                tier="near_duplicate",
                similarity=similarity,
            )
        self.clients = {role: self._client(role) for role in (ANONYMOUS, MERCHANDISER, STORE_ADMIN)}

    @staticmethod
    def _client(role: str) -> Client:
        client = Client(headers=token_header(role_user(role, prefix="hostile")))
        client.raise_request_exception = False  # a 500 is an answer to judge, not a test error
        return client

    def path(self, template: str) -> str:
        return template.format(product=self.product.pk, group=self.group.pk, server=self.server)

    def pretend_fetch_server_is_public(self) -> None:
        """The local test server stands in for a shop's public image host; every other address is judged
        as always, so a redirect from it to a private one must be refused at the hop."""
        real = fetching.public_address
        self.monkeypatch.setattr(fetching, "public_address", lambda ip: str(ip) == "127.0.0.1" or real(ip))


Send = Callable[[Env], Outcome]


def _outcome(response: Any) -> Outcome:
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return Outcome(response.status_code, None, response.content[:300].decode(errors="replace"))
    return Outcome(response.status_code, error.get("code"), str(error.get("message")))


def request(
    role: str, method: str, path: str, body: bytes | str = b"", content_type: str = "application/json", **extra: Any
) -> Send:
    def send(env: Env) -> Outcome:
        return _outcome(env.clients[role].generic(method, env.path(path), body, content_type=content_type, **extra))

    return send


def get(role: str, path: str, **query: str) -> Send:
    def send(env: Env) -> Outcome:
        return _outcome(env.clients[role].get(env.path(path), query))

    return send


def post_json(role: str, path: str, body: Any) -> Send:
    return request(role, "POST", path, body if isinstance(body, str | bytes) else json.dumps(body))


def patch_json(body: Any) -> Send:
    return request(STORE_ADMIN, "PATCH", "/api/v1/products/{product}/", json.dumps(body))


def multipart(role: str, path: str, fields: dict[str, Any]) -> Send:
    def send(env: Env) -> Outcome:
        data = {name: SimpleUploadedFile("photo.jpg", v) if isinstance(v, bytes) else v for name, v in fields.items()}
        body = encode_multipart(BOUNDARY, data)
        return _outcome(env.clients[role].generic("POST", env.path(path), body, content_type=MULTIPART_CONTENT))

    return send


def upload(data: bytes, *, path: str = "/api/v1/products/{product}/images/", **fields: Any) -> Send:
    return multipart(STORE_ADMIN, path, {"image": data, **fields})


def image_url(url: str, *, public_server: bool = False) -> Send:
    def send(env: Env) -> Outcome:
        if public_server:
            env.pretend_fetch_server_is_public()
        return post_json(ANONYMOUS, "/api/v1/search/image/", {"image_url": env.path(url)})(env)

    return send


def unreachable(url: str, problem: str, *, public_server: bool = False) -> tuple[Send, int, str, tuple[str, ...]]:
    """An image URL the fetcher refuses: a 400 naming image_url and why."""
    return image_url(url, public_server=public_server), 400, UNREACHABLE, ("image_url", problem)


def announced(role: str, length: int, path: str) -> Send:
    """A body announced by Content-Length and never sent: refused from the header, the stream unread."""

    class Unread:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read")

        readline = read

    return request(
        role,
        "POST",
        path,
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": Unread()},  # type: ignore[arg-type]
    )


def import_rows(*lines: str | dict[str, Any], suffix: str = ".jsonl") -> Send:
    """`manage.py import_catalog` on a feed of these lines: the command's failure line is the message."""

    def send(env: Env) -> Outcome:
        feed = env.tmp_path / f"feed{suffix}"
        text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
        feed.write_text("\n".join(text).replace("{sku}", env.product.sku).replace("{server}", env.server) + "\n")
        out = StringIO()
        try:
            call_command("import_catalog", str(feed), "--no-progress", stdout=out)
        except CommandError:
            failures = [line.strip() for line in out.getvalue().splitlines() if line.startswith("  line ")]
            return Outcome(1, None, "\n".join(failures))
        return Outcome(0, None, out.getvalue())

    return send


def product(**fields: Any) -> dict[str, Any]:
    return {"sku": "NEW-1", "title": "New shirt", "price": "10.00", **fields}


SIMILAR = "/api/v1/products/{product}/similar/"
SEARCH = "/api/v1/search/"
RECOMMENDATIONS = "/api/v1/recommendations/"
RESOLVE = "/api/v1/duplicates/{group}/resolve/"
DUPLICATES = "/api/v1/duplicates/"
PRODUCTS = "/api/v1/products/"
IMAGES = "/api/v1/products/{product}/images/"
INVALID = "invalid"
PHOTO_PROBLEMS = {"image_empty": "empty", "image_invalid": "not a usable image", "image_too_large": "pixels"}
UNREACHABLE = "image_url_unreachable"

# kind -> (what is sent, status, envelope code, what the message must name)
KINDS: dict[str, tuple[Send, int, str | None, tuple[str, ...]]] = {
    # --- photo upload ---------------------------------------------------------------------------
    **{
        f"upload: {name}": (upload(data), 400, code, ("image:", PHOTO_PROBLEMS[code]))
        for name, data, code in BAD_INPUTS
    },
    "upload: no file at all": (multipart(STORE_ADMIN, IMAGES, {"position": "1"}), 400, INVALID, ("image:",)),
    "upload: position out of range": (upload(factories.jpeg(1), position="40000"), 400, INVALID, ("position:",)),
    "upload: NUL as the position": (upload(factories.jpeg(1), position="\x00"), 400, INVALID, ("position:",)),
    "upload: JSON instead of a file": (
        request(STORE_ADMIN, "POST", IMAGES, "{}"),
        415,
        "unsupported_media_type",
        ("application/json",),
    ),
    "upload: 120 MiB announced": (announced(STORE_ADMIN, 120 * MIB, IMAGES), 413, "too_large", ("REQUEST_MAX_BYTES",)),
    "upload: a 20-digit product id": (
        upload(factories.jpeg(1), path=f"/api/v1/products/{TWENTY_DIGITS}/images/"),
        404,
        "not_found",
        (TWENTY_DIGITS,),
    ),
    # --- search by photo ------------------------------------------------------------------------
    "search by photo: neither file nor URL": (
        post_json(ANONYMOUS, "/api/v1/search/image/", {}),
        400,
        INVALID,
        ("image",),
    ),
    "search by photo: both file and URL": (
        multipart(
            ANONYMOUS, "/api/v1/search/image/", {"image": factories.jpeg(1), "image_url": "https://shop.example/a.jpg"}
        ),
        400,
        INVALID,
        ("exactly one of image",),
    ),
    "search by photo: a corrupt file": (
        multipart(ANONYMOUS, "/api/v1/search/image/", {"image": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8}),
        400,
        "image_invalid",
        ("image:",),
    ),
    "search by photo: a decompression bomb": (
        multipart(ANONYMOUS, "/api/v1/search/image/", {"image": factories.decompression_bomb()}),
        400,
        "image_too_large",
        ("image:",),
    ),
    "search by photo: 120 MiB announced": (
        announced(ANONYMOUS, 120 * MIB, "/api/v1/search/image/"),
        413,
        "too_large",
        ("REQUEST_MAX_BYTES",),
    ),
    # --- image URLs -----------------------------------------------------------------------------
    "image URL: loopback": unreachable("http://127.0.0.1/a.jpg", "private or local"),
    "image URL: localhost by name": unreachable("http://localhost:8000/a.jpg", "localhost resolves to"),
    "image URL: private network": unreachable("http://10.1.2.3/a.jpg", "private"),
    "image URL: cloud metadata address": unreachable("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    "image URL: IPv6 loopback": unreachable("http://[::1]/a.jpg", "private"),
    "image URL: IPv4-mapped IPv6": unreachable("http://[::ffff:127.0.0.1]/a.jpg", "private"),
    "image URL: NAT64 of loopback": unreachable("http://[64:ff9b::7f00:1]/a.jpg", "private"),
    "image URL: credentials before a loopback host": unreachable("http://shop.example@127.0.0.1/a.jpg", "127.0.0.1"),
    "image URL: file scheme": (image_url("file:///etc/passwd"), 400, INVALID, ("image_url:",)),
    "image URL: ftp scheme": unreachable("ftp://shop.example/a.jpg", "only http"),
    "image URL: redirect to loopback": unreachable("{server}/to/127.0.0.2", "127.0.0.2", public_server=True),
    "image URL: redirect to the metadata address": unreachable(
        "{server}/to/169.254.169.254", "169.254", public_server=True
    ),
    "image URL: redirect to IPv6 loopback": unreachable("{server}/to/[::1]", "::1", public_server=True),
    "image URL: too many redirects": unreachable("{server}/hop/4", "more than 3 redirects", public_server=True),
    "image URL: not an image": unreachable("{server}/page.html", "is not an image", public_server=True),
    # --- product writes -------------------------------------------------------------------------
    "product: no sku": (post_json(STORE_ADMIN, PRODUCTS, {"title": "x", "price": "1"}), 400, INVALID, ("sku:",)),
    "product: sku too long": (post_json(STORE_ADMIN, PRODUCTS, product(sku="S" * 65)), 400, INVALID, ("sku:",)),
    "product: NUL in the title": (
        post_json(STORE_ADMIN, PRODUCTS, product(title="Bad\x00title")),
        400,
        INVALID,
        ("title:", "NUL"),
    ),
    "product: NUL in the title of a form": (
        request(STORE_ADMIN, "POST", PRODUCTS, "sku=F-1&title=a%00b&price=1", "application/x-www-form-urlencoded"),
        400,
        INVALID,
        ("title:", "Null characters"),
    ),
    "product: NUL in an attribute value": (
        post_json(STORE_ADMIN, PRODUCTS, product(attributes={"color": "re\x00d"})),
        400,
        INVALID,
        ("attributes.color", "NUL"),
    ),
    "product: NUL in an attribute name": (
        post_json(STORE_ADMIN, PRODUCTS, product(attributes={"co\x00lor": "red"})),
        400,
        INVALID,
        ("attributes.co", "NUL"),
    ),
    "product: a lone surrogate in an attribute": (
        post_json(STORE_ADMIN, PRODUCTS, '{"sku": "S-1", "title": "x", "price": "1", "attributes": {"c": "\\udfff"}}'),
        400,
        INVALID,
        ("attributes:", "surrogate"),
    ),
    "product: attributes nested 6 deep": (
        post_json(STORE_ADMIN, PRODUCTS, product(attributes={"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}})),
        400,
        INVALID,
        ("attributes:", "nest deeper"),
    ),
    "product: attributes of 20 KiB": (
        post_json(STORE_ADMIN, PRODUCTS, product(attributes={"notes": "x" * 20_000})),
        400,
        INVALID,
        ("attributes:", "bytes"),
    ),
    "product: attributes not an object": (
        post_json(STORE_ADMIN, PRODUCTS, product(attributes=["red"])),
        400,
        INVALID,
        ("attributes:",),
    ),
    "product: negative price": (post_json(STORE_ADMIN, PRODUCTS, product(price="-1")), 400, INVALID, ("price:",)),
    "product: NaN price": (post_json(STORE_ADMIN, PRODUCTS, product(price="NaN")), 400, INVALID, ("price:",)),
    "product: price of 13 digits": (
        post_json(STORE_ADMIN, PRODUCTS, product(price="12345678901.00")),
        400,
        INVALID,
        ("price:",),
    ),
    "product: lower-case currency": (
        post_json(STORE_ADMIN, PRODUCTS, product(currency="eur")),
        400,
        INVALID,
        ("currency:",),
    ),
    "product: stock above a 32-bit integer": (
        post_json(STORE_ADMIN, PRODUCTS, product(stock=2**31)),
        400,
        INVALID,
        ("stock:",),
    ),
    "product: unknown category": (
        post_json(STORE_ADMIN, PRODUCTS, product(category="no-such-category")),
        400,
        INVALID,
        ("category:",),
    ),
    "product: a taken sku": (
        post_json(STORE_ADMIN, PRODUCTS, product(sku="HOSTILE-1")),
        400,
        INVALID,
        ("sku:", "already exists"),
    ),
    "product: JSON nested 100,000 deep": (
        post_json(STORE_ADMIN, PRODUCTS, DEEP_JSON),
        400,
        "parse_error",
        ("nested 100000 levels",),
    ),
    "product: JSON larger than 1 MiB": (
        post_json(STORE_ADMIN, PRODUCTS, json.dumps(product(description="x" * MIB))),
        413,
        "too_large",
        ("JSON body",),
    ),
    "product: not JSON": (post_json(STORE_ADMIN, PRODUCTS, "{sku: 1"), 400, "parse_error", ("JSON parse error",)),
    "product: PATCH a NUL into the brand": (patch_json({"brand": "\x00"}), 400, INVALID, ("brand:", "NUL")),
    "product: PATCH is_active maybe": (patch_json({"is_active": "maybe"}), 400, INVALID, ("is_active:",)),
    "product: PATCH a 20-digit id": (
        request(STORE_ADMIN, "PATCH", f"/api/v1/products/{TWENTY_DIGITS}/", '{"stock": 1}'),
        404,
        "not_found",
        (TWENTY_DIGITS,),
    ),
    # --- query parameters -----------------------------------------------------------------------
    "similar: offset beyond bigint": (get(ANONYMOUS, SIMILAR, offset=BIGINT_PLUS_2), 400, INVALID, ("offset:",)),
    "similar: limit 0": (get(ANONYMOUS, SIMILAR, limit="0"), 400, INVALID, ("limit:",)),
    "similar: visual_weight nan": (get(ANONYMOUS, SIMILAR, visual_weight="nan"), 400, INVALID, ("visual_weight:",)),
    "similar: diversity inf": (get(ANONYMOUS, SIMILAR, diversity="inf"), 400, INVALID, ("diversity:",)),
    "similar: unknown mode": (get(ANONYMOUS, SIMILAR, mode="sideways"), 400, INVALID, ("mode:",)),
    "similar: NUL in an attribute filter": (
        get(ANONYMOUS, SIMILAR, **{"attr.color": "re\x00d"}),
        400,
        INVALID,
        ("attr.color", "NUL"),
    ),
    "similar: a bad attribute name": (
        get(ANONYMOUS, SIMILAR, **{"attr.co$lor": "red"}),
        400,
        INVALID,
        ("attr.co$lor",),
    ),
    "similar: nine attribute filters": (
        get(ANONYMOUS, SIMILAR, **{f"attr.a{n}": "x" for n in range(9)}),
        400,
        INVALID,
        ("attr:", "at most 8"),
    ),
    "similar: min_price above max_price": (
        get(ANONYMOUS, SIMILAR, min_price="50", max_price="10"),
        400,
        INVALID,
        ("max_price:",),
    ),
    "similar: in_stock maybe": (get(ANONYMOUS, SIMILAR, in_stock="maybe"), 400, INVALID, ("in_stock:",)),
    "similar: a 20-digit product id": (
        get(ANONYMOUS, f"/api/v1/products/{TWENTY_DIGITS}/similar/"),
        404,
        "not_found",
        (TWENTY_DIGITS,),
    ),
    "search: no words": (get(ANONYMOUS, SEARCH), 400, INVALID, ("q:",)),
    "search: NUL in the words": (get(ANONYMOUS, SEARCH, q="red\x00dress"), 400, INVALID, ("q:", "Null characters")),
    "search: 257 characters": (get(ANONYMOUS, SEARCH, q="a" * 257), 400, INVALID, ("q:", "256")),
    "search: NUL in the brand": (get(ANONYMOUS, SEARCH, q="dress", brand="\x00"), 400, INVALID, ("brand:",)),
    "search: unknown category": (get(ANONYMOUS, SEARCH, q="dress", category="nope"), 400, INVALID, ("category:",)),
    "duplicates: unknown tier": (get(MERCHANDISER, DUPLICATES, tier="bogus"), 400, INVALID, ("tier:",)),
    "duplicates: offset beyond bigint": (
        get(MERCHANDISER, DUPLICATES, offset=BIGINT_PLUS_2),
        400,
        INVALID,
        ("offset:",),
    ),
    "duplicates: unknown category": (get(MERCHANDISER, DUPLICATES, category="nope"), 400, INVALID, ("category:",)),
    # --- JSON bodies ----------------------------------------------------------------------------
    "recommendations: form-encoded": (
        request(ANONYMOUS, "POST", RECOMMENDATIONS, "liked=1", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
        ("application/x-www-form-urlencoded",),
    ),
    "recommendations: JSON nested 100,000 deep": (
        post_json(ANONYMOUS, RECOMMENDATIONS, DEEP_JSON),
        400,
        "parse_error",
        ("nested 100000 levels",),
    ),
    "recommendations: NUL in the words": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"query": "li\x00nen"}),
        400,
        INVALID,
        ("query", "NUL"),
    ),
    "recommendations: an id that is no number": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"viewed": ["x"]}),
        400,
        INVALID,
        ("viewed[0]:",),
    ),
    "recommendations: an id beyond bigint": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"liked": [2**63]}),
        400,
        INVALID,
        ("liked[0]:",),
    ),
    "recommendations: 101 viewed ids": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"viewed": list(range(1, 102))}),
        400,
        INVALID,
        ("viewed:",),
    ),
    "recommendations: a boolean diversity": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"diversity": True}),
        400,
        INVALID,
        ("diversity:",),
    ),
    "recommendations: a nested attribute filter": (
        post_json(ANONYMOUS, RECOMMENDATIONS, {"filters": {"attributes": {"color": {"is": "red"}}}}),
        400,
        INVALID,
        ("filters.attributes.color:",),
    ),
    "recommendations: a list for a body": (post_json(ANONYMOUS, RECOMMENDATIONS, "[]"), 400, INVALID, ("dictionary",)),
    "resolve: an unknown decision": (
        post_json(MERCHANDISER, RESOLVE, {"decision": "maybe"}),
        400,
        INVALID,
        ("decision:",),
    ),
    "resolve: duplicate without keep": (
        post_json(MERCHANDISER, RESOLVE, {"decision": "duplicate"}),
        400,
        INVALID,
        ("keep:",),
    ),
    "resolve: keep a product not in the group": (
        post_json(MERCHANDISER, RESOLVE, {"decision": "duplicate", "keep": 2**62}),
        400,
        "invalid_keep",
        ("keep",),
    ),
    "resolve: keep beyond bigint": (
        post_json(MERCHANDISER, RESOLVE, {"decision": "duplicate", "keep": 2**63}),
        400,
        INVALID,
        ("keep:",),
    ),
    "resolve: JSON nested 100,000 deep": (
        post_json(MERCHANDISER, RESOLVE, DEEP_JSON),
        400,
        "parse_error",
        ("nested 100000 levels",),
    ),
    "resolve: a 20-digit group id": (
        post_json(MERCHANDISER, f"/api/v1/duplicates/{TWENTY_DIGITS}/resolve/", {"decision": "not_duplicate"}),
        404,
        "not_found",
        (TWENTY_DIGITS,),
    ),
    # --- import rows ----------------------------------------------------------------------------
    "import: a price that is no number": (
        import_rows({"sku": "I-1", "title": "x", "price": "abc"}),
        1,
        None,
        ('"I-1"', "price"),
    ),
    "import: NUL in the title": (
        import_rows({"sku": "I-1", "title": "a\x00b", "price": "1"}),
        1,
        None,
        ("title:", "Null characters"),
    ),
    "import: attributes nested 6 deep": (
        import_rows({"sku": "I-1", "title": "x", "price": "1", "attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}}),
        1,
        None,
        ("attributes:", "nest deeper"),
    ),
    "import: a lone surrogate in an attribute": (
        import_rows('{"sku": "I-1", "title": "x", "price": "1", "attributes": {"c": "\\udfff"}}'),
        1,
        None,
        ("attributes:", "surrogate"),
    ),
    "import: stock that is no number": (
        import_rows({"sku": "I-1", "title": "x", "price": "1", "stock": "many"}),
        1,
        None,
        ("stock",),
    ),
    "import: CSV attributes that are no JSON": (
        import_rows('sku,title,price,attributes\nI-1,x,1,"{colour: red}"', suffix=".csv"),
        1,
        None,
        ("attributes",),
    ),
    "import: images that are no list": (
        import_rows({"sku": "I-1", "title": "x", "price": "1", "images": 5}),
        1,
        None,
        ("images must be a list",),
    ),
    "import: a line that is no JSON": (import_rows("{broken"), 1, None, ("line 1", "invalid JSON")),
    "import: JSON nested 100,000 deep": (import_rows(DEEP_JSON), 1, None, ("line 1", "nested too deeply")),
    "import: a row without a sku": (import_rows({"title": "x", "price": "1"}), 1, None, ("no sku",)),
    "import: a photo path out of the feed's folder": (
        import_rows({"sku": "{sku}", "title": "x", "price": "1", "images": ["../../etc/passwd"]}),
        1,
        None,
        ("../../etc/passwd", "outside the feed's folder"),
    ),
    "import: a photo URL on loopback": (
        import_rows({"sku": "{sku}", "title": "x", "price": "1", "images": ["http://127.0.0.1/a.jpg"]}),
        1,
        None,
        ("http://127.0.0.1/a.jpg", "private or local"),
    ),
}


class RedirectingHandler(Handler):
    """tests/catalog/test_fetching.py's server, plus /to/<host>: a redirect to that host."""

    def do_GET(self) -> None:
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", f"http://{self.path[4:]}/photo.jpg")
            self.end_headers()
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def fetch_server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), RedirectingHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def env(tmp_path: Path, fetch_server: str, monkeypatch: pytest.MonkeyPatch, media_root: Path, settings: Any) -> Env:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.FETCH_MAX_REDIRECTS = 3
    cache.clear()  # throttle counters of earlier tests
    return Env(tmp_path, fetch_server, monkeypatch)


def _stored(media_root: Path) -> dict[str, Any]:
    return {
        "products": list(Product.objects.order_by("pk").values_list("pk", "updated_at")),
        "photos": ProductImage.objects.count(),
        "categories": Category.objects.count(),
        "decisions": DuplicateDecision.objects.count(),
        "groups": list(DuplicateGroup.objects.values_list("pk", "status")),
        "logged recommendations": RecommendationLog.objects.count(),
        "files": sorted(stored_files(media_root)),
    }


def test_the_battery_has_at_least_forty_kinds() -> None:
    assert len(KINDS) >= 40


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_hostile_input_is_refused_by_name_and_stores_nothing(kind: str, env: Env, media_root: Path) -> None:
    send, status, code, names = KINDS[kind]
    before = _stored(media_root)

    outcome = send(env)

    assert (outcome.status, outcome.code) == (status, code), f"{kind}: {outcome}"
    missing = [name for name in names if name not in outcome.message]
    assert not missing, f"{kind}: the message {outcome.message!r} does not name {missing}"
    assert _stored(media_root) == before, f"{kind}: something was stored"
