from __future__ import annotations

import time
from typing import Any

from django.db import OperationalError
from django.test import TransactionTestCase

# One real Celery worker and one private MEDIA_ROOT for the whole session. A session
# fixture imported into several conftest.py files is instantiated once per directory:
# several workers with different MEDIA_ROOTs would then take each other's tasks.
# Registered here, every test directory shares the one instance.
from tests.fixtures_worker import celery_worker, media_root

__all__ = ["celery_worker", "media_root"]

# Private in Django and absent from django-stubs, hence getattr/setattr.
_flush_after_transactional_test = getattr(TransactionTestCase, "_fixture_teardown")  # noqa: B009


def _fixture_teardown_retrying_deadlocks(self: TransactionTestCase) -> Any:
    """Empty the database after a transaction=True test, retrying when PostgreSQL picks it as a deadlock victim.

    The session's real worker may still be finishing a task a test enqueued (a
    duplicate check after an embedding, say) when the flush TRUNCATEs every table;
    the two can take table locks in opposite orders. PostgreSQL then aborts one of
    them whole, so running the flush again is safe; the worker's late task finds
    its rows gone and does nothing.
    """
    for attempt in range(5):
        try:
            return _flush_after_transactional_test(self)
        except Exception as exc:  # flush wraps the driver error in a CommandError
            deadlock = isinstance(exc.__cause__ or exc.__context__, OperationalError) and "deadlock" in str(
                exc.__cause__ or exc.__context__
            )
            if not deadlock or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    return None


setattr(TransactionTestCase, "_fixture_teardown", _fixture_teardown_retrying_deadlocks)  # noqa: B010
