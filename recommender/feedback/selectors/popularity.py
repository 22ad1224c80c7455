"""Popular products now: recent clicks and purchases, exponentially decayed (decay.py).

Served from ProductPopularity, which the beat task `popularity_update` keeps current
(at most FEEDBACK_POPULARITY_INTERVAL seconds behind), so a read is an index scan of
the top rows, whatever the number of events. Reading the events themselves costs an
aggregate over every event of the last few half-lives on each request: see
bench/feedback_popularity.py and BENCHMARKS.md for the measurement behind this choice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from recommender.feedback import decay
from recommender.feedback.models import ProductPopularity

# Below this a product is not "popular" at all: about one click four half-lives ago.
MIN_SCORE = 0.05
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Popular:
    product_id: int
    # Decayed, weighted events now: a fresh click is 1.0, a purchase 5.0, each halving every half-life.
    score: float


def popular_products(
    *,
    limit: int,
    category_id: int | None = None,
    in_stock: bool | None = None,
    exclude: Collection[int] = (),
    now: datetime | None = None,
) -> list[Popular]:
    """The `limit` most popular active products, most popular first (fewer when fewer have any recent signal).

    `category_id` and `in_stock` filter as the storefront's filters do; `exclude` leaves
    products out (the ones a shopper has seen). Scores are as of `now` (default: now). One query.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
    half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    now = now or timezone.now()
    rows = ProductPopularity.objects.filter(
        product__is_active=True,
        log_score__gte=decay.log_floor(MIN_SCORE, now=now, half_life_hours=half_life),
    )
    if category_id is not None:
        rows = rows.filter(product__category_id=category_id)
    if in_stock is not None:
        rows = rows.filter(product__stock__gt=0) if in_stock else rows.filter(product__stock__lte=0)
    if exclude:
        rows = rows.exclude(product_id__in=list(exclude))
    ranked = rows.order_by("-log_score", "product_id").values_list("product_id", "log_score")[:limit]
    return [
        Popular(product_id=pk, score=decay.current_score(log_score, now=now, half_life_hours=half_life))
        for pk, log_score in ranked
    ]


def popularity_scores(product_ids: Collection[int], *, now: datetime | None = None) -> dict[int, float]:
    """Popularity of each of `product_ids` that has any, as of `now` (a prior for a ranking); others are absent."""
    if not product_ids:
        return {}
    half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    now = now or timezone.now()
    rows = ProductPopularity.objects.filter(product_id__in=list(product_ids)).values_list("product_id", "log_score")
    return {pk: decay.current_score(log_score, now=now, half_life_hours=half_life) for pk, log_score in rows}


def popularity_sql(product_id: str, *, now: datetime) -> tuple[str, list[Any]]:
    """The popularity of the product whose id is the SQL expression `product_id`, as of `now`, as one
    scalar SQL expression (0 without a row) and its parameters: for a statement that ranks products to
    carry as a column, so reading it adds no round trip. The same number popularity_scores() returns."""
    half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
    score, params = decay.current_score_sql("pop.log_score", now=now, half_life_hours=half_life)
    table = ProductPopularity._meta.db_table
    return f"COALESCE((SELECT {score} FROM {table} pop WHERE pop.product_id = {product_id}), 0::float8)", params
