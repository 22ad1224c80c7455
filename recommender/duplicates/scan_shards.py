"""The full duplicate scan fanned out over Celery: `find_duplicates --shards N` (machinery: fanout.services).

The query set is the single scan's (scan.py): every current visual vector of an
active product, in ImageVector.id order. Its ids are cut into N contiguous
ranges, one `fanout.tasks.run_shard` message each (queue `default`). A worker
process meeting the scan for the first time loads the whole catalogue with the
single scan's COPY and builds the same in-process index and pHash index
(scan.CatalogSearch); it keeps them for the scan's later shards, so a process
loads once per scan however many shards it takes. A shard searches the photos
of its id range against the whole catalogue, exactly as the single scan's
batches do, and stores its pairs (upserts keeping the strongest evidence) in the
transaction that marks it done. The last shard sends the finish: the regroup.

What scales with worker processes: the search (CPU-bound BLAS and the evidence
comparisons), split evenly by the shards. What does not: each process's load
and index build (every process pays it once, and they contend for the same
database and cores), the pair writes (serialised by the duplicates lock), and
the final regroup (one process).

Thresholds, k and the batch size are fixed in the run's params when it starts,
so every shard compares with the same floors whatever a worker's own settings say.
Photos embedded after the run started have higher ids than every shard's
range: like the rows a single scan's COPY did not see, they are the upload
check's (a process that loads later may still find them as neighbours).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from config.fanout.jobs import ShardedJob
from config.fanout.models import FanOut
from config.fanout.services import fanout_resume, fanout_start
from embeddings.models import Space
from embeddings.selectors import ActiveEncoder
from recommender.duplicates import selectors
from recommender.duplicates.detection import PairEvidence, strongest_per_pair
from recommender.duplicates.models import DuplicateScan, ScanStatus
from recommender.duplicates.scan import (
    _FROM,
    BATCH_SIZE,
    SHARDED_SCAN,
    CatalogSearch,
    ScanError,
    catalog_vectors_load,
    scan_regroup,
    sole_scan,
)
from recommender.duplicates.services import duplicate_pairs_store
from recommender.duplicates.thresholds import Thresholds

ShardResult = tuple[list[PairEvidence], int]  # (evidence, photos searched)


class DuplicateScanShards(ShardedJob[CatalogSearch, ShardResult]):
    def load(self, fanout: FanOut) -> CatalogSearch | None:
        if not DuplicateScan.objects.filter(pk=fanout.job_id, status=ScanStatus.RUNNING).exists():
            return None
        params = fanout.params
        encoder = ActiveEncoder(space=Space.VISUAL.value, identity=params["encoder"], dim=params["dim"])
        thresholds = Thresholds(**params["thresholds"])
        return CatalogSearch.build(catalog_vectors_load(encoder), thresholds=thresholds, k=params["k"])

    def compute(self, fanout: FanOut, loaded: CatalogSearch, low: int, high: int) -> ShardResult:
        ids = loaded.catalog.vector_ids
        first, last = (int(np.searchsorted(ids, bound, side="right")) for bound in (low, high))
        batch = int(fanout.params["batch_size"])
        evidence: dict[tuple[int, int], PairEvidence] = {}
        for start in range(first, last, batch):
            found = loaded.evidence(np.arange(start, min(last, start + batch), dtype=np.int64))
            evidence = strongest_per_pair(itertools.chain(evidence.values(), found.values()))
        return list(evidence.values()), last - first

    def store(self, fanout: FanOut, result: ShardResult) -> None:
        evidence, searched = result
        stored = duplicate_pairs_store(evidence=evidence, encoder=fanout.params["encoder"])
        DuplicateScan.objects.filter(pk=fanout.job_id).update(
            images_scanned=F("images_scanned") + searched, pairs_found=F("pairs_found") + len(stored)
        )

    def finish(self, fanout: FanOut) -> None:
        scan_regroup(scan_id=fanout.job_id, encoder=fanout.params["encoder"])


def _vector_ids(encoder: ActiveEncoder) -> np.ndarray:
    """The query set's ids, ascending (8 bytes a photo: no vectors)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT iv.id " + _FROM + " ORDER BY iv.id", [Space.VISUAL.value, encoder.identity])
        return np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64)


def duplicates_scan_fan_out(
    *, shards: int, resume: bool = True, batch_size: int = BATCH_SIZE, k: int | None = None
) -> tuple[DuplicateScan, FanOut, bool]:
    """Start the scan in `shards` tasks (or resume the running one); (scan, its run, resumed). Returns at once.

    Resuming a fanned-out scan resends its shards not done (with their original
    bounds, whatever `shards` says now); a scan that the single process left
    interrupted goes on in shards from its cursor.
    """
    if shards < 1:
        raise ScanError(f"--shards must be at least 1, got {shards}")
    encoder = selectors.visual_encoder()
    if encoder is None:
        raise ScanError("no visual encoder is active yet: embed some photos first")
    # Held while starting only: a single-process scan started later finds this scan's run and stops.
    with sole_scan(), transaction.atomic():
        running = (
            DuplicateScan.objects.select_for_update()
            .filter(encoder=encoder.identity, status=ScanStatus.RUNNING)
            .first()
        )
        if running is not None:
            if (fanout := fanout_resume(SHARDED_SCAN, running.pk, resume=resume)) is not None:
                return running, fanout, True
            if not resume:
                running.delete()
                running = None
        scan = running or DuplicateScan.objects.create(encoder=encoder.identity)
        ids = _vector_ids(encoder)
        DuplicateScan.objects.filter(pk=scan.pk).update(images_total=len(ids))
        params = {
            "encoder": encoder.identity,
            "dim": encoder.dim,
            "thresholds": dataclasses.asdict(selectors.thresholds_for_encoder(encoder)),
            "k": k or settings.DUPLICATES_KNN_LIMIT,
            "batch_size": batch_size,
        }
        fanout = fanout_start(
            kind=SHARDED_SCAN,
            job_id=scan.pk,
            keys=ids,
            shards=shards,
            params=params,
            after=scan.cursor,
        )
    scan.refresh_from_db()
    return scan, fanout, running is not None
