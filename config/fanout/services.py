"""Fan a bulk job out over Celery: split its keys into shards, run each as a task, finish once.

1. `fanout_start` (in the caller's transaction, with the job's own progress
   row): the keys, sorted, cut into contiguous ranges (low, high] of near-equal
   size, one Shard row each; one `run_shard` message per shard, sent on commit.
2. `shard_run` (a worker): the job's catalogue loaded once per process and run
   (fanout.jobs.loaded_for), the shard's result computed outside any
   transaction, then in one transaction: the shard marked done by a conditional
   UPDATE (a redelivered or resent copy that comes second finds it done and
   stores nothing), the run's count of done shards raised, the result stored.
   So a killed worker leaves its shard undone and whole, never half-written.
3. The transaction that completes the last shard sends `finish_fanout` on
   commit; `fanout_finish` claims the run (finished_at, conditional on every
   shard done) in the transaction that does the job's final step, so it runs once
   however many copies are sent. There is no result backend (config/settings.py),
   so this count under the run's row lock is the chord.
4. Resuming (`fanout_resume`, e.g. the command run again) resends the
   shards not done; with every shard done but the run unfinished (a lost finish
   message) it resends the finish.

Lock order: Shard row, FanOut row, then the job's own lock (taken by its store
and finish): the same in every transaction here, so they never deadlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.fanout.jobs import forget_loaded, job_for, loaded_for
from config.fanout.models import FanOut, Shard

logger = logging.getLogger(__name__)
# How often a command waiting for the workers looks at the run: one indexed read.
POLL_SECONDS = 0.5


def shard_bounds(keys: np.ndarray, shards: int, *, after: int = 0) -> list[tuple[int, int]]:
    """Ascending `keys` (all > after) cut into at most `shards` ranges (low, high] of near-equal count."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    bounds, low = [], after
    for part in np.array_split(np.asarray(keys, dtype=np.int64), shards):
        if len(part):
            bounds.append((low, int(part[-1])))
            low = int(part[-1])
    return bounds


def fanout_of(kind: str, job_id: int) -> FanOut | None:
    return FanOut.objects.filter(kind=kind, job_id=job_id).first()


def fanout_start(
    *, kind: str, job_id: int, keys: np.ndarray, shards: int, params: Mapping[str, Any], after: int = 0
) -> FanOut:
    """Record the run and its shards over the `keys` above `after`; send them when the caller's transaction commits."""
    keys = np.asarray(keys, dtype=np.int64)
    bounds = shard_bounds(keys[keys > after], shards, after=after)
    # Only the latest run of a kind is kept, as a record of how it went.
    FanOut.objects.filter(kind=kind, finished_at__isnull=False).delete()
    fanout = FanOut.objects.create(kind=kind, job_id=job_id, params=dict(params), shards_total=len(bounds))
    Shard.objects.bulk_create(
        Shard(fanout=fanout, number=number, low=low, high=high) for number, (low, high) in enumerate(bounds)
    )
    fanout_enqueue(fanout)
    return fanout


def fanout_enqueue(fanout: FanOut) -> None:
    """On commit: a message per shard not done yet, or the finish when every shard is done."""
    from config.fanout import tasks

    numbers = list(Shard.objects.filter(fanout=fanout, done_at__isnull=True).values_list("number", flat=True))

    def send() -> None:
        if not numbers:
            tasks.finish_fanout.delay(fanout.pk)
        for number in numbers:
            tasks.run_shard.delay(fanout.pk, number)

    transaction.on_commit(send)


def fanout_resume(kind: str, job_id: int, *, resume: bool) -> FanOut | None:
    """For a job found unfinished: its run, with the shards not done sent again (`resume`); else None.

    None when the job has no run (a single process left it interrupted), or when
    not resuming: then its run is discarded, and the caller starts the job over.
    """
    fanout = fanout_of(kind, job_id)
    if fanout is not None and resume:
        fanout_enqueue(fanout)
        return fanout
    if not resume:
        fanout_discard(kind, job_id)
    return None


def fanout_discard(kind: str, job_id: int) -> None:
    """Forget a job's run (its job was restarted or deleted): its shards' messages then find nothing to do."""
    FanOut.objects.filter(kind=kind, job_id=job_id).delete()


def shard_run(*, fanout_id: int, number: int) -> bool:
    """Compute and store one shard (step 2); False when there was nothing to do."""
    shard = Shard.objects.select_related("fanout").filter(fanout_id=fanout_id, number=number).first()
    if shard is None or shard.done_at is not None or shard.fanout.finished_at is not None:
        logger.info("fanout %s: shard %s is gone or done, skipped", fanout_id, number)
        return False
    Shard.objects.filter(pk=shard.pk).update(started_at=timezone.now())
    fanout, job = shard.fanout, job_for(shard.fanout.kind)
    loaded = loaded_for(fanout, job)
    if loaded is None:
        logger.info(
            "fanout %s: its %s job %s is gone or over, shard %s skipped", fanout_id, fanout.kind, fanout.job_id, number
        )
        return False
    result = job.compute(fanout, loaded, shard.low, shard.high)
    with transaction.atomic():
        # Conditional: of two copies of this shard (a redelivery, a resend), the second stores nothing.
        # (A run discarded meanwhile took its shards with it: this finds no row either.)
        if not Shard.objects.filter(pk=shard.pk, done_at__isnull=True).update(done_at=timezone.now()):
            return False
        FanOut.objects.filter(pk=fanout_id).update(shards_done=F("shards_done") + 1)
        # The row stays locked by the UPDATE until commit: the shard that reads the last count is the last one.
        counts = FanOut.objects.values_list("shards_done", "shards_total").get(pk=fanout_id)
        job.store(fanout, result)
        if counts[0] == counts[1]:
            transaction.on_commit(lambda: _send_finish(fanout_id))
    if not Shard.objects.filter(fanout_id=fanout_id, started_at__isnull=True).exists():
        forget_loaded(fanout_id)  # no shard of this run is left for this process to take
    return True


def _send_finish(fanout_id: int) -> None:
    from config.fanout import tasks

    tasks.finish_fanout.delay(fanout_id)


def fanout_finish(*, fanout_id: int) -> bool:
    """The job's final step, once (step 3); False when it is not due or already done."""
    with transaction.atomic():
        claimed = FanOut.objects.filter(pk=fanout_id, finished_at__isnull=True, shards_done=F("shards_total")).update(
            finished_at=timezone.now()
        )
        if claimed:
            fanout = FanOut.objects.get(pk=fanout_id)
            job_for(fanout.kind).finish(fanout)
    forget_loaded(fanout_id)
    return bool(claimed)


class FanOutGone(Exception):
    """The run was discarded (its job restarted or deleted) while someone waited for it."""


def fanout_wait(
    fanout_id: int, *, on_progress: Callable[[int, int], None] | None = None, poll: float = POLL_SECONDS
) -> FanOut:
    """Poll until the workers finish the run; `on_progress(shards_done, shards_total)` on each change."""
    seen: tuple[int, int] | None = None
    while True:
        fanout = FanOut.objects.filter(pk=fanout_id).first()
        if fanout is None:
            raise FanOutGone(f"run {fanout_id} was discarded: its job was restarted or deleted")
        if on_progress is not None and seen != (fanout.shards_done, fanout.shards_total):
            seen = (fanout.shards_done, fanout.shards_total)
            on_progress(*seen)
        if fanout.finished_at is not None:
            return fanout
        time.sleep(poll)
