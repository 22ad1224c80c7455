"""`embed_backfill`: (re-)embed the catalogue with one space's configured encoder, batched and resumable.

Bulk load first, HNSW index after: inserting into an existing HNSW graph
means a graph search and neighbour-list rewrites for every row (the expensive
path), while CREATE INDEX over the loaded rows builds the graph in one pass in
maintenance_work_mem (BENCHMARKS.md "Ingestion (issue 4)" measures both). So
when the encoder is still `backfilling` (no query reads its vectors), its
partial indexes are dropped before loading and rebuilt at the end. An
`active` encoder keeps its index: live queries depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet

from catalog.models import EmbeddingStatus, ProductImage
from embeddings.encoders import get_encoder
from embeddings.encoders.base import Encoder
from embeddings.models import EncoderState, ImageVector, Space
from embeddings.neighbours import neighbour_lists_discard, neighbour_lists_rebuild
from embeddings.pipeline import Target, encode_claimed, read_claimed
from embeddings.selectors import ActiveEncoder, configured_encoder_name
from embeddings.services import (
    image_vectors_write,
    product_vectors_recompute,
    space_encoder_activate,
    space_encoder_register,
)
from embeddings.texts import texts_backfill
from embeddings.vector_indexes import ensure_hnsw_index, index_kinds, kind_index_name


@dataclass
class BackfillReport:
    space: str
    identity: str
    state: str
    embedded: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    missing_after: int = 0
    index_rebuilt: bool = False
    lists_rebuilt: bool = False
    texts: int = 0


def images_to_embed(*, space: str, identity: str, only_missing: bool) -> QuerySet[ProductImage]:
    """Embedded photos, in id order; with only_missing, those without a current vector of this encoder."""
    query = ProductImage.objects.filter(embedding_status=EmbeddingStatus.DONE)
    if only_missing:
        current = ImageVector.objects.filter(
            image=OuterRef("pk"), space=space, encoder=identity, image_version__gte=OuterRef("version")
        )
        query = query.filter(~Exists(current))
    return query.order_by("id")


def drop_hnsw_indexes(*, space: str, identity: str) -> None:
    with connection.cursor() as cursor:
        for kind in index_kinds(space):
            name = kind_index_name(kind, space, identity)
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")


def backfill_space(
    *,
    space: str,
    only_missing: bool,
    activate: bool,
    batch_size: int | None = None,
    progress: Callable[[int], object] = lambda n: None,
    on_total: Callable[[int], None] = lambda n: None,
    on_lists_progress: Callable[[int, int], None] | None = None,
) -> BackfillReport:
    encoder = get_encoder(configured_encoder_name(space))
    row = space_encoder_register(space=space, identity=encoder.identity, dim=encoder.dim)
    report = BackfillReport(space=space, identity=encoder.identity, state=row.state)
    bulk = row.state == EncoderState.BACKFILLING
    if bulk:
        drop_hnsw_indexes(space=space, identity=encoder.identity)
        # Its lists (of an earlier, interrupted backfill) stop being kept while it has no index:
        # they are rebuilt from every vector before activation.
        neighbour_lists_discard(space=space, encoder=encoder.identity)
    if Space.blends_text(space) and encoder.supports_text:
        # The products' words first: each photo batch below then blends them in as it writes, so the
        # encoder is never activated with vectors that lack them (nor blended with another encoder's).
        target = Target(space=space, identity=encoder.identity, encoder=encoder)
        report.texts = texts_backfill(target=target, only_missing=only_missing)
    todo = images_to_embed(space=space, identity=encoder.identity, only_missing=only_missing)
    on_total(todo.count())
    size = batch_size or settings.EMBEDDING_CLAIM_BATCH_SIZE
    last_id = 0
    while True:
        # Keyset pagination: stable while uploads keep arriving, and cheap at any depth.
        batch = list(todo.filter(id__gt=last_id).only("id", "product_id", "file", "version")[:size])
        if not batch:
            break
        last_id = batch[-1].pk
        embedded, failed = _embed_batch(batch, space=space, identity=encoder.identity, encoder=encoder)
        report.embedded += embedded
        report.failed.update(failed)
        progress(len(batch))
    for kind in index_kinds(space):
        ensure_hnsw_index(kind=kind, space=space, encoder=encoder.identity, dim=encoder.dim)
    report.index_rebuilt = bulk
    report.missing_after = images_to_embed(space=space, identity=encoder.identity, only_missing=True).count()
    if activate and report.missing_after == 0 and report.state != EncoderState.ACTIVE:
        # Lists first, as vectors: the moment queries switch, "more like this" reads the new
        # encoder's lists, and two encoders' similarities are never compared.
        neighbour_lists_rebuild(
            encoder=ActiveEncoder(space=space, identity=encoder.identity, dim=encoder.dim),
            on_progress=on_lists_progress,
        )
        report.lists_rebuilt = True
        report.state = space_encoder_activate(space=space, identity=encoder.identity).state
        neighbour_lists_discard(space=space, keep=encoder.identity)
    return report


def _embed_batch(
    batch: Sequence[ProductImage], *, space: str, identity: str, encoder: Encoder
) -> tuple[int, dict[int, str]]:
    """Encode outside any transaction, then write under the photos' row locks.

    The lock (photo rows, then products: the pipeline's order) waits for a
    worker embedding one of them and keeps a concurrent delete from racing
    the vector's foreign key; photos deleted or re-queued meanwhile are skipped.
    """
    data, failed = read_claimed(batch)
    ready, (vectors,), undecodable = encode_claimed([encoder], batch, data)
    failed.update(undecodable)
    with transaction.atomic():
        versions = dict(
            ProductImage.objects.select_for_update()
            .filter(pk__in=[image.pk for image in ready], embedding_status=EmbeddingStatus.DONE)
            .order_by("id")
            .values_list("id", "version")
        )
        keep = [i for i, image in enumerate(ready) if versions.get(image.pk) == image.version]
        if not keep:
            return 0, failed
        chosen = [ready[i] for i in keep]
        image_vectors_write(
            space=space,
            encoder=identity,
            image_ids=[image.pk for image in chosen],
            product_ids=[image.product_id for image in chosen],
            image_versions=[image.version for image in chosen],
            vectors=vectors[keep],
        )
        product_vectors_recompute(product_ids=[image.product_id for image in chosen])
    return len(chosen), failed
