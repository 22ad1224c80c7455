"""Choosing how one k-NN query runs: plain HNSW, iterative HNSW, or an exact scan.

pgvector applies WHERE clauses *after* the HNSW scan: with ef_search = 100 and
a filter matching 1% of the catalog, a plain index scan yields about one row.
So the filter's selectivity decides the path, per query:

- no filter, or a broad one: a plain HNSW scan with ef_search scaled by
  1 / selectivity, so enough rows survive the filter;
- a medium one: an iterative index scan (pgvector 0.8) that keeps walking the
  graph until LIMIT rows pass the filter, bounded by hnsw.max_scan_tuples;
- a very selective one: an exact scan of the B-tree/GIN-filtered rows, which
  touches only those rows and is exact by construction.

Selectivity comes from the planner's estimate (EXPLAIN, no execution), and a
small estimate is confirmed by a capped COUNT (the "small" threshold grows
with the square root of the catalogue, see plan_knn): the planner's default guess for
JSON containment is tiny, and an exact scan over half the catalog would take
seconds. Whatever the choice, the ranking falls back to the exact path when an
index path returns fewer rows than asked (see ranking.py), so a plan that is
wrong costs time, never results.

Estimates are cached per process for a minute, keyed by the filter
predicate and its parameters: a product page asks the same few filters over and
over, and the selectivity of "in stock" or "category = dresses" moves slowly,
while each EXPLAIN or capped COUNT is a round trip (the capped COUNT one that
grows with the catalogue). A stale estimate only picks a slower path; the
fallback above keeps every answer complete.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import connection

from config.process_cache import ProcessCache
from recommender.storefront.selectors.filters import ProductFilters, filter_sql


class Strategy(StrEnum):
    HNSW = "hnsw"
    ITERATIVE = "hnsw_iterative"
    EXACT = "exact"


@dataclass(frozen=True)
class Plan:
    strategy: Strategy
    ef_search: int
    max_scan_tuples: int
    estimated_rows: int | None
    catalog_rows: int | None
    reason: str

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.value,
            "ef_search": self.ef_search if self.strategy != Strategy.EXACT else None,
            "max_scan_tuples": self.max_scan_tuples if self.strategy == Strategy.ITERATIVE else None,
            "estimated_rows": self.estimated_rows,
            "catalog_rows": self.catalog_rows,
            "reason": self.reason,
        }


# A stale estimate only picks a slower path (see the module docstring).
_estimates: ProcessCache[tuple[str, str, tuple[str, ...]], int] = ProcessCache(ttl_seconds=60.0)


def _cached(kind: str, where: str, params: list[Any], compute: Callable[[], int]) -> int:
    return _estimates.get((kind, where, tuple(str(p) for p in params)), compute)


def _estimated_rows(where: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM catalog_product p WHERE {where}", params)
        raw = cursor.fetchone()[0]
    document = json.loads(raw) if isinstance(raw, str) else raw
    return int(document[0]["Plan"]["Plan Rows"])


def _catalog_rows() -> int:
    # reltuples is what ANALYZE last saw (-1: never analysed): then ask the planner.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'catalog_product'::regclass")
        rows = int(cursor.fetchone()[0])
    return rows if rows > 0 else _estimated_rows("TRUE", [])


def _count_capped(where: str, params: list[Any], cap: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM catalog_product p WHERE {where} LIMIT %s) capped", [*params, cap]
        )
        return int(cursor.fetchone()[0])


def plan_knn(*, filters: ProductFilters, k: int) -> Plan:
    """The path for k candidates under `filters`. Exclusions (the source, its variants, a shopper's
    history) leave out a handful of rows: they do not move the choice, and left out of the estimate
    they keep it one cache entry per filter rather than per product page."""
    ef_search = max(settings.RECOMMENDER_EF_SEARCH, k)
    max_scan = settings.RECOMMENDER_MAX_SCAN_TUPLES
    if filters.is_empty():
        return Plan(Strategy.HNSW, ef_search, max_scan, None, None, "no filters")
    where, params = filter_sql(filters)
    estimated = _cached("estimate", where, params, lambda: _estimated_rows(where, params))
    catalog = _cached("catalog", "", [], _catalog_rows)
    # An exact scan costs ~ one distance per matching row (M); an iterative scan visits
    # ~ k / (M / N) graph nodes, each several distances. Exact wins while M^2 < c * k * N.
    exact_max = max(
        settings.RECOMMENDER_EXACT_MAX_ROWS, int(math.sqrt(settings.RECOMMENDER_EXACT_COST_RATIO * k * catalog))
    )
    if estimated <= exact_max:
        # Confirm before committing to a scan whose cost grows with the matching rows.
        cap = 2 * exact_max + 1
        counted = _cached(f"count<{cap}", where, params, lambda: _count_capped(where, params, cap))
        if counted <= 2 * exact_max:
            return Plan(Strategy.EXACT, ef_search, max_scan, counted, catalog, f"{counted} rows match the filters")
        estimated = counted
    fraction = min(1.0, estimated / max(catalog, 1))
    if fraction >= settings.RECOMMENDER_BROAD_FRACTION:
        # Plain scan: ask the graph for enough neighbours that `k` survive the filter.
        widened = min(1000, max(ef_search, math.ceil(k / fraction * 1.5)))
        return Plan(Strategy.HNSW, widened, max_scan, estimated, catalog, f"broad filter (~{fraction:.0%})")
    # Iterative: scanning about k / fraction tuples finds k matches; allow 4x for clustering.
    scan = max(max_scan, math.ceil(4 * k / max(fraction, 1e-6)))
    return Plan(Strategy.ITERATIVE, ef_search, scan, estimated, catalog, f"medium filter (~{fraction:.1%})")
