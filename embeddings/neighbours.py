"""Keeping the stored "more like this" lists (ProductNeighbours) fresh, and rebuilding them.

Incrementally, in the transaction that writes a product's new vector
(services.product_vectors_recompute), for the active encoder of each space:

1. the lists of a changed product's old neighbours forget it: its place there
   rested on its old vector;
2. each changed product gets its own list: its NEIGHBOURS nearest products by
   the partial HNSW index, one statement for the whole batch (LATERAL);
3. each changed product enters the lists it now beats the worst entry of (that
   entry drops off), so a new product shows in its look-alikes' "more like
   this" as soon as it is searchable. Nearness is not symmetric: P can belong
   in Q's list while Q is not among P's own nearest (Q sits at the edge of a
   cluster, P in its middle), so the lists tried are those of P's nearest
   REACH * NEIGHBOURS products, not only its own list's members. A catalogue
   within that reach is kept exactly; beyond it a list may miss an entrant
   that lies further out, which the periodic rebuild repairs.

Steps 1 and 3 edit lists in SQL (embeddings.neighbour_edits): in place with array
functions where one product leaves or enters a list, by a merge where several do.

Lists are read-modify-written by every worker; all of it runs under one
transaction-scoped advisory lock per (space, encoder), which is what keeps two
workers from deadlocking over list rows taken in different orders. A holder
keeps it for the few statements above (milliseconds). A list left one short by
step 1 is topped up by the live path until the next rebuild.

In bulk, `neighbours_rebuild` (manage.py, and beat) computes every list from
the in-process index the duplicate scan uses (embeddings.ann), in batches that
commit with a cursor, so an interrupted rebuild resumes; `--shards N` fans the
same work out over the workers (embeddings.neighbour_shards), under the same
run row and replay.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.fanout.services import fanout_discard, fanout_of
from embeddings import ann
from embeddings.models import NeighbourRebuild, ProductNeighbours, ProductVector
from embeddings.neighbour_edits import LISTS, lists_enter, lists_forget
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_matrix_from_wire, halfvec_send_sql
from embeddings.vector_indexes import knn_distance_sql

REBUILDS = NeighbourRebuild._meta.db_table
VECTORS = ProductVector._meta.db_table
# Products per rebuild batch: one ANN search and one upsert of 2,000 lists (~1 s at 1280-d on 2 cores).
REBUILD_BATCH = 2000
# The rebuild's IVF probes (a list wants its true top k, more than the duplicate scan's pairs above a floor).
REBUILD_NPROBE = 16
# The fanout kind of a rebuild run in shards by the workers (embeddings.neighbour_shards).
SHARDED_REBUILD = "neighbours"
# Step 3's reach, in multiples of the list size: how far from an entrant a list that should take it may lie.
REACH = 3


class RebuildRunning(Exception):
    """Another process is rebuilding this (space, encoder)'s lists."""


def _lock_key(purpose: str, encoder: ActiveEncoder) -> int:
    digest = hashlib.sha1(f"{purpose}:{encoder.space}:{encoder.identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") - (1 << 63)


def _lock(encoder: ActiveEncoder) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key("neighbours", encoder)])


@contextmanager
def sole_rebuild(encoder: ActiveEncoder) -> Iterator[None]:
    """Hold a session-level advisory lock for a whole rebuild, across its transactions.

    A second rebuild of the same lists (beat firing while a command runs, or the
    broker redelivering a long task) would repeat the work and race the first
    for the run row; it stops at once instead. PostgreSQL releases the lock if
    this process dies, so a killed rebuild never blocks the next one.
    """
    key = _lock_key("neighbours-rebuild", encoder)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise RebuildRunning(
                f"the {encoder.space} lists of {encoder.identity} are being rebuilt by another process"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _nearest_by_index(encoder: ActiveEncoder, product_ids: Sequence[int], k: int) -> dict[int, list[tuple[int, float]]]:
    """Each product's k nearest other products in the encoder's space: one LATERAL HNSW scan per product."""
    distance = knn_distance_sql("v", encoder.dim, query="c.embedding")
    with connection.cursor() as cursor:
        # ef_search must cover the LIMIT (and SET LOCAL only lasts inside the caller's transaction).
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true)", [str(max(settings.RECOMMENDER_EF_SEARCH, k + 1))]
        )
        cursor.execute(
            f"""
            SELECT c.product_id, nn.product_id, nn.similarity
            FROM {VECTORS} c
            LEFT JOIN LATERAL (
                SELECT v.product_id, 1 - {distance} AS similarity
                FROM {VECTORS} v
                WHERE v.space = %s AND v.encoder = %s
                ORDER BY {distance}
                LIMIT %s
            ) nn ON nn.product_id <> c.product_id
            WHERE c.space = %s AND c.encoder = %s AND c.product_id = ANY(%s)
            """,
            [encoder.space, encoder.identity, k + 1, encoder.space, encoder.identity, list(product_ids)],
        )
        rows = cursor.fetchall()
    # Every changed product with a vector has a row (NULL neighbour: none yet) and so gets a list, even
    # an empty one: later products enter existing lists only.
    found: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for product_id, neighbour_id, similarity in rows:
        found[product_id]
        if neighbour_id is not None:
            found[product_id].append((neighbour_id, float(similarity)))
    return {pid: sorted(items, key=lambda item: (-item[1], item[0]))[:k] for pid, items in found.items()}


def _lists_write(encoder: ActiveEncoder, lists: dict[int, list[tuple[int, float]]]) -> None:
    """Upsert these products' own lists, one statement."""
    if not lists:
        return
    ids = list(lists)
    neighbours = ["{" + ",".join(str(n) for n, _ in lists[pid]) + "}" for pid in ids]
    similarities = ["{" + ",".join(f"{s:.6f}" for _, s in lists[pid]) + "}" for pid in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LISTS} (product_id, space, encoder, neighbour_ids, similarities, updated_at)
            SELECT product_id, %s, %s, neighbours::bigint[], similarities::real[], now()
            FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(product_id, neighbours, similarities)
            ON CONFLICT (product_id, space, encoder) DO UPDATE
                SET neighbour_ids = EXCLUDED.neighbour_ids, similarities = EXCLUDED.similarities,
                    updated_at = EXCLUDED.updated_at
            """,
            [encoder.space, encoder.identity, ids, neighbours, similarities],
        )


def neighbour_lists_refresh(*, encoder: ActiveEncoder, product_ids: Sequence[int]) -> None:
    """Steps 1-3 of the module docstring for products whose vectors just changed. Call inside their transaction."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    _lock(encoder)
    with connection.cursor() as cursor:
        # A rebuild running meanwhile computes its lists from the vectors it read when it began:
        # it refreshes these products again after its last batch (see neighbour_lists_rebuild).
        cursor.execute(
            f"UPDATE {REBUILDS} SET replay_ids = replay_ids || %s::bigint[] "
            "WHERE space = %s AND encoder = %s AND finished_at IS NULL",
            [ids, encoder.space, encoder.identity],
        )
    _refresh_locked(encoder, ids)


def _refresh_locked(encoder: ActiveEncoder, ids: list[int]) -> None:
    size = settings.RECOMMENDER_NEIGHBOURS
    # 1. Forget the changed products in the lists of their old neighbours: nearness is nearly
    # symmetric, so that is where they are listed (their own old lists, read before step 2
    # rewrites them). A list that holds one of them without being its neighbour (the asymmetric
    # few) keeps a stale entry until the next rebuild or until step 3 lets it in again: it stays a
    # candidate, and every candidate is scored exactly when served, so it only ranks where it belongs.
    lists_forget(encoder, ids)
    with connection.cursor() as cursor:
        # Products left without a vector in this space lose their own list too.
        cursor.execute(
            f"DELETE FROM {LISTS} n WHERE n.space = %s AND n.encoder = %s AND n.product_id = ANY(%s) "
            f"AND NOT EXISTS (SELECT 1 FROM {VECTORS} v WHERE v.product_id = n.product_id "
            f"AND v.space = n.space AND v.encoder = n.encoder)",
            [encoder.space, encoder.identity, ids],
        )
    # 2. Their own lists: the first `size` of their nearest `REACH * size`.
    reach = _nearest_by_index(encoder, ids, REACH * size)
    _lists_write(encoder, {pid: nearest[:size] for pid, nearest in reach.items()})
    # 3. Into every list within reach that they beat.
    lists_enter(
        encoder,
        [(target, entrant, similarity) for entrant, nearest in reach.items() for target, similarity in nearest],
        size=size,
    )


def _all_vectors(encoder: ActiveEncoder) -> tuple[np.ndarray, np.ndarray]:
    """(product ids ascending, float32 unit rows) of every product vector of the encoder (binary, no parsing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT product_id, {halfvec_send_sql('embedding')} FROM {VECTORS} "
            "WHERE space = %s AND encoder = %s ORDER BY product_id",
            [encoder.space, encoder.identity],
        )
        rows = cursor.fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, encoder.dim), dtype=np.float32)
    return np.asarray([row[0] for row in rows], dtype=np.int64), halfvec_matrix_from_wire([row[1] for row in rows])


def neighbour_lists_rebuild(
    *,
    encoder: ActiveEncoder,
    resume: bool = True,
    batch_size: int = REBUILD_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> NeighbourRebuild:
    """Every product's list in the encoder's space, from one in-process index; resumable batch by batch.

    The run row is committed before the vectors are read: from then on every
    vector change appends its products to the run's replay_ids (under the same
    advisory lock), and the vectors are read holding that lock, so each change
    is either in what the rebuild read or replayed after its last batch. A
    resumed run reads the vectors afresh; the changes since its first start
    were recorded all along.
    """
    with sole_rebuild(encoder):
        return _rebuild(encoder, resume=resume, batch_size=batch_size, on_progress=on_progress)


def _rebuild(
    encoder: ActiveEncoder, *, resume: bool, batch_size: int, on_progress: Callable[[int, int], None] | None
) -> NeighbourRebuild:
    with transaction.atomic():
        run = NeighbourRebuild.objects.filter(
            space=encoder.space, encoder=encoder.identity, finished_at__isnull=True
        ).first()
        if run is not None and resume and fanout_of(SHARDED_REBUILD, run.pk) is not None:
            raise RebuildRunning(
                f"the {encoder.space} lists of {encoder.identity} are being rebuilt in shards by the workers"
            )
        if run is not None and not resume:
            fanout_discard(SHARDED_REBUILD, run.pk)
            run.delete()
            run = None
        if run is None:
            run = NeighbourRebuild.objects.create(space=encoder.space, encoder=encoder.identity)
    ids, vectors = rebuild_vectors(encoder)
    NeighbourRebuild.objects.filter(pk=run.pk).update(total=len(ids))
    first = int(np.searchsorted(ids, run.cursor, side="right"))
    if on_progress is not None:
        on_progress(first, len(ids))
    if first < len(ids):
        index = ann.build_index(vectors, nprobe=REBUILD_NPROBE)
        size = settings.RECOMMENDER_NEIGHBOURS
        for start in range(first, len(ids), batch_size):
            rows = np.arange(start, min(len(ids), start + batch_size), dtype=np.int64)
            lists = rebuild_lists(index, ids, rows, size=size)
            # The batch's lists and the cursor commit together: a resumed rebuild never skips a batch.
            with transaction.atomic():
                _lock(encoder)
                _lists_write(encoder, lists)
                NeighbourRebuild.objects.filter(pk=run.pk).update(cursor=int(ids[rows[-1]]), done=F("done") + len(rows))
            if on_progress is not None:
                on_progress(int(rows[-1]) + 1, len(ids))
    rebuild_finish(encoder, run_id=run.pk)
    run.refresh_from_db()
    return run


def rebuild_vectors(encoder: ActiveEncoder) -> tuple[np.ndarray, np.ndarray]:
    """The vectors a rebuild computes from, read under the lists' lock (see neighbour_lists_rebuild)."""
    with transaction.atomic():
        _lock(encoder)
        return _all_vectors(encoder)


def rebuild_lists(
    index: ann.AnnIndex, ids: np.ndarray, rows: np.ndarray, *, size: int
) -> dict[int, list[tuple[int, float]]]:
    """The lists of the products at `rows` of `ids` (the index's order)."""
    found, similarity = ann.nearest(index, rows, k=size)
    return {
        int(ids[row]): [(int(ids[n]), float(s)) for n, s in zip(found[i], similarity[i], strict=True) if n >= 0]
        for i, row in enumerate(rows.tolist())
    }


def rebuild_store(encoder: ActiveEncoder, *, run_id: int, lists: dict[int, list[tuple[int, float]]]) -> None:
    """Write a rebuild's lists (of a shard: run in shards, no cursor moves). Call inside a transaction."""
    _lock(encoder)
    _lists_write(encoder, lists)
    NeighbourRebuild.objects.filter(pk=run_id).update(done=F("done") + len(lists))


def rebuild_finish(encoder: ActiveEncoder, *, run_id: int) -> None:
    """After a rebuild's last list: the changes it missed replayed, older runs and orphaned lists gone."""
    with transaction.atomic():
        _lock(encoder)
        # Finished first, so the replay below records nothing for this run; then the changes it missed.
        NeighbourRebuild.objects.filter(pk=run_id).update(finished_at=timezone.now())
        replay = NeighbourRebuild.objects.values_list("replay_ids", flat=True).get(pk=run_id)
        if replay:
            _refresh_locked(encoder, sorted(set(replay)))
        # Only the latest finished run is kept: it is what says "this encoder's lists exist".
        NeighbourRebuild.objects.filter(space=encoder.space, encoder=encoder.identity).exclude(pk=run_id).delete()
        # Lists of products whose vector is gone (deleted since) go too.
        ProductNeighbours.objects.filter(space=encoder.space, encoder=encoder.identity).exclude(
            product_id__in=ProductVector.objects.filter(space=encoder.space, encoder=encoder.identity).values(
                "product_id"
            )
        ).delete()


def neighbour_lists_discard(*, space: str, encoder: str | None = None, keep: str | None = None) -> int:
    """Delete a space's lists and rebuild records: of `encoder`, or of every encoder but `keep`. The lists' count."""
    lists = ProductNeighbours.objects.filter(space=space)
    rebuilds = NeighbourRebuild.objects.filter(space=space)
    if encoder is not None:
        lists, rebuilds = lists.filter(encoder=encoder), rebuilds.filter(encoder=encoder)
    if keep is not None:
        lists, rebuilds = lists.exclude(encoder=keep), rebuilds.exclude(encoder=keep)
    with transaction.atomic():
        rebuilds.delete()
        deleted, _ = lists.delete()
    return deleted
