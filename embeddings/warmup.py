"""A web process loads the query encoders as it starts, so the first shopper's search does not wait for them.

Loading a text tower took 29 s on a busy machine, paid by whoever searched
first. config/wsgi.py (imported by gunicorn and runserver; the worker and the
management commands never import it) calls `start()` when
WEB_PRELOAD_ENCODERS is on. Until the models are in: /readyz answers 503
"encoders: loading", so a load balancer sends this process nothing yet; a
request that needs a model gets a 503 with Retry-After instead of a hang; and
/similar/, which needs none, is served at once.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# Written by the loading thread, read by request threads: the lock makes the pair consistent.
_lock = threading.Lock()
_started = False
_finished = threading.Event()
_error: str | None = None


def start() -> None:
    """Load, on a thread of its own, the encoders queries compare against (idempotent)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    threading.Thread(target=_load, name="warm-up-encoders", daemon=True).start()


def state() -> str:
    """'off' (never started: models load on first use), 'loading', 'ready' or 'failed: <reason>'."""
    with _lock:
        if not _started:
            return "off"
        if not _finished.is_set():
            return "loading"
        return f"failed: {_error}" if _error else "ready"


def loading() -> bool:
    return state() == "loading"


def _encoder_names() -> list[str]:
    """The active encoders' registry names (what queries compare against), else the configured ones."""
    from django.db import connection

    from embeddings.models import Space
    from embeddings.selectors import active_encoder, configured_encoder_name

    try:
        names = []
        for space in Space.values:
            active = active_encoder(space)
            names.append(active.name if active is not None else configured_encoder_name(space))
        return names
    finally:
        connection.close()  # this thread's own connection: not left open for the process's life


def _load() -> None:
    global _error
    from embeddings.encoders import get_encoder

    try:
        names = _encoder_names()
        for name in names:
            get_encoder(name)
        logger.info("query encoders loaded: %s", ", ".join(names))
    except Exception as exc:  # any failure: the requests that need the model say it, /readyz says it
        with _lock:
            _error = f"{type(exc).__name__}: {exc}"
        logger.exception("query encoders could not be loaded")
    finally:
        _finished.set()
