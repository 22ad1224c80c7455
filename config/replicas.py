"""Read replicas: shopper reads on a streaming replica, everything else on the primary.

With DATABASE_REPLICA_URLS set, each replica is a database alias (`replica_1`, ...)
and the primary has a second alias, `primary`. A request to a storefront view
(any view defined under `recommender.storefront`: the shopper API and the
storefront pages) runs on a replica chosen for that request; every other
request, every Celery task and every command runs on the primary.

How a request is moved: the storefront runs raw SQL on `django.db.connection`
and opens `transaction.atomic()` on the default alias, which a database router
never sees (a router is asked about ORM queries only). So for the duration of
the view, `ReplicaReadsMiddleware` makes the thread's "default" connection the
replica's (Django keeps connections per thread, so other requests are not
affected), and `ReplicaRouter` sends the ORM writes such a request makes to
`primary`. Raw SQL that writes must not run while the view does: the
recommendation log is written after the response (config/after_response.py),
when the thread's "default" is the primary again. The storefront code knows
nothing of this.

Skipped replicas. Each web process looks at each replica at most every
DATABASE_REPLICA_CHECK_INTERVAL seconds (one thread looks, the others use its
last answer): a replica that is down, not streaming from its primary, or more
than DATABASE_REPLICA_MAX_LAG seconds behind is left out until it recovers, and
`/readyz` names it. A replica that fails while a request runs on it costs that
request nothing: the replica is marked down and the view runs again on the
primary (the request body is kept for that; a view that wrote its log row before
the failure logs twice, which the log tolerates).

Read-your-writes: after a client's successful write (any non-storefront request
with an unsafe method), its credentials (the Authorization header, the session
cookie) are remembered in the cache for DATABASE_REPLICA_PIN_SECONDS, and its
storefront requests run on the primary meanwhile. Anonymous shoppers carry no
credentials and cost no cache lookup.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException

logger = logging.getLogger(__name__)

PRIMARY_ALIAS = "primary"
# Views defined in these modules are shopper reads (their writes go to the primary).
SHOPPER_VIEW_MODULES = ("recommender.storefront.",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PIN_KEY_PREFIX = "replica-pin:"

# One statement: is this a standby, does a WAL receiver run (only its pid is visible to a role
# without pg_read_all_stats), and how far behind is replay. Replay has caught up with everything
# received when the two LSNs are equal; otherwise the lag is the age of the last replayed commit
# (PostgreSQL's documented measure; after a long idle spell on the primary it overstates the lag
# for the instant before the next commit is replayed, which only sends reads to the primary).
HEALTH_SQL = """
SELECT pg_is_in_recovery(),
       (SELECT pid FROM pg_stat_wal_receiver) IS NOT NULL,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END
"""


@dataclass(frozen=True)
class ReplicaHealth:
    alias: str
    checked_at: float  # time.monotonic() of the look
    problem: str | None  # None: usable
    lag: float | None = None  # seconds behind, when it answered

    def describe(self) -> str:
        if self.problem:
            return self.problem
        return f"ok (lag {self.lag or 0.0:.1f} s)"


# Per process. A look replaces an entry in one assignment (atomic under the GIL): readers never
# see half of one. The per-replica locks only keep two threads from looking at once.
_health: dict[str, ReplicaHealth] = {}
_checking: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _look(alias: str) -> ReplicaHealth:
    """Ask the replica itself, on this thread's connection to it (opened if need be)."""
    now = time.monotonic()
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(HEALTH_SQL)
            in_recovery, receiving, lag = cursor.fetchone()
    except DatabaseError as exc:
        connection.close()  # a broken connection must not be reused by the next look
        return ReplicaHealth(alias, now, f"down: {_first_line(exc)}")
    if not in_recovery:
        return ReplicaHealth(alias, now, "not a standby (pg_is_in_recovery() is false): promoted, or not a replica")
    if not receiving:
        return ReplicaHealth(alias, now, "not streaming from the primary (no WAL receiver)")
    if lag is None:
        return ReplicaHealth(alias, now, "lag unknown: nothing replayed since it started")
    if lag > settings.DATABASE_REPLICA_MAX_LAG:
        limit = settings.DATABASE_REPLICA_MAX_LAG
        return ReplicaHealth(alias, now, f"lagging: {lag:.1f} s behind (DATABASE_REPLICA_MAX_LAG {limit:g})", lag)
    return ReplicaHealth(alias, now, None, lag)


def _record(health: ReplicaHealth) -> ReplicaHealth:
    previous = _health.get(health.alias)
    _health[health.alias] = health
    if previous is None or (previous.problem is None) != (health.problem is None):
        if health.problem:
            logger.warning("read replica %s skipped: %s", health.alias, health.problem)
        else:
            logger.info("read replica %s in use: %s", health.alias, health.describe())
    return health


def replica_health(alias: str, *, fresh: bool = False) -> ReplicaHealth:
    """What is known of `alias`, looked at again when older than the check interval (or `fresh`).

    One thread of the process looks at a time: the per-replica lock is taken
    without waiting, and a thread that does not get it uses the last answer,
    so a slow replica holds up one request per interval, not every request.
    """
    known = _health.get(alias)
    if (
        not fresh
        and known is not None
        and time.monotonic() - known.checked_at < settings.DATABASE_REPLICA_CHECK_INTERVAL
    ):
        return known
    with _guard:
        lock = _checking.setdefault(alias, threading.Lock())
    if not lock.acquire(blocking=fresh or known is None):
        return known  # type: ignore[return-value]  # not None: the lock is only skipped when something is known
    try:
        return _record(_look(alias))
    finally:
        lock.release()


def replica_down(alias: str, reason: str) -> None:
    """A request found the replica broken: leave it out until the next look."""
    connections[alias].close()
    _record(ReplicaHealth(alias, time.monotonic(), f"down: {reason}"))


def replicas_status() -> dict[str, str]:
    """Every configured replica, looked at now: "ok (lag 0.2 s)" or why it is skipped (for /readyz)."""
    return {alias: replica_health(alias, fresh=True).describe() for alias in settings.DATABASE_REPLICAS}


def choose_replica() -> str | None:
    """A usable replica for this request, at random among the usable ones; None: use the primary."""
    usable = [alias for alias in settings.DATABASE_REPLICAS if replica_health(alias).problem is None]
    return random.choice(usable) if usable else None


class ReplicaRouter:
    """ORM queries of a request moved to a replica: reads there (its "default"), writes to the primary."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return None  # "default": the replica inside a moved request, the primary everywhere else

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return PRIMARY_ALIAS if _on_replica.active() else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS  # replicas follow the primary's WAL; "primary" is the same server


class _OnReplica(threading.local):
    alias: str | None = None

    def active(self) -> bool:
        return self.alias is not None


_on_replica = _OnReplica()


def _client_keys(request: HttpRequest) -> list[str]:
    credentials = [request.META.get("HTTP_AUTHORIZATION", ""), request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")]
    # Hashed: the cache must not hold tokens or session keys that someone reading it could reuse.
    return [PIN_KEY_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:40] for value in credentials if value]


def _pinned(request: HttpRequest) -> bool:
    keys = _client_keys(request)
    if not keys:
        return False
    try:
        return bool(cache.get_many(keys))
    except Exception:  # the cache is unreachable: the primary is always right
        logger.warning("cannot read read-your-writes pins from the cache; reading from the primary", exc_info=True)
        return True


def _pin(request: HttpRequest) -> None:
    keys = _client_keys(request)
    if not keys or not settings.DATABASE_REPLICA_PIN_SECONDS:
        return
    try:
        cache.set_many(dict.fromkeys(keys, True), timeout=settings.DATABASE_REPLICA_PIN_SECONDS)
    except Exception:  # the write itself succeeded; a lost pin only risks one stale read
        logger.warning("cannot record a read-your-writes pin in the cache", exc_info=True)


def is_shopper_view(view: Callable[..., Any]) -> bool:
    return getattr(view, "__module__", "").startswith(SHOPPER_VIEW_MODULES)


def _keep_body(request: HttpRequest) -> bool:
    """Read the body once now, so that a second run of the view can parse it again (Django caches it)."""
    try:
        request.body  # noqa: B018  # read for its side effect: HttpRequest keeps it
    except (RequestDataTooBig, RawPostDataException):
        return False  # too large to keep in memory, or already streamed: run it on the primary
    return True


class ReplicaReadsMiddleware:
    """Runs storefront views on a replica (see the module docstring); pins a client that wrote to the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DATABASE_REPLICAS
            and request.method not in SAFE_METHODS
            and response.status_code < 400
            and not (request.resolver_match is not None and is_shopper_view(request.resolver_match.func))
        ):
            _pin(request)
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not settings.DATABASE_REPLICAS or not is_shopper_view(view) or _pinned(request):
            return None  # Django runs the view, on the primary
        alias = choose_replica()
        if alias is None or not _keep_body(request):
            return None
        try:
            response: HttpResponse | None = self._run_on(alias, request, view, args, kwargs)
        except DatabaseError as exc:  # a page (not DRF) lets the error through
            if not self._replica_failed(alias, exc):
                raise
            response = None
        if response is not None and _database_unavailable(response) and self._replica_failed(alias, None):
            response = None  # DRF's handler answered the replica's error with a 503
        if response is None:
            logger.warning("read replica %s failed during a request; answering it from the primary", alias)
            return view(request, *args, **kwargs)
        return response

    def _run_on(
        self, alias: str, request: HttpRequest, view: Callable[..., HttpResponse], args: Any, kwargs: Any
    ) -> HttpResponse:
        primary = connections[DEFAULT_DB_ALIAS]
        # Only this thread's handle changes (connections are thread-local), and only while the view runs.
        connections[DEFAULT_DB_ALIAS] = connections[alias]
        _on_replica.alias = alias
        try:
            return view(request, *args, **kwargs)
        finally:
            _on_replica.alias = None
            connections[DEFAULT_DB_ALIAS] = primary

    def _replica_failed(self, alias: str, exc: BaseException | None) -> bool:
        """Whether the replica, not the primary, is what failed; if so it is marked down.

        A request that failed on the primary (its log write) leaves the replica's
        connection open and usable; one that failed on the replica leaves it
        broken, or closed by the API's error handler.
        """
        connection = connections[alias]
        if connection.connection is not None and connection.is_usable():
            return False
        replica_down(alias, _first_line(exc) if exc else "the connection broke during a request")
        return True


def _database_unavailable(response: HttpResponse) -> bool:
    """The API's answer to a database error (config/errors.py): 503 with code database_unavailable."""
    data = getattr(response, "data", None)
    return (
        response.status_code == 503
        and isinstance(data, dict)
        and data.get("error", {}).get("code") == ("database_unavailable")
    )
