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

Merchandising (rules.py) keeps both promises: boosts only reorder a window's
candidates before it is cut, and pins take fixed positions of the first window,
the same in every window, so later windows still only append. The popularity
prior (prior.py) is added with the boosts, and keeps them the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.http import Http404

from recommender.storefront.selectors.filters import Exclusions, ProductFilters, filter_sql
from recommender.storefront.selectors.knn import FROM_LIST, Branch, Fetched, SpaceQuery, fetch_candidates
from recommender.storefront.selectors.planning import Plan, Strategy, plan_knn
from recommender.storefront.selectors.prior import PopularityPrior, apply_popularity
from recommender.storefront.selectors.rules import Rules, apply_boosts, place_pins, split_pinned, unplaced
from recommender.storefront.selectors.scoring import Scored, Weights, by_score, combine_weighted, merge, mmr

MAX_POOL_DOUBLINGS = 4
NO_QUERY_REASON = "no query vector in the active encoders' spaces (photos not embedded yet?)"


class StaleEncoders(Exception):
    """The active encoders changed since this process cached them: rank again with the new ones."""


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
    # /similar/: the product whose stored vectors are the queries (404 if it does not exist).
    source_product_id: int | None = None
    # Merchandising: boosts added to combined before ordering, pins placed after (rules.py).
    rules: Rules = field(default_factory=Rules)
    # /recommendations/: popularity added to combined with the boosts (prior.py); None: off.
    popularity: PopularityPrior | None = None


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


def _check_encoders(spec: RankSpec, fetched: Fetched) -> None:
    for space, query in {**spec.scoring, **spec.spaces}.items():
        if query is not None and fetched.active_encoders.get(space) != query.encoder.identity:
            raise StaleEncoders(f"{space}: {query.encoder.identity} is no longer the active encoder")


def _present_weights(spec: RankSpec, present: list[str]) -> Weights:
    """The weights over the spaces that have a query vector: one space alone ranks by that space."""
    if len(present) == len(spec.spaces) or len(present) != 1:
        return spec.weights
    return Weights(visual=float(present[0] == "visual"), semantic=float(present[0] == "semantic"))


def _strategy(plan: Plan, origins: dict[str, str]) -> dict[str, Any]:
    listed = sorted(space for space, origin in origins.items() if origin == FROM_LIST)
    if listed and len(listed) == len(origins):
        return {
            "strategy": "neighbours",
            "reason": f"stored neighbour lists filled the window ({', '.join(listed)})",
            "ef_search": None,
            "max_scan_tuples": None,
            "estimated_rows": plan.estimated_rows,
            "catalog_rows": plan.catalog_rows,
        }
    described = plan.describe()
    if listed:
        described["reason"] += f"; stored neighbour lists filled {', '.join(listed)}"
    return described


def _plan_independent(spec: RankSpec, plan: Plan, extra: list[Branch]) -> bool:
    """Whether the ranking statement has one best plan whatever its parameters, and so is prepared.

    Without filter values (no filters, or only in_stock, a constant), candidates come from stored
    lists or an HNSW walk, each reached by an index from constants in the SQL. A filter value's best
    plan depends on the value (an exact scan must start from the filter's own index, which only the
    value's estimate picks), and so does a full-text branch's or a pin's: those are planned for their
    values, every time.
    """
    _, filter_values = filter_sql(spec.filters)
    return not filter_values and not extra and plan.strategy != Strategy.EXACT


def _rank_window(spec: RankSpec, need: int) -> _Window:
    # MMR needs a pool larger than what it returns to have something to trade.
    k = need * 2 if spec.diversity > 0 else need
    plan = plan_knn(filters=spec.filters, k=k)
    where, params = filter_sql(spec.filters, spec.exclusions)
    fallback: str | None = None
    examined = 0
    attempts = 0
    while True:
        attempts += 1
        extra = [*(spec.extra(where, params, k) if spec.extra else []), *spec.rules.pin_branch(where, params)]
        fetched = fetch_candidates(
            plan=plan,
            spaces=spec.spaces,
            scoring=spec.scoring,
            where=where,
            where_params=params,
            k=k,
            extra=extra or None,
            with_vectors=spec.diversity > 0,
            source_product_id=spec.source_product_id,
            marks=spec.rules.marks_sql(),
            popularity=spec.popularity.score_sql() if spec.popularity is not None else None,
            prepare=_plan_independent(spec, plan, extra),
        )
        if not fetched.source_found:
            raise Http404("No such product.")
        _check_encoders(spec, fetched)
        present = [space for space in spec.spaces if fetched.has_query.get(space, True)]
        if not present:
            diagnostics = {
                "strategy": "none",
                "reason": NO_QUERY_REASON,
                "spaces_with_query": [],
                "candidates_examined": 0,
            }
            return _Window(items=[], exhausted=True, diagnostics=diagnostics)
        rows = fetched.rows
        examined += len(rows)
        counts = Counter(row.tag for row in rows)
        short = [space for space in present if counts[space] < k]
        if short and plan.strategy != Strategy.EXACT:
            fallback = f"{plan.strategy.value} returned {counts[short[0]]} of {k} in {short[0]}; re-ran exactly"
            plan = replace(plan, strategy=Strategy.EXACT)
            continue
        items = merge(rows)
        if spec.max_similarity is not None:
            items = [i for i in items if i.visual is None or i.visual <= spec.max_similarity]
        exhausted = bool(short)
        if len(items) >= need or exhausted or attempts > MAX_POOL_DOUBLINGS:
            break
        k *= 2
    weights = _present_weights(spec, present)
    if spec.combine is not None:
        spec.combine(items)
    else:
        combine_weighted(items, weights)
    apply_boosts(items, spec.rules)
    apply_popularity(items, spec.popularity)
    pinned, ranked = split_pinned(items, spec.rules)
    ordered = mmr(by_score(ranked), count=max(need - len(pinned), 0), diversity=spec.diversity, weights=weights)
    ordered = place_pins(ordered, pinned, spec.rules)
    diagnostics = {
        **_strategy(plan, fetched.origins),
        "fallback": fallback,
        "candidates_examined": examined,
        "candidates_per_space": k,
        "queries": attempts,
        "spaces_with_query": sorted(present),
        "weights": {"visual": weights.visual, "semantic": weights.semantic},
    }
    if spec.rules.pins:
        diagnostics["pins_unplaced"] = unplaced(spec.rules, ordered)
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
    if spec.rules.boosts or spec.rules.pins:
        diagnostics["rules"] = spec.rules.names()
    if spec.popularity is not None:
        diagnostics["popularity_weight"] = spec.popularity.weight
    return Ranking(items=ordered[offset:end], has_more=has_more, diagnostics=diagnostics)
