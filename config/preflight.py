"""Fail fast, in one line, when configuration or a dependency is wrong.

Used by manage.py (and so by the web server, the worker and every management
command): a wrong DATABASE_URL or an unreachable Redis ends the process with a
single line naming the setting, not a stack trace from inside a driver.
"""

from __future__ import annotations

import sys
from typing import NoReturn

# Commands that must work without a database or broker: they start no embedded server either.
OFFLINE_COMMANDS = {"help", "version", "--help", "-h", "--version", "makemigrations", "spectacular", "check"}
# Commands that are useless without the broker: checked before they start.
BROKER_COMMANDS = {"runserver", "serve", "worker", "demo"}


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def start_local_services_or_exit(command: str) -> None:
    """Start the embedded servers the environment does not name (before settings are read)."""
    if command in OFFLINE_COMMANDS:
        return
    from django.core.exceptions import ImproperlyConfigured

    from config.local_services import ensure_local_services

    try:
        ensure_local_services()
    except (ImproperlyConfigured, OSError) as exc:
        fail(str(exc))


def setup_or_exit() -> None:
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        fail(str(exc))


def _database_problem() -> str | None:
    from django.conf import settings
    from django.db import connection

    try:
        if connection.settings_dict["OPTIONS"].get("pool"):
            # A pool would retry for its whole timeout, logging every refusal: one plain connection answers.
            import psycopg

            psycopg.connect(**connection.get_connection_params()).close()
        else:
            connection.ensure_connection()
    except Exception as exc:  # psycopg raises several types; all mean "unreachable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        source = (
            "embedded PostgreSQL (DATABASE_URL unset)" if "postgres" in settings.EMBEDDED_SERVICES else "DATABASE_URL"
        )
        return f"{source}: cannot connect to the database: {reason}"
    return None


def _broker_problem() -> str | None:
    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # refused, timeout, DNS, auth: all mean the broker is unusable
        return f"REDIS_URL: cannot reach Redis at {settings.REDIS_URL}: {exc}"
    return None


def check_dependencies_or_exit(command: str) -> None:
    if command in OFFLINE_COMMANDS:
        return
    problem = _database_problem()
    if problem is None and command in BROKER_COMMANDS:
        problem = _broker_problem()
    if problem:
        fail(problem)
