"""The full-catalog duplicate scan behind `manage.py find_duplicates`.

1. Load every current visual vector of active products with one binary COPY
   (2.5 KB a photo at 1280-d as halfvec; parsed straight into a float32 matrix).
2. Build the in-process ANN index (embeddings.ann).
3. Search it in batches: k nearest per photo (bounded), threshold afterwards,
   evidence compared exactly as on upload (detection.compare), pairs stored.
   Each batch's pairs and the scan's cursor commit in one transaction, so an
   interrupted scan resumes after the last committed batch, never in between.
4. Regroup every product that has a pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from embeddings import ann as ann_index
from embeddings.models import Space
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire
from recommender.duplicates import selectors
from recommender.duplicates.detection import Photo, compare, strongest_per_pair
from recommender.duplicates.models import DuplicatePair, DuplicateScan, ScanStatus
from recommender.duplicates.services import duplicate_groups_refresh, duplicate_pairs_store

# One batch: ~0.3 s of index search and one transaction of pair writes on the development machine.
BATCH_SIZE = 8192
_SCAN_LOCK_KEY = 0x6475_7073_6361_6E  # "dupscan"


class ScanError(Exception):
    pass


@dataclass(frozen=True)
class CatalogVectors:
    vector_ids: np.ndarray  # int64, ascending: the resume cursor's order
    image_ids: np.ndarray
    product_ids: np.ndarray
    product_groups: list[str]
    sha256: list[str]
    phash: list[int | None]
    vectors: np.ndarray  # (n, dim) float32 unit rows (what the ANN index re-scores from)

    def photo(self, row: int) -> Photo:
        return Photo(
            image_id=int(self.image_ids[row]),
            product_id=int(self.product_ids[row]),
            product_group=self.product_groups[row],
            sha256=self.sha256[row],
            phash=self.phash[row],
        )


_FROM = """
FROM embeddings_imagevector iv
JOIN catalog_productimage pi ON pi.id = iv.image_id AND pi.version = iv.image_version
JOIN catalog_product p ON p.id = iv.product_id
WHERE iv.space = %s AND iv.encoder = %s AND p.is_active
"""


def catalog_vectors_load(encoder: ActiveEncoder) -> CatalogVectors:
    """Every current visual vector of an active product (one COUNT, one binary COPY)."""
    params = [Space.VISUAL.value, encoder.identity]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) " + _FROM, params)
        count = int(cursor.fetchone()[0])
    vector_ids = np.empty(count, dtype=np.int64)
    image_ids = np.empty(count, dtype=np.int64)
    product_ids = np.empty(count, dtype=np.int64)
    groups: list[str] = []
    shas: list[str] = []
    hashes: list[int | None] = []
    vectors = np.empty((count, encoder.dim), dtype=np.float32)
    sql = (
        "COPY (SELECT iv.id, iv.image_id, iv.product_id, halfvec_send(iv.embedding), "
        "p.product_group, pi.sha256, pi.phash " + _FROM + " ORDER BY iv.id) TO STDOUT (FORMAT BINARY)"
    )
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    row = 0
    with raw.cursor() as cursor, cursor.copy(sql, params) as copy:
        copy.set_types(["int8", "int8", "int8", "bytea", "text", "text", "int8"])
        for vid, iid, pid, blob, group, sha, phash in copy.rows():
            if row >= count:  # rows committed after the COUNT; the next scan sees them
                break
            vector_ids[row], image_ids[row], product_ids[row] = vid, iid, pid
            vectors[row] = halfvec_from_wire(blob)
            groups.append(group)
            shas.append(sha)
            hashes.append(phash)
            row += 1
    keep = slice(0, row)
    return CatalogVectors(vector_ids[keep], image_ids[keep], product_ids[keep], groups, shas, hashes, vectors[keep])


def duplicates_scan(
    *,
    resume: bool = True,
    batch_size: int = BATCH_SIZE,
    k: int | None = None,
    on_loaded: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> DuplicateScan:
    """Scan the whole catalog for duplicate pairs, then regroup. Returns the finished scan row.

    `on_loaded(total, already_done)` and `on_batch(photos)` report progress
    (the management command draws a tqdm bar with them).
    """
    encoder = selectors.visual_encoder()
    if encoder is None:
        raise ScanError("no visual encoder is active yet: embed some photos first")
    # A session-level advisory lock for the whole run: a second scan started
    # meanwhile would otherwise resume the same row and write the same batches.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_SCAN_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ScanError("another find_duplicates scan is running")
    try:
        return _scan(encoder, resume=resume, batch_size=batch_size, k=k, on_loaded=on_loaded, on_batch=on_batch)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_SCAN_LOCK_KEY])


def _scan(
    encoder: ActiveEncoder,
    *,
    resume: bool,
    batch_size: int,
    k: int | None,
    on_loaded: Callable[[int, int], None] | None,
    on_batch: Callable[[int], None] | None,
) -> DuplicateScan:
    thresholds = selectors.thresholds_for_encoder(encoder)
    neighbours = k or settings.DUPLICATES_KNN_LIMIT
    scan = _scan_start(encoder.identity, resume=resume)
    catalog = catalog_vectors_load(encoder)
    first = int(np.searchsorted(catalog.vector_ids, scan.cursor, side="right"))
    DuplicateScan.objects.filter(pk=scan.pk).update(images_total=len(catalog.vector_ids))
    if on_loaded is not None:
        on_loaded(len(catalog.vector_ids), first)
    if first < len(catalog.vector_ids):
        index = ann_index.build_index(catalog.vectors)
        for start in range(first, len(catalog.vector_ids), batch_size):
            rows = np.arange(start, min(len(catalog.vector_ids), start + batch_size), dtype=np.int64)
            queries, found, similarity = ann_index.similar_pairs(
                index, rows, k=neighbours, min_similarity=thresholds.similar
            )
            evidence = strongest_per_pair(
                item
                for q, n, s in zip(queries.tolist(), found.tolist(), similarity.tolist(), strict=True)
                if (item := compare(catalog.photo(q), catalog.photo(n), similarity=s, thresholds=thresholds))
            )
            # The batch's pairs and the cursor move together: a resumed scan never skips or half-writes a batch.
            with transaction.atomic():
                stored = duplicate_pairs_store(evidence=evidence.values(), encoder=encoder.identity)
                DuplicateScan.objects.filter(pk=scan.pk).update(
                    cursor=int(catalog.vector_ids[rows[-1]]),
                    images_scanned=F("images_scanned") + len(rows),
                    pairs_found=F("pairs_found") + len(stored),
                )
            if on_batch is not None:
                on_batch(len(rows))
    with transaction.atomic():
        pairs = DuplicatePair.objects.filter(encoder=encoder.identity)
        products = set(pairs.values_list("product_low_id", flat=True)) | set(
            pairs.values_list("product_high_id", flat=True)
        )
        duplicate_groups_refresh(product_ids=products)
        DuplicateScan.objects.filter(pk=scan.pk).update(status=ScanStatus.DONE, finished_at=timezone.now())
    scan.refresh_from_db()
    return scan


def _scan_start(encoder: str, *, resume: bool) -> DuplicateScan:
    with transaction.atomic():
        # Lock the running scan's row: two `find_duplicates` started together must not both take it.
        running = DuplicateScan.objects.select_for_update().filter(encoder=encoder, status=ScanStatus.RUNNING).first()
        if running is not None and resume:
            return running
        if running is not None:
            running.delete()
        return DuplicateScan.objects.create(encoder=encoder)
