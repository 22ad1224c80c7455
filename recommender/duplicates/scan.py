"""The full-catalog duplicate scan behind `manage.py find_duplicates`.

1. Load every current visual vector of active products with one binary COPY
   (2.5 KB a photo at 1280-d as halfvec; parsed straight into a float32 matrix).
2. Build the in-process ANN index (embeddings.ann).
3. Search it in batches: k nearest per photo (bounded), threshold afterwards,
   and every photo whose pHash is within the exact tier's bits of one of the
   photo's orientations (phash_pairs), as the upload check's index lookup does;
   evidence compared exactly as on upload (detection.compare), pairs stored.
   Each batch's pairs and the scan's cursor commit in one transaction, so an
   interrupted scan resumes after the last committed batch, never in between.
4. Regroup every product that has a pair.

`find_duplicates --shards N` runs steps 1-3 per shard on the workers and step 4
once at the end (recommender.duplicates.scan_shards), with this module's
CatalogSearch and scan_regroup: the same search, the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models.images import PHASH_CHUNKS
from config.fanout.services import fanout_discard, fanout_of
from embeddings import ann as ann_index
from embeddings.models import Space
from embeddings.selectors import ActiveEncoder
from embeddings.vector_codec import halfvec_from_wire
from recommender.duplicates import selectors
from recommender.duplicates.detection import (
    FLAT_HASH_BITS,
    PairEvidence,
    Photo,
    compare,
    flat_hash_values,
    listing_key,
    strongest_per_pair,
)
from recommender.duplicates.models import DuplicatePair, DuplicateScan, ScanStatus
from recommender.duplicates.services import duplicate_groups_refresh, duplicate_pairs_store
from recommender.duplicates.thresholds import Thresholds

# One batch: ~0.3 s of index search and one transaction of pair writes on the development machine.
BATCH_SIZE = 8192
_SCAN_LOCK_KEY = 0x6475_7073_6361_6E  # "dupscan"
# The fanout kind of a scan run in shards by the workers (recommender.duplicates.scan_shards).
SHARDED_SCAN = "duplicates"


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
    phash_turns: list[tuple[int, ...]]
    listings: list[str]  # detection.listing_key of each photo's product
    vectors: np.ndarray  # (n, dim) float32 unit rows (what the ANN index re-scores from)

    def photo(self, row: int) -> Photo:
        return Photo(
            image_id=int(self.image_ids[row]),
            product_id=int(self.product_ids[row]),
            product_group=self.product_groups[row],
            sha256=self.sha256[row],
            phash=self.phash[row],
            phash_turns=self.phash_turns[row],
            listing=self.listings[row],
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
    turns: list[tuple[int, ...]] = []
    listings: list[str] = []
    vectors = np.empty((count, encoder.dim), dtype=np.float32)
    sql = (
        "COPY (SELECT iv.id, iv.image_id, iv.product_id, halfvec_send(iv.embedding), "
        "p.product_group, pi.sha256, pi.phash, pi.phash_turns, p.title, p.brand "
        + _FROM
        + " ORDER BY iv.id) TO STDOUT (FORMAT BINARY)"
    )
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    row = 0
    with raw.cursor() as cursor, cursor.copy(sql, params) as copy:
        copy.set_types(["int8", "int8", "int8", "bytea", "text", "text", "int8", "int8[]", "text", "text"])
        for vid, iid, pid, blob, group, sha, phash, turned, title, brand in copy.rows():
            if row >= count:  # rows committed after the COUNT; the next scan sees them
                break
            vector_ids[row], image_ids[row], product_ids[row] = vid, iid, pid
            vectors[row] = halfvec_from_wire(blob)
            groups.append(group)
            shas.append(sha)
            hashes.append(phash)
            turns.append(tuple(turned or ()))
            listings.append(listing_key(title, brand))
            row += 1
    keep = slice(0, row)
    return CatalogVectors(
        vector_ids[keep], image_ids[keep], product_ids[keep], groups, shas, hashes, turns, listings, vectors[keep]
    )


@dataclass(frozen=True)
class PhashIndex:
    """The catalogue's pHashes sorted on each chunk of PHASH_CHUNKS: the in-memory mirror of the upload check's chunk
    indexes (selectors.phash_photos): two hashes within PHASH_LOOKUP_MAX_BITS bits share a whole chunk."""

    plain: np.ndarray  # int64, one per catalogue row (0 where unknown)
    usable: np.ndarray  # bool: a hash that says something (known, not a flat picture's)
    sorted_keys: tuple[np.ndarray, ...]  # per chunk of PHASH_CHUNKS
    sorted_rows: tuple[np.ndarray, ...]

    @classmethod
    def build(cls, catalog: CatalogVectors) -> PhashIndex:
        plain = np.array([h if h is not None else 0 for h in catalog.phash], dtype=np.int64)
        usable = np.array([h is not None for h in catalog.phash], dtype=bool) & ~flat_hashes(plain)
        rows = np.flatnonzero(usable)
        keys, ordered = [], []
        for shift, mask in PHASH_CHUNKS:
            chunk = (plain[rows] >> shift) & mask
            order = np.argsort(chunk, kind="stable")
            keys.append(chunk[order])
            ordered.append(rows[order])
        return cls(plain, usable, tuple(keys), tuple(ordered))

    def pairs(self, catalog: CatalogVectors, rows: np.ndarray, *, max_bits: int) -> tuple[np.ndarray, np.ndarray]:
        """(query row, other row): the others whose pHash is within `max_bits` of one of the query's orientations."""
        queries: list[int] = []
        hashes: list[int] = []
        for row in rows.tolist():
            if self.usable[row]:
                for value in (int(self.plain[row]), *catalog.phash_turns[row]):
                    queries.append(row)
                    hashes.append(value)
        if not queries:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        query_rows, query_hashes = np.array(queries, dtype=np.int64), np.array(hashes, dtype=np.int64)
        found_q, found_n = [], []
        for (shift, mask), sorted_keys, sorted_rows in zip(
            PHASH_CHUNKS, self.sorted_keys, self.sorted_rows, strict=True
        ):
            wanted = (query_hashes >> shift) & mask
            low = np.searchsorted(sorted_keys, wanted, side="left")
            counts = np.searchsorted(sorted_keys, wanted, side="right") - low
            which = np.repeat(np.arange(len(wanted)), counts)
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            others = sorted_rows[low[which] + offsets]
            bits = np.bitwise_count((query_hashes[which] ^ self.plain[others]).view(np.uint64))
            keep = (bits <= max_bits) & (others != query_rows[which])
            found_q.append(query_rows[which][keep])
            found_n.append(others[keep])
        pairs = np.unique(np.stack([np.concatenate(found_q), np.concatenate(found_n)], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]


def flat_hashes(hashes: np.ndarray) -> np.ndarray:
    """detection.flat_hash over an int64 array, a block at a time (a million hashes against 114 flat ones)."""
    flats = np.array(sorted(flat_hash_values()), dtype=np.int64)
    out = np.zeros(len(hashes), dtype=bool)
    for start in range(0, len(hashes), 65536):
        block = hashes[start : start + 65536]
        bits = np.bitwise_count((block[:, None] ^ flats[None, :]).view(np.uint64))
        out[start : start + 65536] = bits.min(axis=1) <= FLAT_HASH_BITS
    return out


@dataclass(frozen=True)
class CatalogSearch:
    """Step 3 for any rows of a loaded catalogue: what the single scan and each shard of a fanned-out one run."""

    catalog: CatalogVectors
    index: ann_index.AnnIndex
    hashes: PhashIndex
    thresholds: Thresholds
    k: int

    @classmethod
    def build(cls, catalog: CatalogVectors, *, thresholds: Thresholds, k: int) -> CatalogSearch:
        return cls(catalog, ann_index.build_index(catalog.vectors), PhashIndex.build(catalog), thresholds, k)

    def evidence(self, rows: np.ndarray) -> dict[tuple[int, int], PairEvidence]:
        """The strongest evidence per pair of products found by searching the photos `rows`."""
        catalog, thresholds = self.catalog, self.thresholds
        # The upload check weighs its k nearest whatever their similarity; the lowest floor any
        # rule uses is what makes a neighbour worth comparing here.
        queries, found, similarity = ann_index.similar_pairs(
            self.index, rows, k=self.k, min_similarity=min(thresholds.similar, thresholds.hashed_similarity)
        )
        hashed_q, hashed_n = self.hashes.pairs(
            catalog, rows, max_bits=min(thresholds.phash_max_distance, selectors.PHASH_LOOKUP_MAX_BITS)
        )
        hashed_s = ann_index.exact_similarity(catalog.vectors, hashed_q, hashed_n)
        queries = np.concatenate([queries, hashed_q])
        found = np.concatenate([found, hashed_n])
        similarity = np.concatenate([similarity, hashed_s])
        return strongest_per_pair(
            item
            for q, n, s in zip(queries.tolist(), found.tolist(), similarity.tolist(), strict=True)
            if (item := compare(catalog.photo(q), catalog.photo(n), similarity=s, thresholds=thresholds))
        )


def scan_regroup(*, scan_id: int, encoder: str) -> None:
    """Step 4, and the scan marked done. Call inside a transaction."""
    pairs = DuplicatePair.objects.filter(encoder=encoder)
    products = set(pairs.values_list("product_low_id", flat=True)) | set(
        pairs.values_list("product_high_id", flat=True)
    )
    duplicate_groups_refresh(product_ids=products)
    DuplicateScan.objects.filter(pk=scan_id).update(status=ScanStatus.DONE, finished_at=timezone.now())


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
    with sole_scan():
        return _scan(encoder, resume=resume, batch_size=batch_size, k=k, on_loaded=on_loaded, on_batch=on_batch)


@contextmanager
def sole_scan() -> Iterator[None]:
    """A session-level advisory lock, held across transactions: a second scan started meanwhile
    would otherwise resume the same row and write the same batches (PostgreSQL frees it if we die)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_SCAN_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ScanError("another find_duplicates scan is running")
    try:
        yield
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
        searcher = CatalogSearch.build(catalog, thresholds=thresholds, k=neighbours)
        for start in range(first, len(catalog.vector_ids), batch_size):
            rows = np.arange(start, min(len(catalog.vector_ids), start + batch_size), dtype=np.int64)
            evidence = searcher.evidence(rows)
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
        scan_regroup(scan_id=scan.pk, encoder=encoder.identity)
    scan.refresh_from_db()
    return scan


def _scan_start(encoder: str, *, resume: bool) -> DuplicateScan:
    with transaction.atomic():
        # Lock the running scan's row: two `find_duplicates` started together must not both take it.
        running = DuplicateScan.objects.select_for_update().filter(encoder=encoder, status=ScanStatus.RUNNING).first()
        if running is not None and resume and fanout_of(SHARDED_SCAN, running.pk) is not None:
            raise ScanError(
                f"scan {running.pk} is running in shards on the workers: follow it with find_duplicates --shards, "
                "or start over with --restart"
            )
        if running is not None and resume:
            return running
        if running is not None:
            fanout_discard(SHARDED_SCAN, running.pk)
            running.delete()
        return DuplicateScan.objects.create(encoder=encoder)
