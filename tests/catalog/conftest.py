from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_worker import media_root

__all__ = ["media_root"]


@pytest.fixture(autouse=True)
def _private_media(media_root: Path) -> Path:
    """Every catalog test writes files under the session's own MEDIA_ROOT, never var/media."""
    return media_root
