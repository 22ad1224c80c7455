"""Work a request leaves for after its response has gone out (the recommendation log).

A storefront response does not wait for the write that records it: the view
queues the write with `after_response(task)`, and the WSGI wrapper here
(config/wsgi.py wraps the application with it) runs the queued tasks when the
server closes the response, that is after the last byte went to the client and
before Django returns the request's database connection (Django's own close,
which releases it, runs last). So the shopper's latency has no log write in it.

Outside the wrapper (the test client, a management command) nothing would run
the queue, so a task runs at once: the same write, only not deferred.
A task that fails is logged and forgotten; it must never lose the response it
comes after (there is none left to lose), and it must not stop the tasks after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

logger = logging.getLogger(__name__)

Task = Callable[[], None]
_queue: ContextVar[list[Task] | None] = ContextVar("after_response_queue", default=None)


def after_response(task: Task) -> None:
    """Run `task` once this request's response is sent (now, when no server defers it)."""
    queue = _queue.get()
    if queue is None:
        task()
    else:
        queue.append(task)


def run_tasks(tasks: list[Task]) -> None:
    for task in tasks:
        try:
            task()
        except Exception:
            logger.exception("a task left for after the response failed")
    tasks.clear()


@contextmanager
def deferred() -> Iterator[list[Task]]:
    """Collect the tasks queued inside the block instead of running them (the wrapper; tests)."""
    queue: list[Task] = []
    token = _queue.set(queue)
    try:
        yield queue
    finally:
        _queue.reset(token)


class _Closing:
    """The response body, whose close() runs the request's queued tasks, then the application's close()."""

    def __init__(self, body: Iterable[bytes], tasks: list[Task]) -> None:
        self._body, self._tasks = body, tasks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            run_tasks(self._tasks)
        finally:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()


class AfterResponse:
    """WSGI middleware: defers what views queue with after_response() to the response's close()."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with deferred() as tasks:
            body = self.application(environ, start_response)
        return _Closing(body, tasks)
