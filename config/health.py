"""Liveness and readiness probes.

/healthz says the process is up (no I/O). /readyz checks each dependency a
request or an upload needs, and that the query encoders have loaded
(embeddings/warmup.py), and names what is not ready with a 503. Read replicas
are listed too, each "ok" or why it is skipped; a skipped replica does not make
the process unready (its reads go to the primary, config/replicas.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.replicas import replicas_status


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the reason goes in the body
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return f"database unreachable: {exc.__class__.__name__}: {first_line}"
    if row is None:
        return "pgvector extension is not installed (run `python manage.py migrate`)"
    return None


def _check_broker() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:  # connection refused, timeout, auth: all mean the broker is down
        return f"broker unreachable: {exc.__class__.__name__}: {exc}"
    return None


def _check_encoders() -> str | None:
    from embeddings import warmup

    state = warmup.state()
    return None if state in ("off", "ready") else f"query encoders {state}"


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker(), "encoders": _check_encoders()}
    problems = {name: reason for name, reason in checks.items() if reason}
    body: dict[str, object] = {
        "status": "ready" if not problems else "unavailable",
        "checks": {name: (reason or "ok") for name, reason in checks.items()},
    }
    if settings.DATABASE_REPLICAS:
        body["replicas"] = replicas_status()
    return JsonResponse(body, status=503 if problems else 200)
