"""Product filters and exclusions, compiled to one SQL predicate over `catalog_product p`.

Every ranking path (HNSW, iterative, exact, full-text, the selectivity
estimate) uses the same predicate, so "what matches the filters" has exactly
one definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from recommender.duplicates.models import DuplicatePair

PAIRS = DuplicatePair._meta.db_table


@dataclass(frozen=True)
class ProductFilters:
    category_id: int | None = None
    category: str | None = None  # the slug as asked, for diagnostics
    brand: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    def is_empty(self) -> bool:
        return not self.applied()

    def applied(self) -> dict[str, Any]:
        """The filters as the client asked them (diagnostics and the log)."""
        applied: dict[str, Any] = {}
        if self.category is not None:
            applied["category"] = self.category
        if self.brand is not None:
            applied["brand"] = self.brand
        if self.min_price is not None:
            applied["min_price"] = str(self.min_price)
        if self.max_price is not None:
            applied["max_price"] = str(self.max_price)
        if self.in_stock is not None:
            applied["in_stock"] = self.in_stock
        for name, value in self.attributes:
            applied[f"attr.{name}"] = value
        return applied


@dataclass(frozen=True)
class Exclusions:
    """Products never to return: the source itself, its variants, its re-listed copies, what the shopper saw."""

    product_ids: tuple[int, ...] = ()
    product_groups: tuple[str, ...] = field(default=())
    # The variants of this product (its product_group, read by the statement itself: no round trip first).
    variants_of: int | None = None
    # Every product the duplicate detector paired with this one (open or confirmed pairs, any tier;
    # a "not duplicate" decision deletes the pair), read by the statement itself: a copy found later
    # leaves "more like this" as soon as its pair is written, whether candidates came from the HNSW
    # index or from the stored neighbour lists (both are filtered by this predicate).
    duplicates_of: int | None = None
    # Store-wide exclusion rules (recommender.merchandising): (source category id, excluded category id)
    # pairs, applied with the category of product `category_rules_of`, read by the statement itself.
    category_rules: tuple[tuple[int, int], ...] = ()
    category_rules_of: int | None = None
    # Products with this product's title and brand (a re-listing keeps both; settings.SIMILAR_EXCLUDE_SAME_LISTING).
    same_listing_of: int | None = None

    def applied(self) -> list[str]:
        """What is excluded, by rule (diagnostics)."""
        rules = [
            ("products", bool(self.product_ids)),
            ("product_groups", bool(self.product_groups)),
            ("variants", self.variants_of is not None),
            ("duplicate_pairs", self.duplicates_of is not None),
            ("category_rules", bool(self.category_rules) and self.category_rules_of is not None),
            ("same_title_brand", self.same_listing_of is not None),
        ]
        return [name for name, on in rules if on]


def _attribute_candidates(value: str) -> list[Any]:
    """`attr.size=42` must match both {"size": "42"} and {"size": 42}: JSON has no single spelling."""
    candidates: list[Any] = [value]
    try:
        parsed = json.loads(value)
    except ValueError:
        return candidates
    if isinstance(parsed, (int, float, bool)) and parsed != value:
        candidates.append(parsed)
    return candidates


def attribute_sql(name: str, value: str) -> tuple[str, list[Any]]:
    """`p.attributes` holds name = value, either spelling (`@>`, so the GIN index on attributes serves it)."""
    alternatives = [json.dumps({name: candidate}) for candidate in _attribute_candidates(value)]
    return "(" + " OR ".join(["p.attributes @> %s::jsonb"] * len(alternatives)) + ")", alternatives


def filter_sql(filters: ProductFilters, exclusions: Exclusions | None = None) -> tuple[str, list[Any]]:
    """`p.is_active AND ...` with its parameters; `p` is catalog_product."""
    clauses = ["p.is_active"]
    params: list[Any] = []
    if filters.category_id is not None:
        clauses.append("p.category_id = %s")
        params.append(filters.category_id)
    if filters.brand is not None:
        clauses.append("p.brand = %s")
        params.append(filters.brand)
    if filters.min_price is not None:
        clauses.append("p.price >= %s")
        params.append(filters.min_price)
    if filters.max_price is not None:
        clauses.append("p.price <= %s")
        params.append(filters.max_price)
    if filters.in_stock is True:
        clauses.append("p.stock > 0")
    elif filters.in_stock is False:
        clauses.append("p.stock = 0")
    for name, value in filters.attributes:
        clause, values = attribute_sql(name, value)
        clauses.append(clause)
        params.extend(values)
    if exclusions is not None:
        if exclusions.product_ids:
            clauses.append("p.id <> ALL(%s)")
            params.append(list(exclusions.product_ids))
        if exclusions.product_groups:
            clauses.append("p.product_group <> ALL(%s)")
            params.append(list(exclusions.product_groups))
        if exclusions.variants_of is not None:
            # The source's group comes from an InitPlan, evaluated once; a product without a group ('')
            # has no variants. Spelt with "= ''" first so the planner's estimate stays that of "nearly
            # every row" (the MCV of product_group is usually ''): IS DISTINCT FROM an unknown value
            # was estimated at one row, and the planner then chose to sort instead of using HNSW.
            clauses.append(
                "(p.product_group = '' OR p.product_group <> "
                "COALESCE((SELECT s.product_group FROM catalog_product s WHERE s.id = %s), ''))"
            )
            params.append(exclusions.variants_of)
        if exclusions.duplicates_of is not None:
            # An InitPlan, run once per statement through the pair table's two indexes (low, high);
            # "<> ALL(array)" keeps the planner's estimate at "nearly every row", like the variants clause.
            clauses.append(
                f"p.id <> ALL(COALESCE((SELECT array_agg(CASE WHEN d.product_low_id = %s THEN d.product_high_id "
                f"ELSE d.product_low_id END) FROM {PAIRS} d WHERE d.product_low_id = %s OR d.product_high_id = %s), "
                "'{}'::bigint[]))"
            )
            params.extend([exclusions.duplicates_of] * 3)
        if exclusions.category_rules and exclusions.category_rules_of is not None:
            # The categories the rules keep out of the source's "more like this": an InitPlan, run once.
            clauses.append(
                "(p.category_id IS NULL OR p.category_id <> ALL(COALESCE((SELECT array_agg(r.excluded) "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS r(source, excluded) "
                "WHERE r.source = (SELECT s.category_id FROM catalog_product s WHERE s.id = %s)), '{}'::bigint[])))"
            )
            sources, excluded = zip(*exclusions.category_rules, strict=True)
            params.extend([list(sources), list(excluded), exclusions.category_rules_of])
        if exclusions.same_listing_of is not None:
            # Product.listing_key is stored, so this is one text comparison a row. The source's key comes
            # from an InitPlan, run once; a source without a title has none (''), which no product's key
            # equals (an empty title still leaves "| brand"). "<>" against one unknown value keeps the
            # planner's estimate at "nearly every row", as for the variants clause.
            clauses.append(
                "p.listing_key <> COALESCE((SELECT s.listing_key FROM catalog_product s "
                "WHERE s.id = %s AND btrim(s.title) <> ''), '')"
            )
            params.append(exclusions.same_listing_of)
    return " AND ".join(clauses), params
