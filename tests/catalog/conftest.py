from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_media(media_root: Path) -> Path:
    """Every catalog test writes files under the session's own MEDIA_ROOT, never var/media."""
    return media_root
