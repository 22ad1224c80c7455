"""Scale of duplicate detection: the full-catalog scan and the per-upload check.

Synthetic catalogue: a two-level gaussian mixture on the unit sphere (clusters of
look-alike products whose nearest neighbours sit around cosine 0.6-0.7, below the
"similar" floor), plus planted re-listings: 1% near-copies (cosine ~0.95 to a random
earlier product) and 0.2% exact copies (same vector, same bytes). Recall counts
planted pairs that the scan stores.

Two modes:

- in-process (default): exactly what `find_duplicates` does after loading vectors:
  build the ANN index (embeddings.ann), search every photo in batches
  (k nearest, threshold afterwards), compare evidence (detection.compare). Feasible
  at 1,000,000 photos on the 2-core machine without writing a million rows first.
- --db: a database of its own (`bench_duplicates`, dropped and re-created): products,
  photos and photo vectors COPY-loaded, the encoder registered (its HNSW index built),
  then the real `duplicates_scan` (COPY load, index, search, pair writes, regroup) and
  the per-upload check `duplicates_check_image` on random photos (HNSW k-NN), p50/p95.

    python -m bench.duplicates_scale --n 100000                 # in-process
    python -m bench.duplicates_scale --n 100000 --db            # through PostgreSQL
    nohup python -m bench.duplicates_scale --n 1000000 > bench/out/duplicates_scale_1m.log 2>&1 &
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.db import setup_django
from embeddings import ann
from recommender.duplicates.detection import Photo, compare, strongest_per_pair
from recommender.duplicates.thresholds import Thresholds

ENCODER_NAME = "bench-visual"
ENCODER = f"{ENCODER_NAME}@synthetic"
# The thresholds the synthetic space is scanned with (see the module docstring).
THRESHOLDS = Thresholds(near=0.90, similar=0.80, phash_max_distance=6)
CHUNK = 50_000


@dataclass
class Catalogue:
    vectors: np.ndarray  # (n, dim) float32 unit rows (float16-exact, as stored); row i is product i+1's only photo
    sha: list[str]
    phash: np.ndarray
    planted: set[tuple[int, int]]  # (row, row) pairs, low first


def generate(n: int, dim: int, seed: int = 1) -> Catalogue:
    rng = np.random.default_rng(seed)
    clusters = max(10, n // 1000)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        points = centres[rng.integers(0, clusters, size)] + 1.3 * rng.standard_normal(
            (size, dim), dtype=np.float32
        ) / np.sqrt(dim)
        # Rounded through float16: the database stores halfvec.
        vectors[start : start + size] = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float16)
    sha = [f"{i:064x}" for i in range(n)]
    phash = rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64)
    planted: set[tuple[int, int]] = set()
    copies = rng.choice(np.arange(n // 10, n), size=n // 100 + n // 500, replace=False)
    for number, row in enumerate(copies.tolist()):
        source = int(rng.integers(0, row))
        if number < n // 500:  # exact copy: same bytes, same vector
            vectors[row], sha[row], phash[row] = vectors[source], sha[source], phash[source]
        else:  # near copy: cosine ~0.95
            noise = rng.standard_normal(dim, dtype=np.float32) / np.sqrt(dim)
            point = vectors[source] + 0.33 * noise
            vectors[row] = (point / np.linalg.norm(point)).astype(np.float16)
        planted.add((source, row))
    return Catalogue(vectors, sha, phash, planted)


def scan_in_process(catalogue: Catalogue, *, k: int, batch: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    index = ann.build_index(catalogue.vectors)
    timings["build_index_s"] = time.perf_counter() - started
    timings["build_index_cpu_s"] = time.process_time() - cpu_started
    search = evidence_time = 0.0
    found: set[tuple[int, int]] = set()
    n = len(catalogue.vectors)

    def photo(row: int) -> Photo:
        return Photo(row + 1, row + 1, "", catalogue.sha[row], int(catalogue.phash[row]))

    for start in range(0, n, batch):
        rows = np.arange(start, min(n, start + batch), dtype=np.int64)
        t0 = time.perf_counter()
        queries, neighbours, similarity = ann.similar_pairs(index, rows, k=k, min_similarity=THRESHOLDS.similar)
        t1 = time.perf_counter()
        best = strongest_per_pair(
            item
            for q, m, s in zip(queries.tolist(), neighbours.tolist(), similarity.tolist(), strict=True)
            if (item := compare(photo(q), photo(m), similarity=s, thresholds=THRESHOLDS))
        )
        found.update((low - 1, high - 1) for low, high in best)
        evidence_time += time.perf_counter() - t1
        search += t1 - t0
        if start // batch % 20 == 0:
            print(f"  searched {min(n, start + batch):,} / {n:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    timings["search_s"], timings["evidence_s"] = search, evidence_time
    timings["total_s"] = time.perf_counter() - started
    # CPU seconds of this process (all threads): what the scan costs on an idle machine, where
    # two cores give at most 2 CPU-seconds per second; the wall-clock figures include contention.
    timings["total_cpu_s"] = time.process_time() - cpu_started
    hit = len(catalogue.planted & found)
    return {
        **{key: round(value, 1) for key, value in timings.items()},
        "planted_pairs": len(catalogue.planted),
        "planted_found": hit,
        "recall": round(hit / len(catalogue.planted), 4),
        "other_pairs_found": len(found - catalogue.planted),
    }


# --- through PostgreSQL -------------------------------------------------------------------------
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _vector_rows(ids: np.ndarray, vectors: np.ndarray, now: datetime) -> bytes:
    """Binary COPY rows for embeddings_imagevector, in the column order load_database names."""
    dim = vectors.shape[1]
    space, encoder = b"visual", ENCODER.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l_id", ">i4"), ("id", ">i8"), ("l_img", ">i4"), ("img", ">i8"), ("l_prod", ">i4"), ("prod", ">i8"),
            ("l_space", ">i4"), ("space", f"S{len(space)}"), ("l_enc", ">i4"), ("enc", f"S{len(encoder)}"),
            ("l_vec", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f2", (dim,)),
            ("l_ver", ">i4"), ("ver", ">i4"), ("l_ts", ">i4"), ("ts", ">i8"),
        ]
    )  # fmt: skip
    rows = np.zeros(len(ids), dtype=row)
    rows["fields"] = 8
    for name in ("id", "img", "prod"):
        rows[f"l_{name}"], rows[name] = 8, ids
    rows["l_space"], rows["space"], rows["l_enc"], rows["enc"] = len(space), space, len(encoder), encoder
    rows["l_vec"], rows["dim"], rows["vec"] = 4 + 2 * dim, dim, vectors
    rows["l_ver"], rows["ver"] = 4, 1
    rows["l_ts"], rows["ts"] = 8, int((now - PG_EPOCH).total_seconds() * 1_000_000)
    return COPY_HEADER + rows.tobytes() + COPY_TRAILER


def load_database(catalogue: Catalogue) -> float:
    import psycopg

    n = len(catalogue.vectors)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as raw:
        cursor = raw.cursor()
        for start in range(0, n, CHUNK):
            ids = np.arange(start + 1, min(n, start + CHUNK) + 1, dtype=np.int64)
            products, images = io.StringIO(), io.StringIO()
            for i in ids.tolist():
                stamp = now.isoformat()
                products.write(
                    f"{i}\tS{i:08d}\tListing {i}\t\t\t19.90\tEUR\t1\t{{}}\t\tseller-{i % 97}\tt\t{stamp}\t{stamp}\n"
                )
                images.write(
                    f"{i}\t{i}\tproducts/{i}.jpg\t{catalogue.sha[i - 1]}\t{catalogue.phash[i - 1]}\t640\t640\t0\t{{}}\t"
                    f"done\t\t1\t{stamp}\t{stamp}\t\n"
                )
            with cursor.copy(
                "COPY catalog_product (id, sku, title, description, brand, price, currency, stock, attributes, "
                "product_group, seller, is_active, created_at, updated_at) FROM STDIN"
            ) as copy:
                copy.write(products.getvalue())
            with cursor.copy(
                "COPY catalog_productimage (id, product_id, file, sha256, phash, width, height, position, thumbnails, "
                "embedding_status, embedding_error, version, created_at, updated_at, source) FROM STDIN"
            ) as copy:
                copy.write(images.getvalue())
            with cursor.copy(
                "COPY embeddings_imagevector (id, image_id, product_id, space, encoder, embedding, image_version, "
                "created_at) FROM STDIN (FORMAT binary)"
            ) as copy:
                copy.write(_vector_rows(ids, catalogue.vectors[ids - 1].astype(np.float16), now))
            raw.commit()
        for table in ("catalog_product", "catalog_productimage", "embeddings_imagevector"):
            cursor.execute(f"SELECT setval('{table}_id_seq', %s)", [n])
        raw.commit()
    return time.perf_counter() - started


def scan_through_database(catalogue: Catalogue, *, checks: int) -> dict[str, Any]:
    setup_django(database="bench_duplicates", fresh=True, migrate=True)
    from django.conf import settings
    from django.db import connection

    from embeddings.services import space_encoder_register
    from recommender.duplicates.scan import duplicates_scan
    from recommender.duplicates.services import duplicates_check_image

    settings.DUPLICATES_THRESHOLDS = {
        **settings.DUPLICATES_THRESHOLDS,
        ENCODER_NAME: {"near": THRESHOLDS.near, "similar": THRESHOLDS.similar},
    }
    report: dict[str, Any] = {"load_s": round(load_database(catalogue), 1)}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
    started = time.perf_counter()
    space_encoder_register(space="visual", identity=ENCODER, dim=catalogue.vectors.shape[1])
    report["hnsw_build_s"] = round(time.perf_counter() - started, 1)
    print(f"  loaded in {report['load_s']} s, HNSW built in {report['hnsw_build_s']} s", flush=True)

    started = time.perf_counter()
    scan = duplicates_scan(resume=False)
    report["scan_s"] = round(time.perf_counter() - started, 1)
    from recommender.duplicates.models import DuplicateGroup, DuplicatePair

    stored = set(DuplicatePair.objects.values_list("product_low_id", "product_high_id"))
    found = {(low - 1, high - 1) for low, high in stored}
    report.update(
        {
            "scan_photos": scan.images_scanned,
            "pairs_stored": len(stored),
            "groups": DuplicateGroup.objects.count(),
            "recall": round(len(catalogue.planted & found) / len(catalogue.planted), 4),
        }
    )
    print(f"  scan: {report}", flush=True)

    rng = np.random.default_rng(7)
    latencies = []
    for image_id in rng.choice(len(catalogue.vectors), size=checks, replace=False).tolist():
        t0 = time.perf_counter()
        duplicates_check_image(image_id=image_id + 1)
        latencies.append((time.perf_counter() - t0) * 1000)
    report["check_ms"] = {
        "n": checks,
        "p50": round(float(np.percentile(latencies, 50)), 1),
        "p95": round(float(np.percentile(latencies, 95)), 1),
        "max": round(max(latencies), 1),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280, help="1280: the lite visual encoder's dimension")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--db", action="store_true", help="through PostgreSQL (a bench database of its own)")
    parser.add_argument("--checks", type=int, default=300, help="per-upload checks timed (--db)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    catalogue = generate(args.n, args.dim)
    print(f"generated {args.n:,} x {args.dim} in {time.perf_counter() - started:.0f} s", flush=True)
    report: dict[str, Any] = {"n": args.n, "dim": args.dim, "k": args.k, "thresholds": THRESHOLDS.__dict__}
    if args.db:
        report["database"] = scan_through_database(catalogue, checks=args.checks)
    else:
        report["in_process"] = scan_in_process(catalogue, k=args.k, batch=args.batch)
    report["load_average_1m_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
