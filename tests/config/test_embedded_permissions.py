"""The embedded PostgreSQL must restart on its own data directory (it refuses one others can read)."""

from __future__ import annotations

import stat
from pathlib import Path

from config.embedded import _grant_traverse


def test_granting_traversal_opens_the_parents_but_never_the_data_directory(tmp_path: Path) -> None:
    parent = tmp_path / "var"
    data = parent / "postgres"
    data.mkdir(parents=True)
    parent.chmod(0o700)
    data.chmod(0o700)

    _grant_traverse(data)

    assert stat.S_IMODE(parent.stat().st_mode) & 0o055 == 0o055, "the server user must reach var/"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700, "PostgreSQL refuses a data directory others can read"
