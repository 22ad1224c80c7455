"""The store-wide rules as the storefront reads them: one statement per process every few seconds.

A product page must not pay a round trip for rules that change a few times a
day, so each web process remembers the enabled rules for RULES_TTL_SECONDS
(config.process_cache). An edit in the admin reaches the process that saved it
at once (the service forgets its cache) and every other process within those
seconds; a stale entry costs a few seconds of the old rule, never an error.

The storefront reads rules through this module only, and it imports nothing of
the storefront (merchandising's pages import the storefront: no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from catalog.models import Category
from config.process_cache import ProcessCache
from recommender.merchandising.models import SCORE_KINDS, MerchandisingRule, RuleKind
from recommender.merchandising.targets import Target

RULES_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class ScoreRule:
    name: str
    kind: str  # a RuleKind of SCORE_KINDS
    amount: float
    days: int | None = None  # boost_new_arrivals
    target: Target | None = None  # boost_field
    category_id: int | None = None  # boost_field on a category: its id now (None: deleted since)


@dataclass(frozen=True)
class StoreRules:
    score_rules: tuple[ScoreRule, ...] = ()
    # (source category id, excluded category id): "more like this" of the first never shows the second.
    similar_exclusions: tuple[tuple[int, int], ...] = ()


_rules: ProcessCache[str, StoreRules] = ProcessCache(ttl_seconds=RULES_TTL_SECONDS, max_entries=1)


def _load() -> StoreRules:
    category_id = Subquery(Category.objects.filter(slug=OuterRef("value")).values("id")[:1])
    rows = MerchandisingRule.objects.filter(enabled=True).annotate(target_category_id=category_id).order_by("name")
    score_rules: list[ScoreRule] = []
    exclusions: list[tuple[int, int]] = []
    for rule in rows:
        if rule.kind == RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR:
            if rule.source_category_id is not None and rule.excluded_category_id is not None:
                exclusions.append((rule.source_category_id, rule.excluded_category_id))
        elif rule.kind in SCORE_KINDS:
            target = Target(field=rule.field, value=rule.value) if rule.kind == RuleKind.BOOST_FIELD else None
            score_rules.append(
                ScoreRule(
                    name=rule.name,
                    kind=rule.kind,
                    amount=rule.amount,
                    days=rule.days,
                    target=target,
                    category_id=rule.target_category_id,
                )
            )
    return StoreRules(score_rules=tuple(score_rules), similar_exclusions=tuple(sorted(set(exclusions))))


def store_rules() -> StoreRules:
    """The enabled rules, as this process last read them (at most RULES_TTL_SECONDS ago)."""
    return _rules.get("enabled", _load)


def store_rules_forget() -> None:
    _rules.forget()
