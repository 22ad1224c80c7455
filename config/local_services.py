"""The embedded servers of a fresh clone, started by the entry points that need them, never by settings.

manage.py (every command that reaches the database or the broker), the test
session and the benchmarks call `ensure_local_services()` before Django reads
its settings. With DATABASE_URL unset it starts the embedded PostgreSQL 18 +
pgvector under var/postgres; with REDIS_URL unset it uses a server on
127.0.0.1:6379 when one answers, otherwise an embedded Valkey under
var/valkey. Either way it exports the URL to os.environ, so settings read it
like any other value and every child process (worker, web server, the demo's
children) reaches the same servers. LOOKALIKE_EMBEDDED lists the embedded
servers in use, so that the demo's Ctrl-C stops exactly those.

`python -m config.local_services stop` (what `make services-stop` runs) stops them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from config import embedded

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_VARIABLE = "LOOKALIKE_EMBEDDED"


def var_dir() -> Path:
    """Where embedded servers keep their data (LOOKALIKE_VAR_DIR, default var/ in the checkout), absolute."""
    return Path(os.environ.get("LOOKALIKE_VAR_DIR", "").strip() or REPO_ROOT / "var").resolve()


def ensure_local_services() -> None:
    """Start whichever embedded servers the environment does not name, and export their URLs."""
    if not os.environ.get("DATABASE_URL", "").strip():
        os.environ["DATABASE_URL"] = embedded.ensure_postgres(var_dir())
    if not os.environ.get("REDIS_URL", "").strip():
        os.environ["REDIS_URL"] = embedded.ensure_redis(var_dir())
    # Worked out from the URLs, never inherited: a child given a DATABASE_URL of its own uses no embedded server.
    os.environ[EMBEDDED_VARIABLE] = ",".join(embedded_in_use())


def embedded_in_use() -> list[str]:
    """The embedded servers under var_dir() that DATABASE_URL and REDIS_URL point at."""
    in_use = []
    if os.environ.get("DATABASE_URL", "").strip() == embedded.postgres_url(var_dir()):
        in_use.append("postgres")
    valkey = embedded.valkey_url(var_dir())
    if valkey is not None and os.environ.get("REDIS_URL", "").strip() == valkey:
        in_use.append("valkey")
    return in_use


def stop_local_services(names: list[str] | None = None) -> list[str]:
    """Stop the embedded servers under var_dir() (all of them, or `names`); return those that were running."""
    wanted = names if names is not None else ["postgres", "valkey"]
    stopped = []
    if "postgres" in wanted and embedded.stop_postgres(var_dir()):
        stopped.append("postgres")
    if "valkey" in wanted and embedded.stop_redis(var_dir()):
        stopped.append("valkey")
    return stopped


def main(argv: list[str]) -> int:
    if argv != ["stop"]:
        print("usage: python -m config.local_services stop", file=sys.stderr)
        return 2
    from django.core.exceptions import ImproperlyConfigured

    try:
        stopped = stop_local_services()
    except ImproperlyConfigured as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"stopped: {', '.join(stopped)}" if stopped else f"no embedded server was running under {var_dir()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
