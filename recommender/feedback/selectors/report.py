"""The recommendation report: per day, endpoint, mode, strategy and encoder, what was shown and what was clicked.

- lists: storefront lists served (RecommendationLog rows); impressions: the products
  they showed (one per product per list). Both come from the log, so the report
  reaches back RECOMMENDER_LOG_RETENTION_DAYS at most.
- clicks, add_to_carts, purchases: events attributed to those lists by their
  recommendation_id, each shopper (client_id) counted once per product and list: a
  double click is one click. They count on the day the list was served.
- ctr: clicks / impressions.
- encoder: the encoders of the spaces the list was ranked in (the mode's; text search
  ranks in the semantic space), as they were when it was served: the log does not
  record them, so they are read from each space's activation history
  (embeddings_spaceencoder.activated_at). An encoder retired and later re-activated
  keeps only its last activation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection

from embeddings.models import Space, SpaceEncoder
from recommender.feedback.models import Event, EventType
from recommender.storefront.models import RecommendationLog


@dataclass(frozen=True)
class ReportRow:
    day: date
    endpoint: str
    mode: str  # "" for endpoints without one (text search, recommendations)
    strategy: str
    encoder: str  # "" when the space had no active encoder yet
    lists: int
    impressions: int
    clicks: int
    add_to_carts: int
    purchases: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def ctr_percent(self) -> float:
        return 100.0 * self.ctr


COUNTS = ("lists", "impressions", "clicks", "add_to_carts", "purchases")


_REPORT = f"""
WITH epochs AS (
    SELECT space, encoder, activated_at AS since,
           lead(activated_at) OVER (PARTITION BY space ORDER BY activated_at) AS until
    FROM {SpaceEncoder._meta.db_table} WHERE activated_at IS NOT NULL
), lists AS (
    SELECT l.id, (l.created_at AT TIME ZONE 'UTC')::date AS day, l.endpoint,
           coalesce(l.params->>'mode', '') AS mode, l.strategy, cardinality(l.product_ids) AS shown,
           coalesce(v.encoder, '') AS visual, coalesce(s.encoder, '') AS semantic
    FROM {RecommendationLog._meta.db_table} l
    LEFT JOIN epochs v ON v.space = %(visual)s AND l.created_at >= v.since
                          AND (v.until IS NULL OR l.created_at < v.until)
    LEFT JOIN epochs s ON s.space = %(semantic)s AND l.created_at >= s.since
                          AND (s.until IS NULL OR l.created_at < s.until)
    WHERE l.created_at >= %(since)s AND l.created_at < %(until)s
), attributed AS (
    SELECT e.recommendation_id,
           count(DISTINCT (e.client_id, e.product_id)) FILTER (WHERE e.event_type = %(click)s) AS clicks,
           count(DISTINCT (e.client_id, e.product_id)) FILTER (WHERE e.event_type = %(cart)s) AS carts,
           count(DISTINCT (e.client_id, e.product_id)) FILTER (WHERE e.event_type = %(purchase)s) AS purchases
    FROM {Event._meta.db_table} e JOIN lists l ON l.id = e.recommendation_id
    GROUP BY e.recommendation_id
)
SELECT l.day, l.endpoint, l.mode, l.strategy, l.visual, l.semantic, count(*), sum(l.shown),
       coalesce(sum(a.clicks), 0), coalesce(sum(a.carts), 0), coalesce(sum(a.purchases), 0)
FROM lists l LEFT JOIN attributed a ON a.recommendation_id = l.id
GROUP BY 1, 2, 3, 4, 5, 6
"""


def spaces_of(endpoint: str, mode: str) -> tuple[str, ...]:
    """The spaces a logged list was ranked in: its mode's, the semantic one for text search, else both."""
    if mode in (Space.VISUAL, Space.SEMANTIC):
        return (mode,)
    if endpoint == "search":
        return (Space.SEMANTIC.value,)
    return (Space.VISUAL.value, Space.SEMANTIC.value)


def recommendation_report(*, since: date, until: date) -> list[ReportRow]:
    """Rows for the lists served from `since` to `until` (both included, UTC days): newest day first,
    then by endpoint, mode, strategy and encoder."""
    if until < since:
        raise ValueError(f"until ({until}) is before since ({since})")
    with connection.cursor() as cursor:
        cursor.execute(
            _REPORT,
            {
                "visual": Space.VISUAL.value,
                "semantic": Space.SEMANTIC.value,
                "since": since,
                "until": until + timedelta(days=1),
                "click": EventType.CLICK.value,
                "cart": EventType.ADD_TO_CART.value,
                "purchase": EventType.PURCHASE.value,
            },
        )
        rows = cursor.fetchall()
    # Grouped by both spaces' encoders in SQL; a list ranked in one space is reported under that
    # space's encoder only, so rows differing only in the other space's encoder merge here.
    merged: dict[tuple[date, str, str, str, str], list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    for day, endpoint, mode, strategy, visual, semantic, *counts in rows:
        encoders = {Space.VISUAL.value: visual, Space.SEMANTIC.value: semantic}
        used = [encoders[space] for space in spaces_of(endpoint, mode) if encoders[space]]
        key = (day, endpoint, mode, strategy, " + ".join(used))
        merged[key] = [total + int(count) for total, count in zip(merged[key], counts, strict=True)]
    ordered = sorted(merged.items(), key=lambda item: (-item[0][0].toordinal(), *item[0][1:]))
    return [ReportRow(*key, *counts) for key, counts in ordered]


def report_totals(rows: list[ReportRow]) -> ReportRow | None:
    """One row adding up `rows` (day: the first row's; the labels empty), or None for no rows."""
    if not rows:
        return None
    return ReportRow(rows[0].day, "", "", "", "", *(sum(getattr(row, name) for row in rows) for name in COUNTS))
