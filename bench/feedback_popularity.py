"""Popularity: a table kept by a beat task, or an aggregate over the events on every read? (issue 15, item 3)

    .venv/bin/python -m bench.feedback_popularity [--events 200000] [--products 5000] [--days 30]

On a database of its own (bench/db.py: created afresh and migrated on every run):
plants `--products` products and `--events` clicks and purchases spread over `--days`,
then measures
- the read over events: the decayed sum per product of the events of the last
  `--days`, the top 24 active products (the query a selector over events would run
  on every starter-set request), median of several runs;
- the table: the beat task's cost per event (services.popularity_update over every
  pending event, in the task's batches) and the read popular_products(limit=24).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.db import setup_django

TOP = 24


def seed(*, events: int, products: int, days: int) -> None:
    from django.db import connection

    from recommender.feedback.models import Event, PopularityState, ProductPopularity

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE catalog_product, catalog_category CASCADE")
        cursor.execute(
            f"TRUNCATE {Event._meta.db_table}, {ProductPopularity._meta.db_table}, {PopularityState._meta.db_table}"
        )
        cursor.execute(
            "INSERT INTO catalog_product (sku, title, description, brand, price, currency, stock, attributes,"
            " product_group, seller, is_active, created_at, updated_at)"
            " SELECT 'POP-' || g, 'Product ' || g, '', '', 10, 'EUR', 1, '{}', '', '', g %% 50 <> 0, now(), now()"
            " FROM generate_series(1, %s) g",
            [products],
        )
        # Skewed like shop traffic: a few products get most clicks (the square of a uniform number).
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (event_type, product_id, client_id, created_at, popularity_pending)"
            " SELECT CASE WHEN random() < 0.05 THEN 'purchase' ELSE 'click' END,"
            " (SELECT min(id) FROM catalog_product) + floor(power(random(), 2) * %s)::bigint,"
            " 'c-' || g, now() - random() * make_interval(days => %s), true"
            " FROM generate_series(1, %s) g",
            [products, days, events],
        )
        cursor.execute(f"ANALYZE catalog_product, {Event._meta.db_table}")


def timed(call: Any, runs: int = 7) -> float:
    """Median milliseconds of `runs` calls."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def read_over_events(days: int, half_life_hours: float) -> list[tuple[int, float]]:
    from django.db import connection

    from recommender.feedback.models import Event

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.product_id, sum(CASE WHEN e.event_type = 'purchase' THEN 5.0 ELSE 1.0 END"
            "   * power(2.0, -extract(epoch FROM now() - e.created_at)::float8 / 3600.0 / %s)) AS score"
            f" FROM {Event._meta.db_table} e JOIN catalog_product p ON p.id = e.product_id AND p.is_active"
            " WHERE e.event_type IN ('click', 'purchase') AND e.created_at > now() - make_interval(days => %s)"
            " GROUP BY e.product_id ORDER BY score DESC LIMIT %s",
            [half_life_hours, days, TOP],
        )
        return [(int(pk), float(score)) for pk, score in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    setup_django(database="lookalike_bench_feedback", fresh=True, migrate=True)

    from django.conf import settings
    from django.db import connection

    from recommender.feedback.selectors.popularity import popular_products
    from recommender.feedback.services import popularity_update
    from recommender.feedback.tasks import POPULARITY_BATCH

    half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    started = time.perf_counter()
    seed(events=args.events, products=args.products, days=args.days)
    seeded = time.perf_counter() - started

    over_events_ms = timed(lambda: read_over_events(args.days, half_life))
    started = time.perf_counter()
    counted = popularity_update(half_life_hours=half_life, batch_size=POPULARITY_BATCH, max_batches=10_000)
    update_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feedback_productpopularity")  # as autovacuum would after the first fill
    table_ms = timed(lambda: popular_products(limit=TOP), runs=51)

    by_events = [pk for pk, _ in read_over_events(args.days, half_life)]
    by_table = [item.product_id for item in popular_products(limit=TOP)]
    report = {
        "events": args.events,
        "products": args.products,
        "days": args.days,
        "half_life_hours": half_life,
        "seed_s": round(seeded, 1),
        "read_over_events_ms": round(over_events_ms, 1),
        "table_update_s": round(update_s, 2),
        "table_update_events_per_s": round(counted / update_s),
        "table_batch_ms": round(update_s / max(1, -(-counted // POPULARITY_BATCH)) * 1000, 1),
        "read_table_ms": round(table_ms, 2),
        # The two must agree (the table holds the same sums): the share of the top 24 they have in common.
        "same_top": len(set(by_events) & set(by_table)) / TOP,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
