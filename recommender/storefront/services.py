"""Writes of the storefront side: the recommendation log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import connections, router
from django.utils import timezone

from config.after_response import after_response
from recommender.storefront.models import RecommendationLog

# Request parameters never written to the log: the shopper's photo is not stored anywhere.
UNLOGGED_PARAMS = frozenset({"image"})


def recommendation_log_create(
    *,
    endpoint: str,
    params: dict[str, Any],
    product_ids: Sequence[int],
    strategy: str,
    source_product_id: int | None = None,
) -> uuid.UUID:
    """Record a served list; its id (made here) is the response's recommendation_id.

    The write waits for the response to be sent (config.after_response): a
    shopper's latency has no log write in it. It is one autocommit statement:
    the log is for click attribution and analysis, where losing the last few
    rows in a crash is acceptable and waiting for a WAL flush on every
    storefront read is not, so it commits with synchronous_commit off (set in
    the statement itself; SET LOCAL lasts until the statement's implicit
    commit, and the row stays crash-consistent).
    """
    log = RecommendationLog(
        id=uuid.uuid4(),
        endpoint=endpoint,
        source_product_id=source_product_id,
        params={key: str(value) for key, value in params.items() if key not in UNLOGGED_PARAMS},
        product_ids=list(product_ids),
        strategy=strategy,
        created_at=timezone.now(),
    )
    after_response(partial(_log_write, log))
    return log.id


def _log_write(log: RecommendationLog) -> None:
    # The router's choice for writes: a shopper request reads from a replica (config.replicas).
    with connections[router.db_for_write(RecommendationLog)].cursor() as cursor:
        cursor.execute(
            f"WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) "
            f"INSERT INTO {RecommendationLog._meta.db_table} "
            "(id, endpoint, source_product_id, params, product_ids, strategy, created_at) "
            "SELECT %s, %s, %s, %s::jsonb, %s, %s, %s FROM quick",
            [
                log.id,
                log.endpoint,
                log.source_product_id,
                json.dumps(log.params),
                log.product_ids,
                log.strategy,
                log.created_at,
            ],
        )


def recommendation_logs_prune(*, older_than: timedelta) -> int:
    """Delete logs older than the retention window; returns how many went."""
    deleted, _ = RecommendationLog.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
