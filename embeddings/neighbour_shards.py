"""The stored-list rebuild fanned out over Celery: `neighbours_rebuild --shards N` (machinery: fanout.services).

The same run row (NeighbourRebuild) and guarantees as the single-process
rebuild (embeddings.neighbours): the run row commits before any worker reads a
vector; each worker process reads every vector of the (space, encoder) under
the lists' lock the first time it meets the run, builds the in-process index,
and keeps both for the run's later shards. So each vector change is either in
what a process read or in the run's replay_ids, replayed by the finish once
every shard's lists are written. Shards are ranges of product ids; a shard's
lists commit with its done mark, so a redelivered shard writes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from config.fanout.jobs import ShardedJob
from config.fanout.models import FanOut
from config.fanout.services import fanout_resume, fanout_start
from embeddings import ann
from embeddings.models import NeighbourRebuild, ProductVector
from embeddings.neighbours import (
    REBUILD_BATCH,
    REBUILD_NPROBE,
    SHARDED_REBUILD,
    rebuild_finish,
    rebuild_lists,
    rebuild_store,
    rebuild_vectors,
    sole_rebuild,
)
from embeddings.selectors import ActiveEncoder

Lists = dict[int, list[tuple[int, float]]]


@dataclass(frozen=True)
class LoadedVectors:
    ids: np.ndarray
    index: ann.AnnIndex


def _encoder(fanout: FanOut) -> ActiveEncoder:
    params = fanout.params
    return ActiveEncoder(space=params["space"], identity=params["encoder"], dim=params["dim"])


class NeighbourRebuildShards(ShardedJob[LoadedVectors, Lists]):
    def load(self, fanout: FanOut) -> LoadedVectors | None:
        if not NeighbourRebuild.objects.filter(pk=fanout.job_id, finished_at__isnull=True).exists():
            return None
        ids, vectors = rebuild_vectors(_encoder(fanout))
        return LoadedVectors(ids, ann.build_index(vectors, nprobe=REBUILD_NPROBE))

    def compute(self, fanout: FanOut, loaded: LoadedVectors, low: int, high: int) -> Lists:
        first, last = (int(np.searchsorted(loaded.ids, bound, side="right")) for bound in (low, high))
        lists: Lists = {}
        for start in range(first, last, REBUILD_BATCH):
            rows = np.arange(start, min(last, start + REBUILD_BATCH), dtype=np.int64)
            lists.update(rebuild_lists(loaded.index, loaded.ids, rows, size=int(fanout.params["size"])))
        return lists

    def store(self, fanout: FanOut, result: Lists) -> None:
        rebuild_store(_encoder(fanout), run_id=fanout.job_id, lists=result)

    def finish(self, fanout: FanOut) -> None:
        rebuild_finish(_encoder(fanout), run_id=fanout.job_id)


def _product_ids(encoder: ActiveEncoder) -> np.ndarray:
    """The ids of the products with a vector in the space, ascending (no vectors read)."""
    ids = ProductVector.objects.filter(space=encoder.space, encoder=encoder.identity).order_by("product_id")
    return np.fromiter(ids.values_list("product_id", flat=True).iterator(chunk_size=20_000), dtype=np.int64)


def neighbour_lists_rebuild_fan_out(
    *, encoder: ActiveEncoder, shards: int, resume: bool = True
) -> tuple[NeighbourRebuild, FanOut, bool]:
    """Start the rebuild in `shards` tasks (or resume the running one); (run, its fanout, resumed). Returns at once.

    A run the single process left interrupted goes on in shards after its cursor.
    """
    if shards < 1:
        raise ValueError(f"--shards must be at least 1, got {shards}")
    # Held while starting only: a single-process rebuild started later finds this run's fanout and stops.
    with sole_rebuild(encoder):
        with transaction.atomic():
            run = NeighbourRebuild.objects.filter(
                space=encoder.space, encoder=encoder.identity, finished_at__isnull=True
            ).first()
            if run is not None:
                if (fanout := fanout_resume(SHARDED_REBUILD, run.pk, resume=resume)) is not None:
                    return run, fanout, True
                if not resume:
                    run.delete()
                    run = None
            resumed = run is not None
            if run is None:
                run = NeighbourRebuild.objects.create(space=encoder.space, encoder=encoder.identity)
        # The run row is committed: from here every vector change is replayed at the finish.
        with transaction.atomic():
            ids = _product_ids(encoder)
            NeighbourRebuild.objects.filter(pk=run.pk).update(total=len(ids))
            params = {
                "space": encoder.space,
                "encoder": encoder.identity,
                "dim": encoder.dim,
                "size": settings.RECOMMENDER_NEIGHBOURS,
            }
            fanout = fanout_start(
                kind=SHARDED_REBUILD,
                job_id=run.pk,
                keys=ids,
                shards=shards,
                params=params,
                after=run.cursor,
            )
    run.refresh_from_db()
    return run, fanout, resumed
