"""Celery tasks of fanned-out bulk jobs (queue `default`): one per shard, one to finish (see fanout.services).

They take ids, re-fetch, and are idempotent by state (a shard's done mark, the
run's finished_at), so acks_late and retries are safe. A shard loads the whole
catalogue's vectors the first time a process meets its run (minutes at a
million photos), hence the long time limit; config.celery's visibility_timeout
(an hour) is longer still, so a shard running its full time is never
redelivered to a second worker while the first still works on it.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from config.fanout.services import fanout_finish, shard_run
from config.queues import REDELIVERED_AND_RETRIED, Queue

OPTIONS: dict[str, Any] = {
    "queue": Queue.DEFAULT.value,
    **REDELIVERED_AND_RETRIED,
    "max_retries": 5,
    "time_limit": 1800,
    "soft_time_limit": 1740,
}


@shared_task(name="fanout.tasks.run_shard", **OPTIONS)
def run_shard(fanout_id: int, number: int) -> bool:
    return shard_run(fanout_id=int(fanout_id), number=int(number))


@shared_task(name="fanout.tasks.finish_fanout", **OPTIONS)
def finish_fanout(fanout_id: int) -> bool:
    return fanout_finish(fanout_id=int(fanout_id))
