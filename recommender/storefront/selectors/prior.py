"""The popularity prior of /recommendations/: what shoppers click and buy now moves up a little.

With `popularity_weight` w > 0, each candidate's combined score gains w * prior, where
prior = score / (score + POPULARITY_PRIOR_HALF_SCORE) and score is the product's
popularity now (recommender.feedback: decayed clicks and purchases; 0 without any). The
prior saturates below 1, so w bounds what popularity can add: a runaway bestseller cannot
outweigh relevance by more than w.

The score is read by the ranking statement itself (one scalar column over the candidate,
feedback.selectors.popularity.popularity_sql, the decay's own arithmetic): no round trip
is added, and none of it is in the statement when w is 0. Like a boost (rules.py), the
prior is added before the window is ordered and before MMR, so it reorders a window's
candidates without recruiting any: the k = limit guarantee and stable pages hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from recommender.feedback.selectors.popularity import popularity_sql

if TYPE_CHECKING:
    from recommender.storefront.selectors.scoring import Scored

# The score that earns half the weight: one fresh purchase, or five fresh clicks (a choice, not a measurement).
POPULARITY_PRIOR_HALF_SCORE = 5.0


@dataclass(frozen=True)
class PopularityPrior:
    weight: float  # 0 < weight <= 1: the most popularity can add to combined
    now: datetime  # one instant for every window of a ranking, so that its windows agree

    def score_sql(self) -> tuple[str, list[Any]]:
        """The candidate's popularity now, as a column of the ranking statement (knn.fetch_candidates)."""
        return popularity_sql("cand.product_id", now=self.now)


def popularity_prior(weight: float, *, now: datetime | None = None) -> PopularityPrior | None:
    """The prior a request's `popularity_weight` asks for; None when it is 0 (off)."""
    if weight <= 0:
        return None
    return PopularityPrior(weight=weight, now=now or timezone.now())


def saturated(score: float) -> float:
    """A popularity score mapped to [0, 1): 0 for none, 0.5 at POPULARITY_PRIOR_HALF_SCORE."""
    return score / (score + POPULARITY_PRIOR_HALF_SCORE)


def apply_popularity(items: Sequence[Scored], prior: PopularityPrior | None) -> None:
    """Add weight * saturated(score) to `combined`; `popularity` says how much (it stays None when off)."""
    if prior is None:
        return
    for item in items:
        item.popularity = prior.weight * saturated(item.popularity_score or 0.0)
        item.combined += item.popularity
