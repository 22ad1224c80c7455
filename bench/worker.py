"""A `manage.py worker` child for a benchmark: started before the measurement, stopped after it.

The worker is started first and its model load waited for, so no benchmark
counts it (`make demo` starts the worker first too). `wait_idle` waits for the
queues to drain and the worker to hold no task: the post-embedding tasks (the
duplicate check, the neighbour lists) run after a photo is `done`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.db import ROOT

READY_MARKER = "embedding models loaded"


@contextmanager
def running_worker(env: dict[str, str], log: Path, *, timeout: float = 300.0) -> Iterator[subprocess.Popen[bytes]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while READY_MARKER not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"error: the worker did not start; see {log}")
            time.sleep(0.5)
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def wait_idle(*, timeout: float = 600.0, settle: float = 3.0) -> None:
    """Until no message waits on a queue and no worker holds a task, twice `settle` seconds apart."""
    import redis
    from django.conf import settings

    from config.celery import app
    from config.queues import ALL_QUEUES

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        # The Redis transport keeps each queue's waiting messages in a list named after it.
        waiting = sum(int(broker.llen(queue)) for queue in ALL_QUEUES)
        inspect = app.control.inspect(timeout=1.0)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        busy = sum(len(tasks) for tasks in active.values()) + sum(len(tasks) for tasks in reserved.values())
        if waiting or busy or not active:  # no answer at all: a solo worker is busy with a task
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return
        time.sleep(0.5)
    raise SystemExit(f"error: the worker was still busy after {timeout:.0f} s")
