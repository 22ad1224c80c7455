"""Periodic bookkeeping of the storefront side (default queue)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from recommender.storefront.services import recommendation_logs_prune


@shared_task(name="recommender.storefront.tasks.prune_recommendation_logs")
def prune_recommendation_logs() -> int:
    # Idempotent: deleting what is already gone deletes nothing.
    return recommendation_logs_prune(older_than=timedelta(days=settings.RECOMMENDER_LOG_RETENTION_DAYS))


@shared_task(name="recommender.storefront.tasks.refresh_starter_clusters")
def refresh_starter_clusters() -> int:
    """Recompute the cold-start clusters before they expire, so no shopper request pays for k-means."""
    from embeddings.selectors import active_encoder
    from recommender.storefront.selectors.starter import starter_clusters

    encoder = active_encoder("visual")
    computed = starter_clusters(encoder, refresh=True) if encoder is not None else None
    return len(computed.clusters) if computed is not None else 0
