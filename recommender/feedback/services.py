"""Writes of feedback: recording a batch of events (all of it or none), and adding them up into popularity.

Races, and what settles each:
- The same event_id twice (a batch sent again after a timeout, or two copies in flight):
  the unique constraint; ON CONFLICT DO NOTHING stores the first, and the answer counts
  the others as duplicates.
- A product deleted while its events are being recorded: the check reads it without a
  lock. Locking the products of every batch would write to catalogue rows on each event;
  an event recorded in the instant of the deletion is kept, and popularity joins the
  products, so it never surfaces.
- Two popularity updates at once (beat sending the next run while a slow one works):
  each claims pending events with FOR UPDATE SKIP LOCKED, so no event is counted twice,
  and the claim and its increments commit together, so a killed run counts nothing and
  leaves its events pending. The increments are written in product-id order, so two
  batches touching the same products never deadlock. Both take the state row FOR SHARE;
  a rebuild (the half-life setting changed) takes it FOR UPDATE and so runs alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from catalog.models import Product
from recommender.feedback import decay
from recommender.feedback.models import POPULARITY_EVENTS, Event, EventType, PopularityState, ProductPopularity
from recommender.storefront.models import RecommendationLog

# Rows of decayed popularity worth less than this (a single click about seven half-lives ago) are pruned.
POPULARITY_FLOOR = 0.01


@dataclass(frozen=True)
class EventInput:
    event_type: str
    product_id: int
    client_id: str
    recommendation_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Problem:
    """Why one event of a batch cannot be recorded; `index` is its position in the batch."""

    index: int
    field: str
    code: str
    message: str


class EventsRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


@dataclass(frozen=True)
class Recorded:
    stored: int
    duplicates: int


def feedback_events_check(events: Sequence[EventInput]) -> list[Problem]:
    """What is wrong with each event (indexes into `events`): an unknown type, product or recommendation,
    or a recommendation that did not show the product. Two queries, whatever the batch size."""
    products = set(Product.objects.filter(pk__in={e.product_id for e in events}).values_list("pk", flat=True))
    wanted = {e.recommendation_id for e in events if e.recommendation_id is not None}
    served = dict(RecommendationLog.objects.filter(pk__in=wanted).values_list("pk", "product_ids")) if wanted else {}
    problems = []
    for index, event in enumerate(events):
        if event.event_type not in EventType.values:
            problems.append(Problem(index, "type", "unknown_event_type", f"unknown event type {event.event_type!r}"))
        if event.product_id not in products:
            problems.append(
                Problem(index, "product_id", "unknown_product", f"product {event.product_id} does not exist")
            )
        if event.recommendation_id is None:
            continue
        listed = served.get(event.recommendation_id)
        if listed is None:
            problems.append(
                Problem(
                    index,
                    "recommendation_id",
                    "unknown_recommendation",
                    f"recommendation {event.recommendation_id} does not exist (or was pruned)",
                )
            )
        elif event.product_id not in listed:
            problems.append(
                Problem(
                    index,
                    "recommendation_id",
                    "foreign_recommendation",
                    f"recommendation {event.recommendation_id} did not serve product {event.product_id}",
                )
            )
    return problems


_INSERT = f"""
INSERT INTO {Event._meta.db_table}
    (event_type, product_id, recommendation_id, client_id, event_id, created_at, popularity_pending)
SELECT t.event_type, t.product_id, t.recommendation_id, t.client_id, t.event_id, %(now)s,
       t.event_type = ANY(%(counted)s)
FROM unnest(%(types)s::text[], %(products)s::bigint[], %(recommendations)s::uuid[], %(clients)s::text[],
            %(event_ids)s::uuid[]) AS t(event_type, product_id, recommendation_id, client_id, event_id)
ON CONFLICT DO NOTHING
RETURNING id
"""


def feedback_events_record(*, events: Sequence[EventInput], now: datetime | None = None) -> Recorded:
    """Store every event of the batch, or none: raises EventsRejected naming each bad one.

    An event's product must exist, and its recommendation, when it names one, must be a
    logged list that served that product. Events whose event_id is already stored are
    skipped and counted as duplicates.
    """
    problems = feedback_events_check(events)
    if problems:
        raise EventsRejected(problems)
    # One statement for the whole batch (up to 500 rows): an array per column, not 500 INSERTs.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            {
                "now": now or timezone.now(),
                "counted": list(POPULARITY_EVENTS),
                "types": [e.event_type for e in events],
                "products": [e.product_id for e in events],
                "recommendations": [e.recommendation_id for e in events],
                "clients": [e.client_id for e in events],
                "event_ids": [e.event_id for e in events],
            },
        )
        stored = len(cursor.fetchall())
    return Recorded(stored=stored, duplicates=len(events) - stored)


def popularity_state_ensure(*, half_life_hours: float) -> bool:
    """Make the stored scores be of `half_life_hours`; True when they had to be rebuilt.

    Scores of another half-life cannot be converted (each event's term depends on it), so a
    changed half-life empties the table and marks every stored click and purchase pending
    again: the next updates count them afresh. A rare operator action: one UPDATE over the
    events kept (FEEDBACK_RETENTION_DAYS).
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The first run creates the row; two first runs at once create it once.
            cursor.execute(
                f"INSERT INTO {PopularityState._meta.db_table} (id, half_life_hours) VALUES (1, %s) "
                "ON CONFLICT (id) DO NOTHING",
                [half_life_hours],
            )
        state = PopularityState.objects.select_for_update().get(pk=1)
        if state.half_life_hours == half_life_hours:
            return False
        ProductPopularity.objects.all().delete()
        Event.objects.filter(event_type__in=POPULARITY_EVENTS, popularity_pending=False).update(popularity_pending=True)
        state.half_life_hours = half_life_hours
        state.save(update_fields=["half_life_hours"])
        return True


_CLAIM_AND_ADD = f"""
WITH claimed AS (
    UPDATE {Event._meta.db_table} SET popularity_pending = false
    WHERE id IN (
        SELECT id FROM {Event._meta.db_table} WHERE popularity_pending
        ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
    )
    RETURNING product_id, client_id, event_type, created_at
), once AS (
    -- A double click, or a batch replayed without event ids, counts once (per claim).
    SELECT DISTINCT ON (product_id, client_id, event_type) product_id, event_type, created_at
    FROM claimed ORDER BY product_id, client_id, event_type, created_at DESC
), terms AS (
    SELECT product_id,
           ln(CASE WHEN event_type = 'purchase' THEN %(purchase)s ELSE %(click)s END)
           + extract(epoch FROM created_at - %(epoch)s::timestamptz)::float8 / 3600.0 * %(rate)s AS x
    FROM once
), tops AS (
    SELECT product_id, max(x) AS top FROM terms GROUP BY product_id
), sums AS (
    -- log-sum-exp: the terms' logarithms add without ever leaving the logarithm.
    SELECT t.product_id, p.top + ln(sum(exp(greatest(t.x - p.top, %(min_exp)s)))) AS log_score
    FROM terms t JOIN tops p USING (product_id) GROUP BY t.product_id, p.top
), added AS (
    INSERT INTO {ProductPopularity._meta.db_table} AS current (product_id, log_score, updated_at)
    SELECT product_id, log_score, %(now)s FROM sums ORDER BY product_id
    ON CONFLICT (product_id) DO UPDATE SET
        log_score = greatest(current.log_score, excluded.log_score)
            + ln(1 + exp(greatest(-abs(current.log_score - excluded.log_score), %(min_exp)s))),
        updated_at = excluded.updated_at
    RETURNING 1
)
SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM added)
"""


def popularity_update_batch(*, batch_size: int, now: datetime | None = None) -> int:
    """Add up to `batch_size` pending clicks and purchases to their products' popularity; returns how many.

    The half-life is the state row's (popularity_state_ensure), read under FOR SHARE so a
    rebuild cannot interleave with this batch.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT half_life_hours FROM {PopularityState._meta.db_table} WHERE id = 1 FOR SHARE")
        row = cursor.fetchone()
        if row is None:
            return 0  # popularity_state_ensure has not run yet: nothing may be counted before it
        cursor.execute(
            _CLAIM_AND_ADD,
            {
                "batch": batch_size,
                "purchase": decay.WEIGHTS[EventType.PURCHASE],
                "click": decay.WEIGHTS[EventType.CLICK],
                "epoch": decay.EPOCH,
                "rate": decay.growth_per_hour(float(row[0])),
                "min_exp": decay.MIN_EXPONENT,
                "now": now or timezone.now(),
            },
        )
        claimed, _ = cursor.fetchone()
    return int(claimed)


def popularity_update(*, half_life_hours: float, batch_size: int, max_batches: int) -> int:
    """Count pending events in batches until none is left (or `max_batches`: the next run goes on)."""
    popularity_state_ensure(half_life_hours=half_life_hours)
    counted = 0
    for _ in range(max_batches):
        claimed = popularity_update_batch(batch_size=batch_size)
        counted += claimed
        if claimed < batch_size:
            break
    return counted


def feedback_prune(*, older_than: timedelta, half_life_hours: float, now: datetime | None = None) -> tuple[int, int]:
    """Delete events older than the retention, and popularity rows decayed to nothing or of deleted products.

    Returns (events deleted, popularity rows deleted).
    """
    now = now or timezone.now()
    events, _ = Event.objects.filter(created_at__lt=now - older_than).delete()
    floor = decay.log_floor(POPULARITY_FLOOR, now=now, half_life_hours=half_life_hours)
    faded, _ = ProductPopularity.objects.filter(log_score__lt=floor).delete()
    orphans, _ = (
        ProductPopularity.objects.annotate(exists=Exists(Product.objects.filter(pk=OuterRef("product_id"))))
        .filter(exists=False)
        .delete()
    )
    return events, faded + orphans
