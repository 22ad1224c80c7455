"""A prefork worker whose child is killed mid-batch (OOM killer, decoder crash, hard time limit) recovers alone.

Celery's main process replaces a dead child and kills any new child that does
not report up within worker_proc_alive_timeout (4 s). When the child loaded the
models before reporting up, every replacement was killed in turn and nothing was
ever embedded again. Here a real `manage.py worker --pool prefork` loses its
child in the middle of a claimed batch; without any help (no sweeper, no
restart) the redelivered message is embedded by the replacement child, every
photo ends `done` exactly once, and the main process never gave up on a child.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.models import ProductImage
from catalog.services import product_image_add
from embeddings.models import ImageVector, ProductVector
from embeddings.tasks import enqueue_embedding
from tests.catalog import factories
from tests.embeddings.test_worker_end_to_end import all_done, worker_mid_batch
from tests.fixtures_worker import WorkerProcess, child_process_env, purge_queues, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PHOTOS = 48


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat, after the command in parentheses
            found.append(int(entry.name))
    return found


@pytest.fixture
def prefork_worker(session_worker: WorkerProcess, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A prefork worker of its own (one child), consuming the project's queues; the session worker stays idle."""
    purge_queues()
    worker = WorkerProcess(
        tmp_path / "prefork.log",
        child_process_env(),
        argv=["--pool", "prefork", "--concurrency", "1"],
        hostname="lookalike-prefork@%h",
    )
    worker.start()
    yield worker
    worker.stop()
    purge_queues()


def test_a_killed_prefork_child_is_replaced_and_every_photo_ends_done_exactly_once(
    prefork_worker: WorkerProcess,
) -> None:
    assert prefork_worker.process is not None
    main_pid = prefork_worker.process.pid
    product = factories.product("CHILD-KILLED")
    ids = [
        product_image_add(product=product, data=factories.jpeg(seed, (800, 600)), enqueue=False).image.pk
        for seed in range(PHOTOS)
    ]
    enqueue_embedding(ids)  # outside a transaction: sent at once, one message for the whole batch

    wait_for(worker_mid_batch, timeout=120, interval=0.02, what="the child to claim the batch")
    (child,) = children_of(main_pid)
    os.kill(child, signal.SIGKILL)

    # The killed batch rolled back; the main process lives on and its new child embeds everything.
    wait_for(lambda: all_done(ids), timeout=240, interval=0.5, what=f"recovery (log: {prefork_worker.log_path})")
    assert prefork_worker.process.poll() is None, "the main process survived its child"
    replacement = children_of(main_pid)
    assert replacement and replacement != [child]
    rows = list(ImageVector.objects.filter(image_id__in=ids).values_list("image_id", "space"))
    assert len(rows) == len(set(rows)) == 2 * PHOTOS, "one vector per photo and space: nothing embedded twice"
    assert ProductVector.objects.get(product=product, space="visual").image_count == PHOTOS
    assert ProductImage.objects.filter(pk__in=ids, embedding_status="failed").count() == 0
    log = prefork_worker.new_log()
    assert "signal 9" in log, "the child really died mid-task"
    assert "Timed out waiting for UP message" not in log, "no replacement child was killed for starting slowly"
