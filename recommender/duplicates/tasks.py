"""Celery tasks for duplicate listings (queue `default`).

`duplicates_check_images` is sent, by its name (settings.EMBEDDING_DONE_TASKS),
after each batch of photos is embedded and committed, so it never delays an
upload: the upload has already been answered when the check runs.
"""

from __future__ import annotations

import logging

from celery import shared_task

from config.queues import REDELIVERED_AND_RETRIED, Queue
from recommender.duplicates.selectors import visual_encoder
from recommender.duplicates.services import duplicates_check_image

logger = logging.getLogger(__name__)


@shared_task(
    name="recommender.duplicates.tasks.duplicates_check_images",
    queue=Queue.DEFAULT.value,
    # Idempotent (a re-check yields the same pairs and groups), so a redelivery after a crash is safe.
    **REDELIVERED_AND_RETRIED,
    max_retries=5,
    time_limit=120,
    soft_time_limit=100,
)
def duplicates_check_images(image_ids: list[int]) -> int:
    """Check each photo against the catalog; photos deleted or re-uploaded meanwhile are skipped."""
    encoder = visual_encoder()
    if encoder is None:
        logger.info("duplicates: no active visual encoder yet, %d photo(s) skipped", len(image_ids))
        return 0
    found = 0
    for image_id in image_ids:
        found += duplicates_check_image(image_id=int(image_id), encoder=encoder)
    return found
