"""The catalog map at demo-catalogue scale (70,000 products), in Debian's Chromium (issue 7).

    DATABASE_URL=postgresql://.../scratch_db  .venv/bin/python -m bench.catalog_map_scale [--products 70000]

Uses a scratch database (migrated; its catalogue is replaced): seeds `--products` products
in 10 categories with clustered 1280-d visual vectors written by SQL (the size of the lite
visual encoder's), times `build_catalog_map --space visual`, then opens the map page and
measures how long it takes to show, how big the points file is, how long a frame takes
to draw, and how many thumbnails one zoomed-in view asks for. Baseline in the same run:
the storefront grid of the same catalogue.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from io import StringIO

from bench.browser_session import dev_server, signed_in_page, staff_session_cookie
from bench.db import setup_django

ENCODER = "bench-visual@1"
DIM = 1280
CATEGORIES = 10


def seed(count: int) -> None:
    from django.db import connection

    from catalog.models import Category, Product
    from embeddings.models import EncoderState, ProductVector, SpaceEncoder
    from embeddings.vector_indexes import index_name

    if Product.objects.count() == count and ProductVector.objects.filter(encoder=ENCODER).count() == count:
        return
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_product, catalog_category, embeddings_spaceencoder CASCADE")
        # An HNSW index left by an earlier run would make the COPY below insert into its graph row by row.
        name = index_name(ProductVector._meta.db_table, "visual", ENCODER)
        cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
    # The row only, without its HNSW index: the map reads every vector, and COPY into an
    # indexed table would spend minutes building a graph nothing here uses.
    SpaceEncoder.objects.create(space="visual", encoder=ENCODER, dim=DIM, state=EncoderState.ACTIVE)
    categories = [Category.objects.create(slug=f"cat-{i}", name=f"Category {i}") for i in range(CATEGORIES)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO catalog_product (sku, title, description, brand, category_id, price, currency, stock,"
            " attributes, product_group, seller, is_active, created_at, updated_at)"
            " SELECT 'MAP-' || g, 'Product ' || g, '', '', (%s::bigint[])[1 + g %% %s], 10, 'EUR', 1, '{}', '', '',"
            " true, now(), now() FROM generate_series(1, %s) g",
            [[c.pk for c in categories], CATEGORIES, count],
        )
    _copy_vectors(categories=[c.pk for c in categories])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_product")
    print(f"seeded {count} products with {DIM}-d vectors in {time.perf_counter() - started:.1f} s", flush=True)


def _copy_vectors(*, categories: list[int]) -> None:
    """Binary COPY of numpy vectors: seconds for 70,000 x 1280 (SQL random() per element takes minutes)."""
    import numpy as np
    from django.db import connection
    from pgvector import HalfVector
    from pgvector.psycopg import register_vector

    rng = np.random.default_rng(0)
    centres = {pk: rng.normal(size=DIM).astype(np.float32) for pk in categories}
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    register_vector(raw)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, category_id FROM catalog_product ORDER BY id")
        rows = cursor.fetchall()
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY embeddings_productvector (product_id, space, encoder, embedding, image_count, updated_at)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "varchar", "varchar", "halfvec", "int4", "timestamptz"])
        now = datetime.now(UTC)
        for pk, category in rows:
            vector = centres[category] + rng.normal(scale=0.8, size=DIM).astype(np.float32)
            copy.write_row([pk, "visual", ENCODER, HalfVector(vector / np.linalg.norm(vector)), 1, now])
    # register_vector changed this connection's loaders; start the next query on a fresh one.
    connection.close()


def build() -> tuple[float, int, int]:
    from django.core.management import call_command

    from recommender.merchandising.selectors import catalog_map_current

    started = time.perf_counter()
    call_command("build_catalog_map", "--space=visual", stdout=StringIO())
    elapsed = time.perf_counter() - started
    current = catalog_map_current("visual")
    assert current is not None
    import gzip

    raw = gzip.decompress(current.points.read_bytes())
    return elapsed, current.points.stat().st_size, len(raw)


def browse(url: str, cookie: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    results: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, url, cookie)
        for attempt in range(3):  # the first load warms up
            started = time.perf_counter()
            page.goto(url + "/", wait_until="load")
            page.wait_for_selector("#catalog .card")
            grid_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            page.goto(url + "/staff/map/", wait_until="load")
            page.wait_for_selector("#catalog-map[data-ready=true]", timeout=120_000)
            map_ms = (time.perf_counter() - started) * 1000
            if attempt:
                results["grid_ready_ms"] = max(results.get("grid_ready_ms", 0), grid_ms)
                results["map_ready_ms"] = max(results.get("map_ready_ms", 0), map_ms)
        # One full redraw of every point (what each pan or zoom step costs), timed in the page.
        results["frame_ms"] = page.evaluate(
            """async () => {
                const canvas = document.getElementById('catalog-map');
                const times = [];
                for (let i = 0; i < 10; i++) {
                    const t = performance.now();
                    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: i % 2 ? -1 : 1, clientX: 600, clientY: 400}));
                    await new Promise(requestAnimationFrame);
                    await new Promise(requestAnimationFrame);
                    times.push(performance.now() - t);
                }
                times.sort((a, b) => a - b);
                return times[5];
            }"""
        )
        # Zoom in until photos replace dots: how many thumbnails does that view fetch?
        canvas = page.locator("#catalog-map")
        canvas.focus()
        for _ in range(30):
            if canvas.get_attribute("data-mode") == "photos":
                break
            page.keyboard.press("+")
            page.wait_for_timeout(30)
        with page.expect_response(lambda r: "/staff/map/thumbnails/" in r.url, timeout=30_000) as thumbnails:
            page.keyboard.press("ArrowLeft")
        results["thumbnails_requested"] = float(len(thumbnails.value.request.url.split("ids=")[1].split("%2C")))
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=70_000)
    parser.add_argument("--port", type=int, default=8092)
    options = parser.parse_args()
    # The scratch database DATABASE_URL names, as it is (already migrated).
    setup_django(database=None, redis_db=None)
    seed(options.products)
    build_s, gzip_bytes, json_bytes = build()
    print(
        f"build_catalog_map --space visual: {build_s:.1f} s; points file {gzip_bytes / 1e6:.2f} MB gzip "
        f"({json_bytes / 1e6:.2f} MB JSON)",
        flush=True,
    )
    cookie = staff_session_cookie("bench-map")
    with dev_server(options.port) as url:
        print(browse(url, cookie))


if __name__ == "__main__":
    main()
