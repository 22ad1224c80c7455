from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_worker import celery_worker, media_root

__all__ = ["celery_worker", "media_root"]


@pytest.fixture(autouse=True)
def _private_media(media_root: Path) -> Path:
    """Files go under the session's own MEDIA_ROOT, which the worker child reads too."""
    return media_root
