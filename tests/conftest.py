from __future__ import annotations

import pytest

# The session's worker process and private MEDIA_ROOT, registered once here: a session fixture
# imported into several conftest.py files is instantiated once per directory, and several
# workers with different MEDIA_ROOTs would take each other's tasks. Every test directory shares
# these instances; `celery_worker` lends the worker to one test at a time (tests/fixtures_worker.py).
from tests.fixtures_worker import celery_worker, media_root, session_worker

__all__ = ["celery_worker", "media_root", "session_worker"]


@pytest.fixture(autouse=True)
def _forget_process_caches() -> None:
    """Every test builds its own catalogue: what a web process caches about the last one must go.

    The storefront caches the active encoders, category ids and filter selectivity per
    process (config.process_cache: a production catalogue changes slowly; here it is
    replaced every test).
    """
    from config.process_cache import forget_all

    forget_all()
