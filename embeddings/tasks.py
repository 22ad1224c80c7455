"""Celery tasks of the embedding pipeline: thin wrappers that take ids and call services.

`embed_images` runs models, so it lives on the `embeddings` queue (routed by
module name in config/celery.py). The sweeper is light bookkeeping: it is named
outside `embeddings.tasks.*` so that it goes to the `default` queue, where the
one worker running beat also lives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import transaction

from config.queues import REDELIVERED_AND_RETRIED, TRANSIENT_ERRORS, Queue
from embeddings import pipeline, texts
from embeddings.neighbours import RebuildRunning, neighbour_lists_rebuild
from embeddings.selectors import encoders_with_lists

logger = logging.getLogger(__name__)


def _model_task(name: str) -> Any:
    """A task of the `embeddings` queue that runs a model.

    Safe to run twice (photos are claimed by state under row locks, words by their
    dirty flag with a version-guarded upsert), so a message whose worker died is
    redelivered rather than lost, and retried with backoff on TRANSIENT_ERRORS.
    """
    return shared_task(
        name=name,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=2,
        retry_backoff_max=120,
        retry_jitter=True,
        max_retries=8,
        time_limit=600,
        soft_time_limit=540,
    )


@_model_task("embeddings.tasks.embed_images")
def embed_images(image_ids: list[int]) -> dict[str, object]:
    """Embed these photos (and top the batch up with other pending ones); see embeddings.pipeline."""
    return pipeline.embed_images(image_ids=image_ids).as_dict()


@_model_task("embeddings.tasks.embed_product_texts")
def embed_product_texts(product_ids: list[int]) -> int:
    """Embed the words of these products (those still dirty) and blend them into their vectors."""
    return texts.embed_product_texts(product_ids=product_ids)


@shared_task(
    name="embeddings.sweep_dirty_product_texts", queue=Queue.DEFAULT.value, **REDELIVERED_AND_RETRIED, max_retries=3
)
def sweep_dirty_product_texts() -> int:
    """Re-enqueue products whose words stayed dirty longer than EMBEDDING_PENDING_TIMEOUT (lost message,
    a product created without its service, the rows a migration marked dirty)."""
    ids = texts.stale_dirty_products_touch(older_than=timedelta(seconds=settings.EMBEDDING_PENDING_TIMEOUT))
    if ids:
        logger.warning("re-enqueueing the words of %d products left dirty too long", len(ids))
        enqueue_text_embedding(ids)
    return len(ids)


@shared_task(
    name="embeddings.sweep_pending_images", queue=Queue.DEFAULT.value, **REDELIVERED_AND_RETRIED, max_retries=3
)
def sweep_pending_images() -> int:
    """Re-enqueue photos pending longer than EMBEDDING_PENDING_TIMEOUT (lost message, killed worker)."""
    ids = pipeline.stale_pending_images_touch(older_than=timedelta(seconds=settings.EMBEDDING_PENDING_TIMEOUT))
    if ids:
        logger.warning("re-enqueueing %d photos left pending too long", len(ids))
        enqueue_embedding(ids)
    return len(ids)


@shared_task(
    name="embeddings.rebuild_neighbour_lists",
    queue=Queue.DEFAULT.value,
    # Redelivered if the worker dies: the rebuild resumes from its last committed batch.
    **REDELIVERED_AND_RETRIED,
    max_retries=3,
    time_limit=4 * 3600,
    soft_time_limit=4 * 3600 - 60,
)
def rebuild_neighbour_lists() -> dict[str, int]:
    """Rebuild every kept encoder's stored neighbour lists (beat, NEIGHBOURS_REBUILD_HOURS): repairs what the
    incremental updates leave approximate (lists short of a removed entry, entrants beyond reach)."""
    done: dict[str, int] = {}
    for encoder in encoders_with_lists():
        try:
            done[encoder.space] = neighbour_lists_rebuild(encoder=encoder).done
        except RebuildRunning as exc:
            logger.info("%s", exc)
    return done


def enqueue_embedding(image_ids: Sequence[int]) -> None:
    """Enqueue the photos once the current transaction commits, in messages of one batch each.

    After commit, so that the worker finds the rows. If the broker is down the
    photos stay `pending` and the sweeper re-enqueues them later: an upload
    must not fail because Redis blinked after its row committed.
    """
    _send_on_commit(embed_images, image_ids, settings.EMBEDDING_CLAIM_BATCH_SIZE, "photos")


def enqueue_text_embedding(product_ids: Sequence[int]) -> None:
    """Enqueue the products' words once the current transaction commits (as enqueue_embedding; they stay
    dirty, for the sweeper, if the broker is down)."""
    _send_on_commit(embed_product_texts, product_ids, texts.TEXT_BATCH, "the words of products")


def _send_on_commit(task: Any, ids: Sequence[int], size: int, what: str) -> None:
    chosen = [int(i) for i in ids]

    def send() -> None:
        for start in range(0, len(chosen), size):
            try:
                task.delay(chosen[start : start + size])
            except TRANSIENT_ERRORS:
                logger.exception("could not enqueue %s %s; the sweeper will retry", what, chosen[start : start + 3])
                return

    if chosen:
        transaction.on_commit(send)


@worker_ready.connect
def load_models_when_ready(sender: Any = None, **kwargs: Any) -> None:
    """Load the configured models before the first photo arrives, so it is not the one waiting.

    Solo and thread pools run tasks in this process. A prefork parent runs
    none, so it skips this and each child loads its own copy after the fork.
    """
    if "prefork" in type(getattr(sender, "pool", None)).__module__:
        return
    pipeline.load_configured_models()


@worker_process_init.connect
def load_models_in_child(**kwargs: Any) -> None:
    """Start loading the models in a new prefork child, without holding up its start.

    This signal runs before the child reports up to the main process, which kills
    a child that stays silent longer than worker_proc_alive_timeout (4 s): loading
    the models here took longer than that, so every replacement of a killed child
    was killed in turn, forever, and nothing was embedded again. The load runs on
    a thread instead; the child reports up at once, and a task that arrives before
    the models are ready waits for them on the loader's per-name lock
    (embeddings.encoders.loader), so nothing loads twice.
    """
    threading.Thread(target=_load_models_logged, name="load-models", daemon=True).start()


def _load_models_logged() -> None:
    try:
        pipeline.load_configured_models()
    except Exception:  # the first task loads again and fails with the reason; say it here too
        logger.exception("embedding models could not be loaded ahead of the first task")
