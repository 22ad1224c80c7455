"""After a batch of photos is embedded and committed: tell whoever asked, by Celery task name.

settings.EMBEDDING_DONE_TASKS names the tasks (by default the duplicate check,
recommender.duplicates.tasks.duplicates_check_images), so the embedding
pipeline imports none of the features built on it, and a deployment can add
or drop a hook without touching code. A broker failure here must not undo or
retry the embedding that just committed: it is logged, and each feature has
its own safety net (the nightly duplicate scan).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from config.celery import app
from config.queues import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


def embedding_done_notify(image_ids: Sequence[int]) -> None:
    """Send each EMBEDDING_DONE_TASKS task the freshly embedded photo ids (call after their vectors commit)."""
    if not image_ids:
        return
    for name in settings.EMBEDDING_DONE_TASKS:
        try:
            app.send_task(name, args=[list(image_ids)])
        except TRANSIENT_ERRORS:
            logger.exception("could not send %s for images %s", name, list(image_ids)[:10])
