"""Merchandising rules applied to a ranking: boosts move results, pins place them.

A boost adds its amount to the `combined` score of every candidate it matches,
before the window is ordered (and before MMR), so it reorders the candidate
pool of the window without changing which candidates it holds: the k = limit
guarantee and stable pages (ranking.py) hold as before. Whether a candidate
matches is computed by the ranking statement itself (one boolean per boost,
`Rules.marks_sql`, over the candidate's catalog_product row): no round trip is
added, and none of it runs when no boost applies.

Boosts come from the request (`boost=brand:Acme:0.1`) and from the store-wide
rules (recommender.merchandising.rules, cached per process); the latter's
exclusion rules are SQL exclusions instead (filters.Exclusions.category_rules),
so the list is still filled to `limit`.

Pins are placed after scoring: each pinned product that passes the filters and
exclusions (an extra branch of the same statement finds it, whether or not it
was a candidate) takes its 1-based position in the first window; a position
past the end of a shorter list puts it last. A pin that names no product, or
one that is inactive, filtered out or excluded, is listed in
diagnostics.pins_unplaced: no error, the storefront's pin may outlive the product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from recommender.merchandising.models import RuleKind
from recommender.merchandising.rules import ScoreRule, StoreRules, store_rules
from recommender.merchandising.targets import BRAND, CATEGORY, Target
from recommender.storefront.selectors.filters import attribute_sql
from recommender.storefront.selectors.knn import Branch

if TYPE_CHECKING:
    from recommender.storefront.selectors.scoring import Scored

PIN = "pin"  # the name a pinned result carries in scores.rules


@dataclass(frozen=True)
class Boost:
    name: str  # in scores.rules: the request's "brand:Acme:0.1", or a store rule's name
    sql: str  # a predicate over catalog_product `p`
    params: tuple[Any, ...]
    amount: float


@dataclass(frozen=True)
class Pin:
    product_id: int
    position: int  # 1-based, within the first window


@dataclass(frozen=True)
class Rules:
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    # Store-wide exclusion rules for "more like this": (source category id, excluded category id).
    similar_exclusions: tuple[tuple[int, int], ...] = ()

    def marks_sql(self) -> tuple[str, list[Any]] | None:
        """One boolean per boost for the candidate's row `p`; None when there is no boost."""
        if not self.boosts:
            return None
        parts = ", ".join(f"COALESCE(({boost.sql}), false)" for boost in self.boosts)
        return f"ARRAY[{parts}]::bool[]", [value for boost in self.boosts for value in boost.params]

    def pin_branch(self, where: str, params: list[Any]) -> list[Branch]:
        """The pinned products that pass the filters and exclusions, candidates or not."""
        if not self.pins:
            return []
        sql = f"SELECT p.id AS product_id, 0::float8 AS raw FROM catalog_product p WHERE p.id = ANY(%s) AND {where}"
        return [Branch(tag=PIN, sql=sql, params=[[pin.product_id for pin in self.pins], *params])]

    def names(self) -> list[str]:
        return [boost.name for boost in self.boosts] + [f"{PIN}:{pin.product_id}:{pin.position}" for pin in self.pins]


def target_sql(target: Target, category_id: int | None) -> tuple[str, tuple[Any, ...]]:
    if target.field == BRAND:
        return "p.brand = %s", (target.value,)
    if target.field == CATEGORY:
        # A category deleted since the rule was saved matches nothing.
        return "p.category_id = %s", (category_id if category_id is not None else -1,)
    clause, values = attribute_sql(target.attribute or "", target.value)
    return clause, tuple(values)


def _store_boost(rule: ScoreRule) -> Boost:
    if rule.kind == RuleKind.BURY_OUT_OF_STOCK:
        return Boost(name=rule.name, sql="p.stock = 0", params=(), amount=rule.amount)
    if rule.kind == RuleKind.BOOST_NEW_ARRIVALS:
        since = timezone.now() - timedelta(days=rule.days or 0)
        return Boost(name=rule.name, sql="p.created_at >= %s", params=(since,), amount=rule.amount)
    assert rule.target is not None
    sql, params = target_sql(rule.target, rule.category_id)
    return Boost(name=rule.name, sql=sql, params=params, amount=rule.amount)


def ranking_rules(*, boosts: Sequence[Boost] = (), pins: Sequence[Pin] = (), store: StoreRules | None = None) -> Rules:
    """The request's boosts and pins with the store-wide rules (cached per process: no round trip per request)."""
    store = store_rules() if store is None else store
    return Rules(
        boosts=(*boosts, *(_store_boost(rule) for rule in store.score_rules)),
        pins=tuple(pins),
        similar_exclusions=store.similar_exclusions,
    )


def apply_boosts(items: Sequence[Scored], rules: Rules) -> None:
    """Add each matching boost's amount to `combined`; `boost` and `rules` say what moved it."""
    if not rules.boosts:
        return
    for item in items:
        hits = [boost for boost, hit in zip(rules.boosts, item.marks or (), strict=False) if hit]
        item.boost = sum(boost.amount for boost in hits)
        item.combined += item.boost
        item.rules = [boost.name for boost in hits]


def split_pinned(items: list[Scored], rules: Rules) -> tuple[dict[int, Scored], list[Scored]]:
    """(pinned products found, by id; the rest)."""
    if not rules.pins:
        return {}, items
    wanted = {pin.product_id for pin in rules.pins}
    pinned = {item.product_id: item for item in items if item.product_id in wanted}
    return pinned, [item for item in items if item.product_id not in pinned]


def place_pins(ordered: list[Scored], pinned: dict[int, Scored], rules: Rules) -> list[Scored]:
    """`ordered` with each found pin at its position (lowest position first, so each lands where asked)."""
    placed = list(ordered)
    for pin in sorted(rules.pins, key=lambda p: p.position):
        item = pinned.get(pin.product_id)
        if item is not None:
            item.rules = [*item.rules, PIN]
            placed.insert(min(pin.position - 1, len(placed)), item)
    return placed


def unplaced(rules: Rules, found: Sequence[Scored]) -> list[int]:
    present = {item.product_id for item in found}
    return [pin.product_id for pin in rules.pins if pin.product_id not in present]
