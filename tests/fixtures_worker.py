"""Reusable fixtures: a real Celery worker process on the pytest test database, and a private MEDIA_ROOT.

Use from a conftest.py: `from tests.fixtures_worker import *  # noqa: F403`, then
request `celery_worker` in a `@pytest.mark.django_db(transaction=True)` test
(the worker is another process: it only sees committed rows).

The worker is `python manage.py worker --pool solo` started once per session
with the parent's environment plus DATABASE_URL naming the test database,
MEDIA_ROOT pointing at the session's media directory and the `lite` profile;
it logs to a file under pytest's tmp dir (`celery_worker.log_path`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

__all__ = ["WorkerProcess", "celery_worker", "child_process_env", "media_root", "wait_for"]

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_MARKER = "embedding models loaded"


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
        "EMBEDDINGS_PROFILE": os.environ.get("EMBEDDINGS_PROFILE", "lite"),
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class WorkerProcess:
    """One `manage.py worker --pool solo` child; start/kill/restart it from tests."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self, *, timeout: float = 240) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(
            self._ready, timeout=timeout, interval=0.25, what=f"the worker to load its models (log: {self.log_path})"
        )

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
        return READY_MARKER in self.new_log()

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
    """A MEDIA_ROOT of this session's own, shared with the worker child.

    One fixed directory per session: conftests in several test directories import
    this fixture, and every instance must point Django at the same place.
    """
    path = tmp_path_factory.getbasetemp() / "media"
    path.mkdir(exist_ok=True)
    with override_settings(MEDIA_ROOT=path):
        yield path


def _purge_broker() -> None:
    """Drop messages a previous run left on this session's broker database."""
    from config.celery import app

    app.control.purge()  # every configured queue


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: Any, media_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A real Celery worker process on the test database; started once, restarted by tests that kill it."""
    with django_db_blocker.unblock():
        env = child_process_env()
    _purge_broker()
    worker = WorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log", env)
    worker.start()
    yield worker
    worker.stop()
