"""Hooks other features attach to the embedding pipeline."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Sequence

logger = logging.getLogger(__name__)

DUPLICATES_TASKS_MODULE = "recommender.duplicates.tasks"


def enqueue_duplicate_check(image_ids: Sequence[int]) -> None:
    """Ask duplicate detection to look at freshly embedded photos (called after their vectors commit).

    Duplicate detection is built separately (recommender.duplicates). We look the
    module up with find_spec so that this is a silent no-op until it exists, and
    import it lazily so the embedding worker does not depend on it at import time.
    A broker failure here must not undo or retry the embedding that just
    committed: it is logged, and the duplicates feature sweeps on its own.
    """
    if not image_ids:
        return
    try:
        found = importlib.util.find_spec(DUPLICATES_TASKS_MODULE)
    except ModuleNotFoundError:
        found = None
    if found is None:
        return
    module = importlib.import_module(DUPLICATES_TASKS_MODULE)
    try:
        module.duplicates_check_images.delay(list(image_ids))
    except Exception:
        logger.exception("could not enqueue the duplicate check for images %s", list(image_ids)[:10])
