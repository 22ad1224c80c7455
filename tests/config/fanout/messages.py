"""The fan-out tasks' messages on the real Redis broker, read back and run in this process as a worker runs them.

No worker consumes the project's queues while no test owns it (tests/fixtures_worker.py),
so what `run_shard.delay` and `finish_fanout.delay` publish stays on the `default` queue.
`published` takes it off the broker, decoded from the real messages, as a worker fetches
them; `Sent.run` runs the task itself (its Celery `apply`, in this process and the test's
transaction) with the on-commit callbacks it registers executed, so the last shard's
finish is published to the broker in its turn. A message taken and never run, or purged
(`purge_queues`), is one lost with a worker that died; a message run twice is a redelivery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from django.test import TestCase

from config.celery import app
from config.fanout import tasks
from config.queues import Queue
from tests.fixtures_worker import purge_queues

__all__ = ["Sent", "committed", "drain", "empty_queues", "finish", "published", "purge_queues", "shard"]

T = TypeVar("T")


@dataclass(frozen=True)
class Sent:
    """One task message as the broker holds it: the task's name and its positional arguments."""

    task: str
    args: tuple[Any, ...]

    def run(self) -> Any:
        """What the task returns when a worker runs this message (its exceptions raised)."""
        with TestCase.captureOnCommitCallbacks(execute=True):
            return app.tasks[self.task].apply(args=self.args, throw=True).get()


def shard(fanout_id: int, number: int) -> Sent:
    return Sent(tasks.run_shard.name, (fanout_id, number))


def finish(fanout_id: int) -> Sent:
    return Sent(tasks.finish_fanout.name, (fanout_id,))


def published(count: int | None = None) -> list[Sent]:
    """The messages waiting on the `default` queue (at most `count`), oldest first, taken off the broker."""
    taken: list[Sent] = []
    with app.connection_for_read() as connection:
        queue = app.amqp.queues[Queue.DEFAULT.value](connection.default_channel)
        while count is None or len(taken) < count:
            message = queue.get(no_ack=True, accept=["json"])
            if message is None:
                break
            args, kwargs, _ = message.decode()  # Celery's message protocol 2: (args, kwargs, embed)
            assert not kwargs, f"{message.headers['task']} was sent keyword arguments: {kwargs}"
            taken.append(Sent(message.headers["task"], tuple(args)))
    return taken


def drain(*taken: Sent) -> list[Any]:
    """Run `taken`, then every message on the queue and those they publish, in order, until none is left."""
    pending, results = list(taken), []
    while pending or (pending := published()):
        results.append(pending.pop(0).run())
    return results


def committed(call: Callable[[], T]) -> T:
    """Run `call` with the on-commit callbacks it registers executed (the test's transaction never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return call()


@pytest.fixture
def empty_queues() -> Iterator[None]:
    """The queues empty when the test starts, and emptied again when it ends (nothing left for later tests)."""
    purge_queues()
    yield
    purge_queues()
