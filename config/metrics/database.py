"""What the database knows, read when Prometheus scrapes: backlog, failures, the review queue, connections.

Read at scrape time rather than counted as things happen, so the numbers are the
truth after a restart or a worker killed mid-batch. Each is one indexed count
(embedding_status and the duplicate groups' status are indexed); config imports no
app, so the models are looked up by name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.apps import apps
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class DatabaseCollector(Collector):
    def describe(self) -> list[Metric]:
        return []  # nothing to register up front: the queries run at scrape time only

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._photos()
            yield from self._duplicate_queue()
            yield from self._connections()
        except Exception:  # the scrape still answers (process metrics, counters); the failure is logged
            logger.exception("database metrics could not be read")
            yield GaugeMetricFamily("lookalike_metrics_database_up", "Whether the database metrics could be read", 0)
        else:
            yield GaugeMetricFamily("lookalike_metrics_database_up", "Whether the database metrics could be read", 1)

    def _photos(self) -> Iterator[Metric]:
        photos = apps.get_model("catalog", "ProductImage").objects
        pending = photos.filter(embedding_status="pending").aggregate(count=Count("id"), oldest=Min("created_at"))
        failed = photos.filter(embedding_status="failed").count()
        age = (timezone.now() - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
        yield GaugeMetricFamily(
            "lookalike_embedding_pending_photos", "Photos waiting for their embeddings", pending["count"]
        )
        yield GaugeMetricFamily(
            "lookalike_embedding_oldest_pending_seconds", "Seconds since the oldest pending photo was uploaded", age
        )
        yield GaugeMetricFamily("lookalike_embedding_failed_photos", "Photos whose embedding failed", failed)

    def _duplicate_queue(self) -> Iterator[Metric]:
        groups = apps.get_model("duplicates", "DuplicateGroup").objects
        family = GaugeMetricFamily(
            "lookalike_duplicate_groups_open", "Duplicate groups waiting for a merchandiser, by tier", labels=["tier"]
        )
        for row in groups.filter(status="open").values("tier").annotate(count=Count("id")).order_by("tier"):
            family.add_metric([row["tier"]], row["count"])
        yield family

    def _connections(self) -> Iterator[Metric]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() GROUP BY 1 ORDER BY 1"
            )
            by_state = cursor.fetchall()
            cursor.execute("SELECT current_setting('max_connections')::int")
            (maximum,) = cursor.fetchone() or (0,)
        family = GaugeMetricFamily(
            "lookalike_db_connections",
            "Server connections to this database, by state (pg_stat_activity)",
            labels=["state"],
        )
        for state, count in by_state:
            family.add_metric([state], count)
        yield family
        yield GaugeMetricFamily("lookalike_db_max_connections", "The server's max_connections", maximum)
