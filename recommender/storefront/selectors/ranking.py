"""Ranking with the k = limit guarantee, in stable windows.

`rank_page` answers one page. Results are ranked in windows of
RECOMMENDER_PAGE_WINDOW: page (offset, limit) of window n is cut from
list(n) = list(n-1) + the best of rank(n * W) not already in list(n-1). Every
page of a window therefore comes from the same candidate pool, and a later
window never repeats or reorders an earlier one: offset pagination is stable
as long as the catalogue does not change.

Within a window, candidates come from the planned path (planning.py). When an
index path returns fewer than asked, the window is re-run exactly: the filter
may be rarer near the query than the estimate said, and the exact scan is the
only path that cannot miss rows. When the similarity ceiling removes so many
candidates that the window cannot be filled, the pool is doubled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from recommender.storefront.selectors.filters import Exclusions, ProductFilters, filter_sql
from recommender.storefront.selectors.knn import Branch, SpaceQuery, fetch_candidates
from recommender.storefront.selectors.planning import Strategy, plan_knn
from recommender.storefront.selectors.scoring import Scored, Weights, by_score, combine_weighted, merge, mmr

MAX_POOL_DOUBLINGS = 4


@dataclass(frozen=True)
class RankSpec:
    spaces: dict[str, SpaceQuery]  # where candidates come from
    scoring: dict[str, SpaceQuery | None]  # what every candidate is scored against
    filters: ProductFilters
    exclusions: Exclusions
    weights: Weights
    diversity: float = 0.0
    max_similarity: float | None = None  # visual ceiling: re-listed duplicates stay out
    extra: Callable[[str, list[Any], int], list[Branch]] | None = None
    combine: Callable[[list[Scored]], None] | None = None


@dataclass
class Ranking:
    items: list[Scored]
    has_more: bool
    diagnostics: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Window:
    items: list[Scored]
    exhausted: bool
    diagnostics: dict[str, Any]


def _rank_window(spec: RankSpec, need: int) -> _Window:
    # MMR needs a pool larger than what it returns to have something to trade.
    k = need * 2 if spec.diversity > 0 else need
    plan = plan_knn(filters=spec.filters, exclusions=spec.exclusions, k=k)
    where, params = filter_sql(spec.filters, spec.exclusions)
    fallback: str | None = None
    examined = 0
    attempts = 0
    while True:
        attempts += 1
        rows = fetch_candidates(
            plan=plan,
            spaces=spec.spaces,
            scoring=spec.scoring,
            where=where,
            where_params=params,
            k=k,
            extra=spec.extra(where, params, k) if spec.extra else None,
            with_vectors=spec.diversity > 0,
        )
        examined += len(rows)
        counts = Counter(row.tag for row in rows)
        short = [space for space in spec.spaces if counts[space] < k]
        if short and plan.strategy != Strategy.EXACT:
            fallback = f"{plan.strategy.value} returned {counts[short[0]]} of {k} in {short[0]}; re-ran exactly"
            plan = replace(plan, strategy=Strategy.EXACT)
            continue
        items = merge(rows)
        if spec.max_similarity is not None:
            items = [i for i in items if i.visual is None or i.visual <= spec.max_similarity]
        exhausted = bool(short) or not spec.spaces
        if len(items) >= need or exhausted or attempts > MAX_POOL_DOUBLINGS:
            break
        k *= 2
    if spec.combine is not None:
        spec.combine(items)
    else:
        combine_weighted(items, spec.weights)
    ordered = mmr(by_score(items), count=need, diversity=spec.diversity, weights=spec.weights)
    diagnostics = {
        **plan.describe(),
        "fallback": fallback,
        "candidates_examined": examined,
        "candidates_per_space": k,
        "queries": attempts,
    }
    return _Window(items=ordered[:need], exhausted=exhausted, diagnostics=diagnostics)


def rank_page(spec: RankSpec, *, offset: int, limit: int) -> Ranking:
    window = settings.RECOMMENDER_PAGE_WINDOW
    end = offset + limit
    ordered: list[Scored] = []
    seen: set[int] = set()
    exhausted = False
    windows: list[dict[str, Any]] = []
    n = 0
    while len(ordered) < end and not exhausted:
        n += 1
        result = _rank_window(spec, n * window)
        fresh = [item for item in result.items if item.product_id not in seen][: n * window - len(ordered)]
        ordered += fresh
        seen.update(item.product_id for item in fresh)
        exhausted = result.exhausted or not fresh
        windows.append(result.diagnostics)
    has_more = (len(ordered) > end or not exhausted) and end < settings.RECOMMENDER_MAX_DEPTH
    diagnostics = {**windows[-1], "windows": len(windows), "window_size": window}
    diagnostics["candidates_examined"] = sum(w["candidates_examined"] for w in windows)
    return Ranking(items=ordered[offset:end], has_more=has_more, diagnostics=diagnostics)
