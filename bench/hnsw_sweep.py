"""HNSW build settings by measurement (issue 12): recall@10 and latency per (m, ef_construction, ef_search).

    python -m bench.hnsw_sweep --vectors fashion              # the lite profile's vectors of 70,000 photos
    python -m bench.hnsw_sweep --vectors gaussian --n 100000  # the stress set of bench/query_data.py
    python -m bench.hnsw_sweep --vectors gaussian --n 1000000 --grid 16:128 --ef 40,100,200

For each (m, ef_construction) of --grid, one HNSW index is built over the
vectors (halfvec, cosine, as embeddings/vector_indexes.py builds them; its build
time and size recorded), then --queries of the catalogue's own products ask for
their neighbours, self excluded, the way the API's index branch does: a partial
statement `ORDER BY embedding <=> q LIMIT k` with k = the page window, then the
candidates re-ranked exactly (the API scores every candidate exactly) and the
first 10 compared with exact search in numpy. Unfiltered, and with a filter
matching 50% (a plain scan, ef_search widened as the planner does) and 10% (an
iterative scan) of rows, independent of the vectors.

The fashion vectors come from the production lite encoders (EfficientNet-Lite0 +
ConSE, ONNX Runtime) over Fashion-MNIST's 70,000 photos, cached in
bench/out/fashion-lite-vectors.npz (about 20 minutes to make on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

import numpy as np

from bench.db import ROOT

OUT = ROOT / "bench" / "out"
TABLE = "sweep_vectors"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", choices=["fashion", "gaussian"], default="fashion")
    parser.add_argument("--space", choices=["visual", "semantic"], default="visual", help="fashion: which space")
    parser.add_argument("--n", type=int, default=100_000, help="gaussian: products")
    parser.add_argument("--grid", default="16:64,16:128,16:256,24:128", help="m:ef_construction pairs")
    parser.add_argument("--ef", default="40,64,100,200", help="ef_search values")
    parser.add_argument("--k", type=int, default=60, help="candidates per query (the page window)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database", default="lookalike_bench_sweep")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    return parser.parse_args()


def fashion_vectors(space: str) -> np.ndarray:
    cached = OUT / "fashion-lite-vectors.npz"
    if not cached.exists():
        from PIL import Image

        from bench.photo_corpus import FASHION_DIR, read_idx
        from embeddings.encoders import get_encoder
        from embeddings.encoders.joint import encode_images_together

        arrays = np.concatenate([read_idx(FASHION_DIR / f"{part}-images-idx3-ubyte.gz") for part in ("train", "t10k")])
        labels = np.concatenate([read_idx(FASHION_DIR / f"{part}-labels-idx1-ubyte.gz") for part in ("train", "t10k")])
        encoders = [get_encoder("efficientnet-lite0"), get_encoder("conse-minilm")]
        visual, semantic = [], []
        started = time.perf_counter()
        for start in range(0, len(arrays), 1024):
            # As uploads arrive: a shop's thumbnail-sized photo, encoded by the worker's joint path.
            images = [
                Image.fromarray(a).resize((224, 224), Image.Resampling.BICUBIC).convert("RGB")
                for a in arrays[start : start + 1024]
            ]
            v, s = encode_images_together(encoders, images)
            visual.append(v)
            semantic.append(s)
            print(
                f"  encoded {start + len(images):,} / {len(arrays):,} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(cached, visual=np.concatenate(visual), semantic=np.concatenate(semantic), labels=labels)
    data = np.load(cached)
    return np.asarray(data[space], dtype=np.float32)


def gaussian_vectors(n: int) -> np.ndarray:
    from bench.query_data import Mixture

    rng = np.random.default_rng(1)
    mixture = Mixture(rng, clusters=max(4, n // 500), subclusters=20)
    rows = [mixture.draw(rng, rng.integers(0, max(4, n // 500), size=min(50_000, n - s))) for s in range(0, n, 50_000)]
    return np.concatenate(rows).astype(np.float32)


def load(conn: Any, vectors: np.ndarray) -> None:
    from embeddings.vector_codec import vector_literal

    dim = vectors.shape[1]
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, bucket int NOT NULL, embedding halfvec({dim}) NOT NULL)")
    buckets = np.random.default_rng(2).integers(0, 100, size=len(vectors))
    with conn.cursor().copy(f"COPY {TABLE} (id, bucket, embedding) FROM STDIN") as copy:
        for i, vector in enumerate(vectors):
            copy.write_row((i, int(buckets[i]), vector_literal(vector)))
    conn.execute(f"ANALYZE {TABLE}")


def build(conn: Any, m: int, ef_construction: int, maintenance_work_mem: str) -> dict[str, Any]:
    conn.execute(f"DROP INDEX IF EXISTS {TABLE}_hnsw")
    conn.execute("SELECT set_config(%s, %s, false)", ["maintenance_work_mem", maintenance_work_mem])
    conn.execute("SET max_parallel_maintenance_workers = 1")
    started = time.perf_counter()
    conn.execute(
        f"CREATE INDEX {TABLE}_hnsw ON {TABLE} USING hnsw (embedding halfvec_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
    )
    seconds = time.perf_counter() - started
    size = conn.execute(f"SELECT pg_relation_size('{TABLE}_hnsw')").fetchone()[0]
    return {"build_seconds": round(seconds, 1), "index_mib": round(size / 2**20)}


def exact_truth(vectors16: np.ndarray, queries: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    truth = {}
    similarity = vectors16[queries] @ vectors16.T
    similarity[np.arange(len(queries)), queries] = -np.inf
    for name, mask in masks.items():
        masked = np.where(mask[None, :], similarity, -np.inf)
        truth[name] = np.argsort(-masked, axis=1, kind="stable")[:, :10]
    return truth


def measure(
    conn: Any,
    vectors16: np.ndarray,
    queries: np.ndarray,
    truth: dict[str, np.ndarray],
    ef: int,
    k: int,
    buckets: np.ndarray,
) -> dict[str, Any]:
    from embeddings.vector_codec import vector_literal

    dim = vectors16.shape[1]
    filters = {"unfiltered": ("TRUE", 1.0), "50%": ("bucket < 50", 0.5), "10%": ("bucket < 10", 0.1)}
    result: dict[str, Any] = {}
    for name, (where, fraction) in filters.items():
        if fraction >= 0.3:
            # The planner's plain scan for a broad filter: ef widened so k survive it (planning.py).
            settings = [
                ("hnsw.ef_search", str(min(1000, max(ef, math.ceil(k / fraction * 1.5))))),
                ("hnsw.iterative_scan", "off"),
            ]
        else:
            settings = [
                ("hnsw.ef_search", str(ef)),
                ("hnsw.iterative_scan", "relaxed_order"),
                ("hnsw.max_scan_tuples", "50000"),
            ]
        for key, value in settings:
            conn.execute("SELECT set_config(%s, %s, false)", [key, value])
        hits, latencies = 0, []
        for i, row in enumerate(queries.tolist()):
            literal = vector_literal(vectors16[row])
            started = time.perf_counter()
            found = conn.execute(
                f"SELECT id FROM {TABLE} WHERE id <> %s AND {where} ORDER BY embedding <=> %s::halfvec({dim}) LIMIT %s",
                [row, literal, k],
                prepare=True,
            ).fetchall()
            latencies.append((time.perf_counter() - started) * 1000)
            candidates = np.asarray([f[0] for f in found], dtype=np.int64)
            if len(candidates):
                # Re-ranked exactly, as the API scores every candidate it fetched.
                exact = vectors16[candidates] @ vectors16[row]
                candidates = candidates[np.argsort(-exact, kind="stable")[:10]]
            hits += len(set(candidates.tolist()) & set(truth[name][i].tolist()))
        result[name] = {
            "recall_at_10": round(hits / (10 * len(queries)), 4),
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p99_ms": round(float(np.percentile(latencies, 99)), 2),
            "settings": dict(settings),
        }
    return result


def main() -> None:
    args = parse_args()
    import psycopg

    from bench.db import setup_django

    setup_django(database=args.database, fresh=True, migrate=False)
    vectors = fashion_vectors(args.space) if args.vectors == "fashion" else gaussian_vectors(args.n)
    vectors16 = vectors.astype(np.float16).astype(np.float32)  # what halfvec stores
    report: dict[str, Any] = {
        "vectors": args.vectors,
        "space": args.space if args.vectors == "fashion" else None,
        "n": len(vectors),
        "dim": vectors.shape[1],
        "k": args.k,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "runs": [],
    }
    rng = np.random.default_rng(3)
    queries = rng.choice(len(vectors), size=args.queries, replace=False)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        started = time.perf_counter()
        load(conn, vectors)
        report["load_seconds"] = round(time.perf_counter() - started, 1)
        buckets = np.asarray([b for (b,) in conn.execute(f"SELECT bucket FROM {TABLE} ORDER BY id").fetchall()])
        masks = {"unfiltered": np.ones(len(vectors), bool), "50%": buckets < 50, "10%": buckets < 10}
        truth = exact_truth(vectors16, queries, masks)
        for pair in args.grid.split(","):
            m, ef_construction = (int(x) for x in pair.split(":"))
            built = build(conn, m, ef_construction, args.maintenance_work_mem)
            print(f"  m={m} ef_construction={ef_construction}: {json.dumps(built)}", flush=True)
            for ef in (int(e) for e in args.ef.split(",")):
                measured = measure(conn, vectors16, queries, truth, ef, args.k, buckets)
                report["runs"].append(
                    {"m": m, "ef_construction": ef_construction, "ef_search": ef, **built, **measured}
                )
                line = {name: (r["recall_at_10"], r["p50_ms"]) for name, r in measured.items() if isinstance(r, dict)}
                print(f"    ef_search={ef}: recall@10, p50 ms {json.dumps(line)}", flush=True)
    name = f"hnsw-sweep-{args.vectors}{'-' + args.space if args.vectors == 'fashion' else ''}-{len(vectors)}.json"
    (OUT / name).write_text(json.dumps(report, indent=2))
    print(f"written bench/out/{name}")


if __name__ == "__main__":
    main()
