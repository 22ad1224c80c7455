from __future__ import annotations

# One real Celery worker and one private MEDIA_ROOT for the whole session. A session
# fixture imported into several conftest.py files is instantiated once per directory:
# several workers with different MEDIA_ROOTs would then take each other's tasks.
# Registered here, every test directory shares the one instance.
from tests.fixtures_worker import celery_worker, media_root

__all__ = ["celery_worker", "media_root"]
