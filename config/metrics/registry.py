"""One registry per scrape: every process's files in multiprocess mode, else this process's own registry.

Imported only once exposition.multiprocess_dir_prepare has run (or was never needed).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from config.metrics.exposition import multiprocess_dir


class _ThisProcess(Collector):
    """The default registry's collectors (this process's counters, CPU and memory) inside another registry."""

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes up front: the names are the default registry's own

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(*, extra: Iterable[Collector] = ()) -> CollectorRegistry:
    registry = CollectorRegistry()
    folder = multiprocess_dir()
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return registry
