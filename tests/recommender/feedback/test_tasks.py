"""The beat tasks: named as the schedule names them, idempotent, and run by the real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from recommender.feedback.models import Event, ProductPopularity
from recommender.feedback.services import EventInput, feedback_events_record
from recommender.feedback.tasks import popularity_update_task, prune_feedback_task
from tests.fixtures_worker import WorkerProcess, wait_for
from tests.recommender.feedback.conftest import product


def test_beat_sends_both_tasks_by_names_the_worker_registers() -> None:
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {popularity_update_task.name, prune_feedback_task.name} <= scheduled
    assert {popularity_update_task.name, prune_feedback_task.name} <= set(app.tasks)
    assert popularity_update_task.acks_late and prune_feedback_task.acks_late


@pytest.mark.django_db
def test_the_popularity_task_counts_once_and_the_prune_task_deletes_once() -> None:
    item = product()
    feedback_events_record(events=[EventInput("click", item.pk, "c-1")])
    feedback_events_record(events=[EventInput("view", item.pk, "c-1")], now=timezone.now() - timedelta(days=400))

    assert popularity_update_task() == 1
    assert popularity_update_task() == 0
    assert prune_feedback_task() == 1
    assert prune_feedback_task() == 0
    assert Event.objects.count() == 1 and ProductPopularity.objects.filter(product_id=item.pk).exists()


def test_a_popularity_update_sent_by_name_is_run_by_the_worker(celery_worker: WorkerProcess) -> None:
    # Given a committed click (the worker has its own connection), when beat's message arrives
    item = product()
    feedback_events_record(events=[EventInput("click", item.pk, "c-1")])

    app.send_task(popularity_update_task.name)

    # Then the worker counts it
    wait_for(
        lambda: ProductPopularity.objects.filter(product_id=item.pk).exists(), timeout=60, what="the popularity row"
    )
    assert not Event.objects.filter(popularity_pending=True).exists()
