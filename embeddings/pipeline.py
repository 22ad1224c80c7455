"""The worker's batch: claim pending photos, decode once, encode per space, write, mark done.

One batch is one transaction. The claim (`SELECT ... FOR UPDATE SKIP LOCKED`
on pending rows) holds the photos' row locks while they are decoded and
encoded, and the same transaction writes their vectors, recomputes their
products' vectors and marks them `done`. So:

- two workers (or a duplicated message) never embed the same photo twice: the
  second skips rows the first has locked, and finds them `done` afterwards;
- a worker killed mid-batch leaves nothing half-written: PostgreSQL rolls the
  transaction back when the connection drops, the photos are still `pending`,
  and a redelivered message or the sweeper picks them up again;
- the lock is held for one forward pass (seconds with the lite profile, well
  under a second per batch on a GPU), which only delays deletes of those
  photos; reads never wait for it.

Lock order everywhere: photo rows first, then product rows
(embeddings.services.product_vectors_recompute), so no two paths deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from catalog.models import EmbeddingStatus, ProductImage
from embeddings.encoders import ImageDecodeError, WeightsUnavailableError, decode_image, get_encoder
from embeddings.encoders.base import Encoder
from embeddings.encoders.joint import encode_images_together
from embeddings.hooks import embedding_done_notify
from embeddings.models import Space
from embeddings.selectors import configured_encoder_name, encoders_to_write
from embeddings.services import image_vectors_write, product_vectors_recompute, space_encoder_register

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One (space, encoder identity) the batch must write, with the loaded model that produces it."""

    space: str
    identity: str
    encoder: Encoder


@dataclass
class BatchOutcome:
    claimed: int = 0
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def merge(self, other: BatchOutcome) -> None:
        self.claimed += other.claimed
        self.done += other.done
        self.failed.update(other.failed)

    def as_dict(self) -> dict[str, object]:
        return {"claimed": self.claimed, "done": len(self.done), "failed": len(self.failed)}


def write_targets() -> list[Target]:
    """Every (space, encoder) new photos must be embedded with, loading models on first use.

    The configured encoder of each space is registered on first use (the first
    one of a space becomes active). Encoders being backfilled or still active
    from an older configuration are written too when this process can load the
    exact same weights (same identity); otherwise they are skipped with a
    warning and `embed_backfill --only-missing` fills them in later.
    """
    targets: list[Target] = []
    for space in Space.values:
        configured = get_encoder(configured_encoder_name(space))
        writable = encoders_to_write(space)
        if configured.identity not in {wanted.identity for wanted in writable}:
            # First use of this encoder (or a catalogue reset under a long-lived worker):
            # registering is idempotent and the first encoder of a space becomes active.
            space_encoder_register(space=space, identity=configured.identity, dim=configured.dim)
            writable = encoders_to_write(space)
        for wanted in writable:
            model = configured if wanted.identity == configured.identity else _load_other(wanted.name)
            if model is None or model.identity != wanted.identity:
                logger.warning("cannot produce %s vectors of %s in this worker; skipping", space, wanted.identity)
                continue
            targets.append(Target(space=space, identity=wanted.identity, encoder=model))
    return targets


def load_configured_models() -> None:
    """Load each space's configured model now (no database needed); logs when they are ready."""
    names = [configured_encoder_name(space) for space in Space.values]
    identities = [get_encoder(name).identity for name in names]
    logger.warning("embedding models loaded: %s", ", ".join(identities))


def _load_other(name: str) -> Encoder | None:
    try:
        return get_encoder(name)
    except (KeyError, WeightsUnavailableError):
        return None


def embed_images(*, image_ids: Sequence[int], batch_size: int | None = None) -> BatchOutcome:
    """Embed the given photos (those still pending), each batch topped up with other pending photos.

    Topping up is what turns many one-photo messages into full forward passes:
    the first message claims up to `batch_size` pending photos, and the messages
    of photos it took find nothing left to do. With no ids, drains one batch.
    """
    size = batch_size or settings.EMBEDDING_CLAIM_BATCH_SIZE
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    if not ProductImage.objects.filter(embedding_status=EmbeddingStatus.PENDING).exists():
        # A redelivered or late message whose photos are long done: nothing to load or
        # register (write_targets would otherwise register the configured encoders).
        return BatchOutcome()
    targets = write_targets()  # Loaded before any transaction: a first model load takes seconds.
    total = BatchOutcome()
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)] or [[]]
    for chunk in chunks:
        total.merge(embed_batch(preferred=chunk, batch_size=size, targets=targets))
    return total


def embed_batch(*, preferred: Sequence[int], batch_size: int, targets: Sequence[Target]) -> BatchOutcome:
    outcome = BatchOutcome()
    with transaction.atomic():
        claimed = claim_pending(preferred=preferred, limit=batch_size)
        if not claimed:
            return outcome
        outcome.claimed = len(claimed)
        data, outcome.failed = read_claimed(claimed)
        ready, vectors, undecodable = encode_claimed([target.encoder for target in targets], claimed, data)
        outcome.failed.update(undecodable)
        for target, space_vectors in zip(targets, vectors, strict=True):
            image_vectors_write(
                space=target.space,
                encoder=target.identity,
                image_ids=[image.pk for image in ready],
                product_ids=[image.product_id for image in ready],
                image_versions=[image.version for image in ready],
                vectors=space_vectors,
            )
        now = timezone.now()
        outcome.done = [image.pk for image in ready]
        # Conditional on the version we claimed: belt and braces, since the row lock
        # already keeps anyone from bumping it under us.
        for image in ready:
            ProductImage.objects.filter(pk=image.pk, version=image.version).update(
                embedding_status=EmbeddingStatus.DONE, embedding_error="", embedded_at=now
            )
        for image_id, reason in outcome.failed.items():
            ProductImage.objects.filter(pk=image_id).update(
                embedding_status=EmbeddingStatus.FAILED, embedding_error=reason[:2000], embedded_at=None
            )
        product_vectors_recompute(product_ids=[image.product_id for image in ready])
        done_ids = list(outcome.done)
        transaction.on_commit(lambda: embedding_done_notify(done_ids))
    logger.info("embedded batch: %s", outcome.as_dict())
    return outcome


def claim_pending(*, preferred: Sequence[int], limit: int) -> list[ProductImage]:
    """Lock up to `limit` pending photos, `preferred` ones first, then the longest waiting.

    SKIP LOCKED: photos another worker is embedding right now are left to it
    rather than waited for. Must run inside the batch's transaction.
    """
    rank = Case(When(pk__in=list(preferred), then=Value(0)), default=Value(1), output_field=IntegerField())
    query = (
        ProductImage.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(embedding_status=EmbeddingStatus.PENDING)
        .only("id", "product_id", "file", "version")
        .alias(rank=rank)
        .order_by("rank", "embedding_requested_at", "id")
    )
    return list(query[:limit])


def read_claimed(images: Sequence[ProductImage]) -> tuple[dict[int, bytes], dict[int, str]]:
    """Each photo's stored bytes; a missing file is a permanent failure of that photo alone.

    Other I/O errors propagate: the task retries. Decoding happens in the
    encoders' thread pool, overlapping the previous batch's forward pass.
    """
    data: dict[int, bytes] = {}
    failed: dict[int, str] = {}
    for image in images:
        try:
            with image.file.open("rb") as handle:
                data[image.pk] = handle.read()
        except FileNotFoundError:
            failed[image.pk] = f"file missing from storage: {image.file.name}"
    return data, failed


def encode_claimed(
    encoders: Sequence[Encoder], images: Sequence[ProductImage], data: dict[int, bytes]
) -> tuple[list[ProductImage], list[np.ndarray], dict[int, str]]:
    """(the photos encoded, each encoder's vectors of them, the undecodable ones with their reason).

    An undecodable file will not get better on retry, so it fails alone: uploads were
    decoded in full before they were stored, so this is rare (a file damaged in
    storage), and only then is each photo decoded once more to find the culprit.
    """
    ready = [image for image in images if image.pk in data]
    try:
        return ready, encode_images_together(encoders, [data[image.pk] for image in ready]), {}
    except ImageDecodeError:
        pass
    failed: dict[int, str] = {}
    for image in ready:
        try:
            decode_image(data[image.pk], max_pixels=settings.IMAGE_MAX_PIXELS)
        except ImageDecodeError as exc:
            failed[image.pk] = f"cannot decode the stored file: {exc}"
    ready = [image for image in ready if image.pk not in failed]
    return ready, encode_images_together(encoders, [data[image.pk] for image in ready]), failed


SWEEP_LIMIT = 10_000


def stale_pending_images_touch(*, older_than: timedelta) -> list[int]:
    """Restart the clock of photos pending longer than `older_than`; return their ids (to re-enqueue).

    SKIP LOCKED leaves alone photos a worker is embedding right now (it holds
    their row locks), and resetting `embedding_requested_at` in the same
    statement means two sweepers running at once do not both re-enqueue a photo.
    """
    cutoff = timezone.now() - older_than
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH stale AS (
                SELECT id FROM catalog_productimage
                WHERE embedding_status = 'pending'
                  AND (embedding_requested_at IS NULL OR embedding_requested_at < %s)
                ORDER BY embedding_requested_at NULLS FIRST
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            )
            UPDATE catalog_productimage AS image SET embedding_requested_at = now()
            FROM stale WHERE image.id = stale.id
            RETURNING image.id
            """,
            [cutoff, SWEEP_LIMIT],
        )
        return sorted(row[0] for row in cursor.fetchall())
