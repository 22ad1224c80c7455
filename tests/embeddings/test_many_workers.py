"""Several worker machines on one broker and one database: two real `manage.py worker` processes.

One consumes `embeddings` (a GPU machine), the other `default` (any machine),
each from WORKER_QUEUES as a deployment would set it. Model work goes to the
first, the duplicate checks it triggers go to the second. Then both take
embedding work from the same messages and every photo is still embedded
exactly once: the claim is `FOR UPDATE SKIP LOCKED` on pending rows
(embeddings/pipeline.py), so a photo in two messages is claimed by one worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from catalog.models import ProductImage
from catalog.services import product_image_add
from config.celery import app
from config.queues import Queue
from embeddings.models import ImageVector
from embeddings.tasks import enqueue_embedding
from tests.catalog import factories
from tests.embeddings.test_worker_end_to_end import all_done
from tests.fixtures_worker import WorkerProcess, child_process_env, purge_queues, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
BATCH = 4  # photos per message and per claim: many small messages, so that both workers get some
EMBEDDED = re.compile(r"embeddings\.tasks\.embed_images\[[^\]]+\] succeeded in [\d.]+s: \{'claimed': (\d+)")
DUPLICATE_CHECK = "recommender.duplicates.tasks.duplicates_check_images"


def claimed(worker: WorkerProcess) -> list[int]:
    """Photos claimed by each embedding message this worker finished (from its log)."""
    return [int(count) for count in EMBEDDED.findall(worker.new_log())]


def idle(*workers: WorkerProcess) -> bool:
    return all(worker._idle() for worker in workers)


@pytest.fixture(scope="module")
def workers(
    django_db_setup: None, django_db_blocker: Any, media_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    """(the `embeddings` worker, the `default` worker), as two machines would run them."""
    folder = tmp_path_factory.mktemp("many-workers")
    with django_db_blocker.unblock():
        gpu_env = child_process_env(WORKER_QUEUES=Queue.EMBEDDINGS.value, EMBEDDING_CLAIM_BATCH_SIZE=str(BATCH))
        cpu_env = child_process_env(WORKER_QUEUES=Queue.DEFAULT.value, EMBEDDING_CLAIM_BATCH_SIZE=str(BATCH))
    argv = ["--pool", "solo", "--concurrency", "1"]  # no --queues: WORKER_QUEUES decides
    gpu = WorkerProcess(folder / "embeddings.log", gpu_env, argv=argv, hostname="lookalike-gpu@%h")
    cpu = WorkerProcess(folder / "default.log", cpu_env, argv=argv, hostname="lookalike-cpu@%h")
    purge_queues()
    gpu.start()
    cpu.start()
    yield gpu, cpu
    gpu.stop()
    cpu.stop()
    purge_queues()


@pytest.fixture
def settled(workers: tuple[WorkerProcess, WorkerProcess]) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    """The workers, with nothing left running when the test's flush empties the tables."""
    for worker in workers:
        worker.mark_log()
    yield workers
    wait_for(lambda: idle(*workers) and idle(*workers), timeout=120, interval=0.2, what="the workers to drain")
    purge_queues()


def photos(sku: str, count: int) -> list[int]:
    product = factories.product(sku)
    return [
        product_image_add(product=product, data=factories.jpeg(seed, (320, 240)), enqueue=False).image.pk
        for seed in range(count)
    ]


def test_model_work_goes_to_the_embeddings_worker_and_the_light_work_to_the_default_worker(
    settled: tuple[WorkerProcess, WorkerProcess],
) -> None:
    gpu, cpu = settled
    # Given photos of two products that are copies of each other
    ids = photos("QUEUES-A", 3) + photos("QUEUES-B", 3)

    # When they are queued for embedding
    enqueue_embedding(ids)

    # Then the embeddings worker embeds them, and the duplicate checks that follow run on the default worker
    wait_for(lambda: all_done(ids), timeout=120, what=f"the embeddings worker (log: {gpu.log_path})")
    wait_for(lambda: DUPLICATE_CHECK in cpu.new_log(), timeout=60, what=f"the duplicate check (log: {cpu.log_path})")
    assert sum(claimed(gpu)) == len(ids)
    assert "embeddings.tasks.embed_images" not in cpu.new_log(), "the default worker ran no model"
    assert DUPLICATE_CHECK not in gpu.new_log(), "the embeddings worker ran no light task"


def test_two_workers_on_the_same_messages_embed_every_photo_exactly_once_and_both_take_work(
    settled: tuple[WorkerProcess, WorkerProcess],
) -> None:
    gpu, cpu = settled
    # Given both workers consuming the embeddings queue, and 40 photos each queued twice (20 messages of 4)
    answer = app.control.add_consumer(Queue.EMBEDDINGS.value, destination=[cpu.hostname], reply=True, timeout=10)
    assert answer, "the default worker took the embeddings queue on"
    try:
        ids = photos("MANY-WORKERS", 40)
        with override_settings(EMBEDDING_CLAIM_BATCH_SIZE=BATCH):
            enqueue_embedding(ids)
            enqueue_embedding(list(reversed(ids)))

        # When they have all been embedded
        wait_for(lambda: all_done(ids), timeout=240, interval=0.5, what="both workers to embed the catalogue")
        wait_for(lambda: idle(gpu, cpu) and idle(gpu, cpu), timeout=120, interval=0.2, what="the last messages")
    finally:
        app.control.cancel_consumer(Queue.EMBEDDINGS.value, destination=[cpu.hostname], reply=True, timeout=10)

    # Then each photo was claimed once, by one of them, and both did some of the work
    by_gpu, by_cpu = sum(claimed(gpu)), sum(claimed(cpu))
    assert by_gpu + by_cpu == len(ids), (by_gpu, by_cpu)
    assert by_gpu > 0 and by_cpu > 0, (by_gpu, by_cpu)
    rows = list(ImageVector.objects.filter(image_id__in=ids).values_list("image_id", "space"))
    assert len(rows) == len(set(rows)) == 2 * len(ids), "one vector per photo and space"
    assert set(ProductImage.objects.filter(pk__in=ids).values_list("version", flat=True)) == {1}
