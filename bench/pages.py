"""Page load times of the storefront and merchandiser pages, in Debian's Chromium (issue 7).

    DATABASE_URL=postgresql://...  .venv/bin/python -m bench.pages [--runs 5] [--port 8091]

Needs a database holding the demo catalogue, embedded (`load_demo_catalog` + a worker) and
mapped (`build_catalog_map`). Starts `manage.py runserver` as `make demo` does, signs a staff
user in, and loads each page `--runs` times after one warm-up load (models loaded, caches
warm), recording the median of:
- server: the document's responseEnd (request sent -> last byte of HTML);
- load: the browser's load event (HTML, CSS, JS modules, above-the-fold thumbnails);
- ready: until the page shows what it is for (cards of the grid, "More like this" row, search
  results, heatmaps, the map drawn, the duplicate groups).
Baseline in the same run: the Django admin's product list, a page this project did not write.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.browser_session import dev_server, signed_in_page, staff_session_cookie
from bench.db import setup_django

# (name, path, CSS selector that appears when the page is ready)
PAGES = [
    ("baseline: admin product list", "/admin/catalog/product/", "#result_list"),
    ("storefront /", "/", "#catalog .card"),
    ("storefront, one category", "/?category={category}", "#catalog .card"),
    ("storefront, page 20", "/?page=20", "#catalog .card"),
    ("storefront text search", "/?q=red+summer+dress", "#results .card"),
    ("product page + More like this", "/p/{product}/", "#more-like-this .card"),
    ("duplicate review", "/staff/duplicates/", "#duplicate-groups .duplicate-group, main > .status:not(:empty)"),
    ("similarity matrix, 50 products", "/staff/matrix/?category={category}", "table.heatmap tbody tr"),
    ("catalog map", "/staff/map/", "#catalog-map[data-ready=true]"),
]


def _session_cookie_and_ids() -> tuple[str, dict[str, str], int]:
    # The demo catalogue where DATABASE_URL (or the development database) has it, and its broker.
    setup_django(database=None, redis_db=None)
    from catalog.models import Category, Product

    category = Category.objects.filter(products__is_active=True).order_by("id").first()
    product = Product.objects.filter(is_active=True, vectors__isnull=False).order_by("id").first()
    assert category is not None and product is not None, "load and embed the demo catalogue first"
    count = Product.objects.filter(is_active=True).count()
    return staff_session_cookie("bench-pages"), {"category": category.slug, "product": str(product.pk)}, count


def measure(url: str, cookie: str, values: dict[str, str], runs: int) -> list[dict[str, object]]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser, page = signed_in_page(playwright, url, cookie)
        for name, path, ready_selector in PAGES:
            target = url + path.format(**values)
            server, load, ready = [], [], []
            for attempt in range(runs + 1):  # the first load warms up, it is not counted
                started = time.perf_counter()
                page.goto(target, wait_until="load")
                page.wait_for_selector(ready_selector, timeout=60_000)
                ready_ms = (time.perf_counter() - started) * 1000
                timing = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return [n.responseEnd - n.requestStart, n.loadEventEnd - n.startTime]; }"
                )
                if attempt:
                    server.append(timing[0])
                    load.append(timing[1])
                    ready.append(ready_ms)
            rows.append(
                {
                    "page": name,
                    "server_ms": round(statistics.median(server)),
                    "load_ms": round(statistics.median(load)),
                    "ready_ms": round(statistics.median(ready)),
                    "ready_max_ms": round(max(ready)),
                }
            )
            print(rows[-1], flush=True)
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8091)
    options = parser.parse_args()
    cookie, values, count = _session_cookie_and_ids()
    with dev_server(options.port) as url:
        rows = measure(url, cookie, values, options.runs)
    print(f"\n{count} active products, median of {options.runs} loads after a warm-up\n")
    print("| page | server (ms) | load event (ms) | ready (ms) | slowest ready (ms) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['page']} | {row['server_ms']} | {row['load_ms']} | {row['ready_ms']} | {row['ready_max_ms']} |")


if __name__ == "__main__":
    main()
