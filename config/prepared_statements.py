"""A cursor whose statements are prepared: parsed and planned once per connection, then only executed.

Django binds parameters on the client and never prepares (its psycopg backend turns
psycopg's automatic preparing off, for connection poolers' sake), so every statement
is planned again on every execution. That is right for most queries, whose best plan
depends on their values. The storefront's ranking statement without filter values is
the exception: dozens of CTEs and sub-plans whose planning cost about as much as running
them (~2-3 ms each, profiled), with one best plan whatever the product; the product
summaries by primary key are another. Those run here: bound on the server and prepared,
and planned generically (plan_cache_mode, set on a connection's first use here outside a
transaction) so that each plan is made once, not re-made for each product.

A generic plan knows no parameter's value: what decides between an index and a scan
(a partial index's predicate, a LIMIT) must be written as constants in the SQL, as
embeddings.vector_indexes.index_predicate_sql does.

Behind a connection pooler, prepared statements need one that keeps them per server
connection (PgBouncer >= 1.21 with max_prepared_statements set) or session pooling.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]  # psycopg 3 only
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg import ClientCursor, pq

# The psycopg connections already told to plan prepared statements generically. Weak: a connection
# closed (the pool's, or Django's at CONN_MAX_AGE) drops out, and its replacement is told again.
_generic: weakref.WeakSet[Any] = weakref.WeakSet()
# psycopg's default. PreparedCursor prepares on the first execution anyway; the threshold only has to be set.
PREPARE_THRESHOLD = 5


class PreparedCursor(ServerBindingCursor):
    """psycopg's server-binding cursor, preparing every statement (Django's CursorWrapper passes no flag)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


class PreparedDebugCursor(CursorDebugWrapper):
    """Django's query log (DEBUG, CaptureQueriesContext) records what psycopg last sent, which for a
    prepared statement is nothing it can show: log the statement with its values, as Django would log
    it client-bound, so that the log (and a test's EXPLAIN of it) reads the same either way."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        # mogrify binds on the client only to make the text; nothing is sent.
        logged = ClientCursor(self.cursor.connection).mogrify(sql, params)
        with self.debug_sql(logged, params):
            return CursorWrapper.execute(self, sql, params)


@contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """A Django cursor (query logging and execute_wrappers apply) over a PreparedCursor of `connection`."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        # Django opens its connections with psycopg's preparing off (prepare_threshold None), which a
        # cursor's own prepare=True does not override. On: only server-binding cursors ever prepare,
        # and Django's own are client-binding.
        if raw.prepare_threshold is None:
            raw.prepare_threshold = PREPARE_THRESHOLD
        # Session-wide, but only prepared statements read it, and this module's are the only ones. Once
        # per connection, not per statement (a SET is a round trip of its own), and only outside a
        # transaction: a SET inside one is undone by its rollback. Until then PostgreSQL's own choice
        # (plan_cache_mode auto) applies, which plans each execution anew.
        if raw not in _generic and raw.info.transaction_status == pq.TransactionStatus.IDLE:
            raw.execute("SET plan_cache_mode = force_generic_plan")
            _generic.add(raw)
        cursor = PreparedCursor(raw)
    connection.validate_thread_sharing()
    wrapped = PreparedDebugCursor(cursor, connection) if connection.queries_logged else connection.make_cursor(cursor)
    with wrapped:
        yield wrapped
