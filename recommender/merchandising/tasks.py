"""Worker task: rebuild the catalog map from the map page's "Build the map" button (queue `default`)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from recommender.merchandising.catalog_map import CatalogMapError
from recommender.merchandising.services import catalog_map_build

log = logging.getLogger(__name__)

BUILD_TIME_LIMIT = 1800  # t-SNE of 70,000 products takes ~4 minutes on 2 cores; leave room for a busy machine


def building_key(space: str) -> str:
    return f"merchandising:catalog-map-building:{space}"


@shared_task(
    name="recommender.merchandising.tasks.catalog_map_build_task",
    time_limit=BUILD_TIME_LIMIT,
    soft_time_limit=BUILD_TIME_LIMIT - 60,
)
def catalog_map_build_task(space: str) -> int:
    """Rebuild one space's map; returns the number of products mapped (0 when nothing to map).

    Safe to run twice: the map is rewritten atomically from the current vectors.
    The page sets `building_key` when it enqueues (so a second click does not
    queue a second t-SNE); it is cleared here whatever the outcome.
    """
    try:
        _, header = catalog_map_build(space=space)
        return int(header["count"])
    except CatalogMapError as error:
        log.info("catalog map of %s not built: %s", space, error)
        return 0
    finally:
        cache.delete(building_key(space))
