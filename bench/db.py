"""Django for a benchmark, on a database of its own: the one place the benchmarks set it up.

`setup_django()` starts the embedded servers the environment does not name
(config.local_services: PostgreSQL when DATABASE_URL is unset; the Redis on
127.0.0.1:6379, or an embedded Valkey, when REDIS_URL is), creates the
benchmark's database on that PostgreSQL server (the development database is not
touched), points DATABASE_URL at it and sets Django up. It returns the
environment that the children a benchmark starts (gunicorn, `manage.py worker`,
`manage.py runserver`) must get to reach the same database and broker.

A server that cannot be started or reached ends the benchmark with one line
saying what to do, not a traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "lookalike_bench"
# Photos uploaded by a benchmark stay out of the development media tree.
MEDIA_ROOT = ROOT / "var" / "bench-media"


def setup_django(
    *,
    database: str | None = BENCH_DATABASE,
    fresh: bool = False,
    migrate: bool = False,
    redis_db: int | None = 5,
    **env_defaults: str,
) -> dict[str, str]:
    """Set Django up for this benchmark; return the environment its child processes must get.

    database: created on DATABASE_URL's server when missing (`fresh`: dropped and
    created again); None keeps DATABASE_URL's own database (the page benchmarks
    measure the demo catalogue there). redis_db: the Redis database number when
    REDIS_URL was not given, so that a stray worker on /0 cannot take the
    benchmark's messages; None keeps the server's /0. env_defaults: more variables,
    set unless the environment has them.
    """
    import django
    import psycopg
    from django.core.exceptions import ImproperlyConfigured
    from django.db import OperationalError

    from config.local_services import ensure_local_services

    for name, value in {"DEBUG": "1", "EMBEDDINGS_PROFILE": "lite", **env_defaults}.items():
        os.environ.setdefault(name, value)
    redis_given = bool(os.environ.get("REDIS_URL", "").strip())
    try:
        ensure_local_services()
    except ImproperlyConfigured as exc:  # its message says what to run
        raise SystemExit(f"error: {_first_line(exc)}") from None
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            f"error: the embedded servers did not start: {_first_line(exc)} "
            "(run `make install`, or set DATABASE_URL and REDIS_URL to servers of your own)"
        ) from None
    if redis_db is not None and not redis_given:
        os.environ["REDIS_URL"] = f"{os.environ['REDIS_URL'].rsplit('/', 1)[0]}/{redis_db}"
    try:
        if database is not None:
            os.environ["DATABASE_URL"] = _create_database(os.environ["DATABASE_URL"], database, fresh=fresh)
            os.environ.setdefault("MEDIA_ROOT", str(MEDIA_ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from django.db import connection

        connection.ensure_connection()  # a server that is down says so here, in one line
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
    except ImproperlyConfigured as exc:
        raise SystemExit(f"error: {_first_line(exc)}") from None
    except (psycopg.Error, OperationalError) as exc:
        raise SystemExit(
            f"error: PostgreSQL at {_server(os.environ['DATABASE_URL'])}: {_first_line(exc)} "
            "(start that server, or unset DATABASE_URL to use the embedded one)"
        ) from None
    return dict(os.environ)


def _create_database(url: str, name: str, *, fresh: bool) -> str:
    """Create database `name` on the server of `url` (dropping it first when `fresh`); return its URL."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    if fresh and conninfo_to_dict(url).get("dbname") == name:
        raise SystemExit(f"error: refusing to drop {name}: it is the database DATABASE_URL names")
    # Connected to the maintenance database: nobody can drop the database they are connected to.
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if fresh or not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/{quote(name, safe='')}" + (f"?{parts.query}" if parts.query else "")


def _server(url: str) -> str:
    """The server `url` names, without its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # an unparsable URL: settings name the problem, here it only labels it
        return "DATABASE_URL"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
