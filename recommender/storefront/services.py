"""Writes of the storefront side: the recommendation log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

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
    """Record a served list; its id is the response's recommendation_id.

    Call inside the request's transaction, after the ranking: the row commits with it.
    """
    with transaction.atomic(savepoint=False):
        # The log is for click attribution and analysis: losing the last few
        # rows in a crash is acceptable, waiting for a WAL flush on every
        # storefront read is not. synchronous_commit=off applies to the current
        # transaction only (the view's, when it holds one), and the row stays
        # crash-consistent.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")
        log = RecommendationLog.objects.create(
            endpoint=endpoint,
            source_product_id=source_product_id,
            params={key: str(value) for key, value in params.items() if key not in UNLOGGED_PARAMS},
            product_ids=list(product_ids),
            strategy=strategy,
        )
    return log.id


def recommendation_logs_prune(*, older_than: timedelta) -> int:
    """Delete logs older than the retention window; returns how many went."""
    deleted, _ = RecommendationLog.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
