"""A real Celery worker process on the pytest test database, owned by the tests that need it; a private MEDIA_ROOT.

Registered once, in tests/conftest.py (a session fixture imported into several
conftest files would be instantiated once per directory, giving several workers
and several MEDIA_ROOTs).

The worker is `python manage.py worker --pool solo` started once per session
with the parent's environment plus DATABASE_URL naming the test database,
MEDIA_ROOT pointing at the session's media directory and the `lite` profile.
It starts consuming no queue of the project. A test that requests
`celery_worker` (marked `django_db(transaction=True)`: the worker is another
process and only sees committed rows) owns it for its duration: the queues are
purged of other tests' leftovers, the worker starts consuming them, and at the
end it stops consuming and is drained (no task running or reserved) before the
test's flush empties the tables. So the worker never holds locks while a flush
runs, and tests that do not own it never race it for their rows.
It logs to a file under pytest's tmp dir (`celery_worker.log_path`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from config.queues import ALL_QUEUES

__all__ = ["WorkerProcess", "celery_worker", "child_process_env", "media_root", "session_worker", "wait_for"]

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_MARKER = "embedding models loaded"
HOSTNAME = "lookalike-tests@%h"
# What the worker consumes while no test owns it: a queue nothing is ever sent to.
IDLE_QUEUE = "lookalike-tests-idle"
DRAIN_TIMEOUT = 120


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def database_url_for_tests() -> str:
    """DATABASE_URL of the database this test session uses (pytest-django's test database)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or ""
    port = db.get("PORT") or ""
    if host.startswith("/"):
        # A unix socket directory goes in the query string, as libpq (and config.database_url) accept it.
        port_part = f"&port={port}" if port else ""
        return f"postgresql://{user}{password}@/{quote(db['NAME'])}?host={quote(host)}{port_part}"
    return f"postgresql://{user}{password}@{host}{f':{port}' if port else ''}/{quote(db['NAME'])}"


def child_process_env(**extra: str) -> dict[str, str]:
    """The environment for a manage.py child that must share this test session's database, broker and media."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CATALOG_MAP_ROOT": str(settings.CATALOG_MAP_ROOT),
        "EMBEDDINGS_PROFILE": os.environ.get("EMBEDDINGS_PROFILE", "lite"),
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def purge_queues() -> None:
    """Drop every message waiting on the project's queues (leftovers of tests that did not own the worker)."""
    from config.celery import app

    app.control.purge()


class WorkerProcess:
    """One `manage.py worker` child; start/kill/restart it, and own it (consume the queues) from tests."""

    def __init__(
        self, log_path: Path, env: dict[str, str], *, argv: list[str] | None = None, hostname: str = HOSTNAME
    ) -> None:
        self.log_path = log_path
        self.env = env
        self.argv = argv or ["--pool", "solo", "--concurrency", "1", f"--queues={IDLE_QUEUE}"]
        self.node = hostname
        self.process: subprocess.Popen[bytes] | None = None
        self.owned = False
        self._log_offset = 0

    @property
    def hostname(self) -> str:
        return self.node.replace("%h", os.uname().nodename)

    def start(self, *, timeout: float = 240) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker", *self.argv, "--loglevel", "INFO", f"--hostname={self.node}"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(
            self._ready, timeout=timeout, interval=0.25, what=f"the worker to load its models (log: {self.log_path})"
        )
        if self.owned:  # a restart inside an owning test consumes again at once
            self._set_consuming(True)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
        return READY_MARKER in self.new_log()

    def _set_consuming(self, consume: bool) -> None:
        from config.celery import app

        command = app.control.add_consumer if consume else app.control.cancel_consumer
        for queue in ALL_QUEUES:
            # reply=True waits for the worker's answer: consuming has (not) begun when this returns.
            replies = command(queue, destination=[self.hostname], reply=True, timeout=10)
            if not replies:
                pytest.fail(f"the worker did not answer {command.__name__}({queue}) (log: {self.log_path})")

    def _idle(self) -> bool:
        """No task running and none prefetched. A solo worker busy with a task answers nothing: not idle."""
        from config.celery import app

        inspect = app.control.inspect(destination=[self.hostname], timeout=1.0)
        active, reserved = inspect.active(), inspect.reserved()
        if not active or not reserved:
            return False
        return not active.get(self.hostname) and not reserved.get(self.hostname)

    def own(self) -> None:
        """Start consuming the project's queues, after dropping what other tests left on them."""
        purge_queues()
        self.owned = True
        self._set_consuming(True)

    def release(self) -> None:
        """Stop consuming and wait until nothing runs (twice in a row: a finishing task may still commit)."""
        self.owned = False
        if self.process is None or self.process.poll() is not None:
            return
        self._set_consuming(False)
        wait_for(lambda: self._idle() and self._idle(), timeout=DRAIN_TIMEOUT, interval=0.2, what="the worker to drain")
        purge_queues()

    @contextmanager
    def owning(self) -> Iterator[WorkerProcess]:
        self.own()
        try:
            yield self
        finally:
            self.release()

    def mark_log(self) -> None:
        """From now on, new_log() returns only what the worker logs after this point."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def new_log(self) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acks, the database connection just drops."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def ensure_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.start()


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A MEDIA_ROOT (and a catalogue-map folder) of this session's own, shared with the worker child.

    One fixed directory per session: conftests in several test directories import
    this fixture, and every instance must point Django at the same place.
    """
    path = tmp_path_factory.getbasetemp() / "media"
    path.mkdir(exist_ok=True)
    with override_settings(MEDIA_ROOT=path, CATALOG_MAP_ROOT=tmp_path_factory.getbasetemp() / "maps"):
        yield path


@pytest.fixture(scope="session")
def session_worker(
    django_db_setup: None, django_db_blocker: Any, media_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """The session's worker process, consuming nothing until a test owns it (see `celery_worker`)."""
    with django_db_blocker.unblock():
        env = child_process_env()
    purge_queues()
    worker = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log", env)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(session_worker: WorkerProcess, transactional_db: None) -> Iterator[WorkerProcess]:
    """The real worker, owned by this test: it consumes the queues now and is drained before the flush."""
    session_worker.ensure_running()
    with session_worker.owning():
        yield session_worker
