"""Periodic feedback bookkeeping (queue `default`, sent by beat): popularity kept current, old events pruned."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from config.queues import REDELIVERED_AND_RETRIED, Queue
from recommender.feedback.services import feedback_prune, popularity_update

# ~0.25-0.3 s per batch of 5,000 on the 2-core development machine (bench/feedback_popularity.py).
POPULARITY_BATCH = 5000
# A run stops after this many batches and leaves the rest to the next run, so it stays inside its time limit.
POPULARITY_MAX_BATCHES = 100


@shared_task(
    name="recommender.feedback.tasks.popularity_update",
    queue=Queue.DEFAULT.value,
    # Idempotent by state: a batch's claim and its increments commit together, so a run killed
    # mid-batch counted nothing of it and a redelivery counts it once.
    **REDELIVERED_AND_RETRIED,
    max_retries=5,
    time_limit=300,
    soft_time_limit=270,
)
def popularity_update_task() -> int:
    return popularity_update(
        half_life_hours=settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS,
        batch_size=POPULARITY_BATCH,
        max_batches=POPULARITY_MAX_BATCHES,
    )


@shared_task(
    name="recommender.feedback.tasks.prune_feedback",
    queue=Queue.DEFAULT.value,
    # Deleting what is already gone deletes nothing.
    **REDELIVERED_AND_RETRIED,
    max_retries=5,
)
def prune_feedback_task() -> int:
    events, rows = feedback_prune(
        older_than=timedelta(days=settings.FEEDBACK_RETENTION_DAYS),
        half_life_hours=settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS,
    )
    return events + rows
