"""Browser tests: Debian's Chromium, driven by Playwright, against a live server on the test database.

One demo site per run of this package: `load_demo_catalog --limit DEMO_PRODUCTS` (a child
process, like an operator would run it) into the test database, embedded by a real Celery
worker (lite profile, real weights), plus one re-listed copy of a demo product so that the
worker's duplicate detection flags a group; then `build_catalog_map`. The pages are served
by pytest-django's LiveServer, started here rather than through the `live_server` fixture:
that fixture makes every test transactional, and the flush after each test would delete
the catalogue the next test needs. The data is committed, so it is flushed once at the end.
Tests are still marked django_db: pytest-django creates the test database only when a
collected test asks for one.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright
from pytest_django.live_server_helper import LiveServer

from catalog.models import Product, ProductImage
from catalog.services import product_image_add
from catalog.services.products import product_create
from recommender.duplicates.models import DuplicateGroup
from tests.fixtures_worker import REPO_ROOT, WorkerProcess, child_process_env, wait_for

DEMO_PRODUCTS = 36
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(autouse=True)
def private_media(media_root: Path) -> Path:
    # The session's MEDIA_ROOT, which the live server and the worker share.
    return media_root


@dataclass(frozen=True)
class DemoSite:
    url: str
    merchandiser_cookie: str
    product_count: int
    dress_titles: frozenset[str]
    photo: Path  # a demo product's photo, to search with
    photo_title: str
    original_id: int  # a demo product ...
    copy_id: int  # ... and its re-listed copy, flagged as a duplicate group
    title: str  # their (shared) title


def _load_demo_catalog() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "load_demo_catalog", f"--limit={DEMO_PRODUCTS}", "--no-progress"],
        cwd=REPO_ROOT,
        env=child_process_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"load_demo_catalog exited with {done.returncode}: {done.stderr[-2000:]}")


def _relist(original: Product) -> Product:
    """Another seller lists the same photo again: the duplicate the review page must show."""
    image = original.images.order_by("position").first()
    assert image is not None
    with image.file.open("rb") as handle:
        data = handle.read()
    copy = product_create(
        sku="RELISTED-1",
        title=original.title,
        price=original.price - Decimal("1.00"),
        category=original.category,
        seller="Bargain Basement",
        stock=3,
    )
    product_image_add(product=copy, data=data)
    return copy


def _warm_up(client: Client, photo: Path) -> None:
    """Load the text and image encoders in this (the server's) process before any page waits on them.

    The first search after a start loads the models (seconds, more on a busy machine);
    a shop would have served requests before a shopper's; the tests should not time out on it.
    """
    assert client.get("/api/v1/search/", {"q": "warm up"}).status_code == 200
    with photo.open("rb") as handle:
        assert client.post("/api/v1/search/image/", {"image": handle}).status_code == 200


@pytest.fixture(scope="package")
def demo_site(
    session_worker: WorkerProcess, media_root: Path, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[DemoSite]:
    with django_db_blocker.unblock():
        server = LiveServer("127.0.0.1")
        server._live_server_modified_settings.enable()
        try:
            # The worker is this package's while the catalogue is embedded and checked for duplicates,
            # and drained before the tests start (the pages need no worker).
            with session_worker.owning():
                _load_demo_catalog()
                original = Product.objects.filter(product_group="").order_by("id").first()
                assert original is not None
                copy = _relist(original)
                wait_for(
                    lambda: not ProductImage.objects.exclude(embedding_status="done").exists(),
                    timeout=300,
                    what="the worker to embed the demo catalogue",
                )
                wait_for(
                    lambda: DuplicateGroup.objects.filter(status="open", members__product=copy).exists(),
                    timeout=120,
                    what="the worker to flag the re-listed copy as a duplicate",
                )
            call_command("build_catalog_map", stdout=StringIO())
            user = get_user_model().objects.create_user(username="merch", password="not-used-1", is_staff=True)
            client = Client()
            client.force_login(user)
            photo_product = Product.objects.exclude(pk__in=[original.pk, copy.pk]).order_by("-id").first()
            assert photo_product is not None
            photo_image = photo_product.images.get()
            photo = tmp_path_factory.mktemp("upload") / "my-photo.png"
            with photo_image.file.open("rb") as handle:
                photo.write_bytes(handle.read())
            _warm_up(client, photo)
            yield DemoSite(
                url=server.url,
                merchandiser_cookie=client.cookies["sessionid"].value,
                product_count=Product.objects.filter(is_active=True).count(),
                dress_titles=frozenset(
                    Product.objects.filter(title__iendswith=" dress").values_list("title", flat=True)
                ),
                photo=photo,
                photo_title=photo_product.title,
                original_id=original.pk,
                copy_id=copy.pk,
                title=original.title,
            )
        finally:
            server.stop()
            server._live_server_modified_settings.disable()
            # The catalogue was committed (the worker and the server are other processes and threads).
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="package")
def chromium(demo_site: DemoSite) -> Iterator[Browser]:
    # Depends on demo_site so that the browser closes before the database is flushed.
    # Playwright's sync API keeps an asyncio loop on the main thread while the browser is
    # open; Django then refuses the (synchronous, main-thread) test transaction that
    # pytest-django opens around each test unless told that this is deliberate.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """Everything that went wrong in the page: console errors, uncaught exceptions, failed requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _response(self, response: Response) -> None:
        # 4xx answers the page asked for on purpose are checked by the tests themselves.
        if response.status >= 500 or (response.status == 404 and "/api/" not in response.url):
            self.problems.append(f"{response.status} {response.url}")

    def assert_clean(self, *, allow: tuple[str, ...] = ()) -> None:
        unexpected = [problem for problem in self.problems if not any(text in problem for text in allow)]
        assert unexpected == [], unexpected


@dataclass
class Tab:
    page: Page
    console: Console
    site: DemoSite


def _open_tab(browser: Browser, site: DemoSite, *, signed_in: bool) -> Iterator[Tab]:
    context = browser.new_context(base_url=site.url, viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    if signed_in:
        context.add_cookies([{"name": "sessionid", "value": site.merchandiser_cookie, "url": site.url}])
    page = context.new_page()
    yield Tab(page=page, console=Console(page), site=site)
    context.close()


@pytest.fixture
def shopper(chromium: Browser, demo_site: DemoSite) -> Iterator[Tab]:
    yield from _open_tab(chromium, demo_site, signed_in=False)


@pytest.fixture
def merchandiser_tab(chromium: Browser, demo_site: DemoSite) -> Iterator[Tab]:
    yield from _open_tab(chromium, demo_site, signed_in=True)


@pytest.fixture(scope="package")
def screenshot_dir(tmp_path_factory: Any) -> Path:
    """docs/screenshots with UPDATE_SCREENSHOTS=1 (to refresh the committed ones), else a temporary directory."""
    import os

    return SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")


def save_screenshot(page: Page, directory: Path, name: str, *, full_page: bool = False) -> Path:
    """A PNG reduced to a 256-colour palette: a few hundred KB at most, fine for text and thumbnails."""
    image = Image.open(io.BytesIO(page.screenshot(full_page=full_page)))
    path = directory / f"{name}.png"
    directory.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path
