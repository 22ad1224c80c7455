"""Exponentially decayed popularity, kept as logarithms relative to a fixed epoch.

A product's popularity at time t is  sum_i  w_i * 2 ** -((t - t_i) / H)  over its
counted events (t_i their times, w_i their weights, H the half-life). Rewritten as
2 ** -((t - E) / H) * sum_i w_i * 2 ** ((t_i - E) / H)  for a fixed epoch E, the sum
no longer depends on t: an event adds its own term once and no stored row is ever
decayed again, and since every product shares the factor in front, ordering by the
stored sum is ordering by current popularity. The sum grows like 2 ** (age / H), so it
is stored as its natural logarithm (log_score): adding a term is a log-sum-exp, and
no float overflows however long the table lives.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from recommender.feedback.models import EventType

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# A purchase is the rarer and stronger signal; five clicks' worth is a choice, not a measurement.
WEIGHTS = {EventType.CLICK.value: 1.0, EventType.PURCHASE.value: 5.0}
# exp() of anything below this underflows in PostgreSQL (an error, not a zero): differences are clamped to it.
MIN_EXPONENT = -700.0


def growth_per_hour(half_life_hours: float) -> float:
    """d(log_score)/dt of one event's term, per hour: ln 2 / H."""
    return math.log(2.0) / half_life_hours


def log_unit(at: datetime, *, half_life_hours: float) -> float:
    """log_score of one fresh event of weight 1 at `at`: (t - E) ln 2 / H. A score is exp(log_score - this)."""
    return (at - EPOCH).total_seconds() / 3600.0 * growth_per_hour(half_life_hours)


def log_term(*, weight: float, at: datetime, half_life_hours: float) -> float:
    """log_score of one event: ln w + (t - E) ln 2 / H."""
    return math.log(weight) + log_unit(at, half_life_hours=half_life_hours)


def current_score(log_score: float, *, now: datetime, half_life_hours: float) -> float:
    """The decayed, weighted event count at `now` (one fresh click is 1.0; it is 0.5 one half-life later)."""
    exponent = log_score - log_unit(now, half_life_hours=half_life_hours)
    return math.exp(exponent) if exponent > MIN_EXPONENT else 0.0


def current_score_sql(column: str, *, now: datetime, half_life_hours: float) -> tuple[str, list[Any]]:
    """current_score() as an SQL expression over a log_score `column`, and its parameters (NULL gives 0)."""
    # The same float8 subtraction as current_score(), and the same clamp: exp() of less would be an error.
    exponent = f"({column} - %s::float8)"
    unit = log_unit(now, half_life_hours=half_life_hours)
    return f"CASE WHEN {exponent} > %s::float8 THEN exp({exponent}) ELSE 0::float8 END", [unit, MIN_EXPONENT, unit]


def log_floor(score: float, *, now: datetime, half_life_hours: float) -> float:
    """The log_score below which a row's current score is under `score` (rows under it are pruned)."""
    return math.log(score) + log_unit(now, half_life_hours=half_life_hours)
