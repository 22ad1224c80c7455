"""The worker's metrics, from Celery's signals: nothing in the embedding pipeline knows about them.

With METRICS_WORKER_PORT set, the worker's main process (Celery's `worker_init`,
before it forks its pool) prepares the multiprocess folder, and serves
/metrics on that port: the sum of its children's files, where the children
count what their tasks did (`task_prerun` / `task_postrun`). An
`embeddings.tasks.embed_images` task is one batch (its message carries at most
EMBEDDING_CLAIM_BATCH_SIZE ids and claims at most that many photos); its
result says how many photos it claimed, embedded and failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery.signals import task_postrun, task_prerun, worker_init
from django.conf import settings

from config.metrics.access import scrape_allowed, scrape_configured
from config.metrics.exposition import multiprocess_dir_prepare

logger = logging.getLogger(__name__)

EMBED_TASK = "embeddings.tasks.embed_images"
# perf_counter at task_prerun, by task id; a child runs one task at a time, so this stays tiny.
_started: dict[str, float] = {}


def connect() -> None:
    """Called from config.apps: the worker sets itself up when (and only if) a worker starts."""
    worker_init.connect(_on_worker_init, weak=False, dispatch_uid="lookalike-metrics-worker-init")


def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    port = settings.METRICS_WORKER_PORT
    if not port:
        return
    multiprocess_dir_prepare(name=f"worker-{port}")
    install()
    serve(port)


def install() -> None:
    """Define the worker's families and count every task from now on (in this process and its forks)."""
    from config.metrics import embedding  # noqa: F401 (defines the families)

    task_prerun.connect(_task_started, weak=False, dispatch_uid="lookalike-metrics-prerun")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="lookalike-metrics-postrun")


def _task_started(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


def _task_finished(
    task_id: str | None = None, task: Any = None, retval: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    from config.metrics.embedding import BATCH_DURATION, BATCH_PHOTOS, PHOTOS_EMBEDDED, PHOTOS_FAILED, TASKS

    started = _started.pop(task_id or "", None)
    name = getattr(task, "name", "unknown")
    TASKS.labels(name, state or "unknown").inc()
    if name != EMBED_TASK or state != "SUCCESS" or not isinstance(retval, dict):
        return
    claimed = int(retval.get("claimed", 0))
    PHOTOS_EMBEDDED.inc(int(retval.get("done", 0)))
    PHOTOS_FAILED.inc(int(retval.get("failed", 0)))
    if claimed and started is not None:  # a message whose photos another batch took did no batch of its own
        BATCH_DURATION.observe(time.perf_counter() - started)
        BATCH_PHOTOS.observe(claimed)


def metrics_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The worker's /metrics (WSGI): the same access rule as the web's, the peer address as is."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from config.metrics.registry import scrape_registry

    def answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    if environ.get("PATH_INFO") != "/metrics" or not scrape_configured():
        return answer("404 Not Found", b"not found\n")
    if not scrape_allowed(address=environ.get("REMOTE_ADDR", ""), authorization=environ.get("HTTP_AUTHORIZATION", "")):
        return answer("403 Forbidden", b"forbidden: send the METRICS_TOKEN as a bearer token\n")
    return answer("200 OK", generate_latest(scrape_registry()), CONTENT_TYPE_LATEST)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # every scrape would be a log line
        pass


def serve(port: int, host: str = "0.0.0.0") -> WSGIServer:
    """Serve metrics_app on a thread of this process; returns the server (tests shut it down)."""
    server = make_server(host, port, metrics_app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    logger.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
    return server
