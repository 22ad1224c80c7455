from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from recommender.storefront.models import RecommendationLog
from recommender.storefront.tasks import prune_recommendation_logs, refresh_starter_clusters
from tests.recommender.storefront.conftest import VISUAL, Catalog, axis

pytestmark = pytest.mark.django_db


def test_pruning_deletes_only_logs_older_than_the_retention(settings: SettingsWrapper) -> None:
    settings.RECOMMENDER_LOG_RETENTION_DAYS = 7
    old = RecommendationLog.objects.create(endpoint="similar", strategy="hnsw")
    RecommendationLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    recent = RecommendationLog.objects.create(endpoint="similar", strategy="hnsw")

    assert prune_recommendation_logs() == 1
    assert prune_recommendation_logs() == 0  # idempotent
    assert list(RecommendationLog.objects.values_list("pk", flat=True)) == [recent.pk]


def test_refreshing_the_starter_clusters_replaces_the_cached_ones(catalog: Catalog, settings: SettingsWrapper) -> None:
    settings.RECOMMENDER_STARTER_CLUSTERS = 2
    first = catalog.product(visual=axis(0), semantic=axis(0))
    cache.set(f"recommender:starter:{VISUAL}", [(1, [(first.id, 1.0)])], 60)
    catalog.product(visual=axis(1), semantic=axis(1))

    assert refresh_starter_clusters() == 2
    assert len(cache.get(f"recommender:starter:{VISUAL}")["clusters"]) == 2


def test_refreshing_before_anything_is_embedded_does_nothing(db: None) -> None:
    assert refresh_starter_clusters() == 0
