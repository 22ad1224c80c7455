"""Storefront query benchmark (issues 5, 12): /similar/, /search/, /recommendations/ at N products.

    .venv/bin/python -m bench.query --n 100000            # load, index, measure
    .venv/bin/python -m bench.query --n 100000 --skip-load  # measure again on the loaded database
    .venv/bin/python -m bench.query --n 100000 --skip-load --lists-only --prewarm  # its stored lists, warm

1. Fills a separate database (default `lookalike_bench`, on the same PostgreSQL
   server; the development database is not touched) with N products carrying
   clustered 768-d vectors in both spaces (bench/query_data.py), by binary COPY,
   then builds the HNSW indexes after the load, reporting build time and the
   peak resident memory of the building backend and its parallel workers.
2. Starts gunicorn (2 sync workers) on loopback against that database and sends
   a bounded number of requests per scenario, `--concurrency` at a time.
3. Scores recall@10 of the API's answers against exact search in numpy.
4. Side by side in the same run: the engine's floor (one single-space HNSW
   statement on a warm connection, as the API's k and ef_search), the live path
   (no stored lists), then the stored neighbour lists built (timed) and /similar/
   measured again from them; and the incremental list update per embedded photo.

/search/ embeds the words with SigLIP B/16's real-size text tower on random
weights (bench/random_checkpoints.py), through the production loader: true
encoding cost, no download. Results go to bench/out/query-<n>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.db import BENCH_DATABASE, ROOT, setup_django
from bench.query_data import BRANDS, COLOURS, COMMON_CATEGORIES, NOUNS, Catalogue, generate_and_load
from bench.query_exact import exact_top, recall_at
from bench.query_http import Request, call, run

OUT = ROOT / "bench" / "out"

VISUAL_IDENTITY = "dinov2-base@bench-random"
SEMANTIC_NAME = "siglip-base-patch16-224"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="products (default 1,000,000)")
    parser.add_argument("--clusters", type=int, default=2000, help="visual clusters (default 2000)")
    parser.add_argument("--database", default=BENCH_DATABASE)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database and saved vectors")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per scenario")
    parser.add_argument("--recall-sample", type=int, default=50, help="requests per scenario scored for recall")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated client concurrencies to measure")
    parser.add_argument(
        "--search-requests", type=int, default=100, help="measured /search/ requests (each embeds text on the CPU)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (>1: gthread)")
    parser.add_argument("--pool", type=int, default=2, help="DATABASE_POOL_SIZE of each web worker")
    parser.add_argument("--no-lists", action="store_true", help="skip building and measuring the stored lists")
    parser.add_argument(
        "--lists-only",
        action="store_true",
        help="with --skip-load: measure the stored lists the database already holds (no live phase, no rebuild)",
    )
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="read the tables and indexes the storefront touches into shared_buffers first (pg_prewarm)",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--maintenance-work-mem", default="4GB")
    args = parser.parse_args()
    # Refused before anything is loaded: a load discards the lists this would measure.
    if args.lists_only and not args.skip_load:
        parser.error("--lists-only measures the lists of a loaded database: add --skip-load")
    if args.lists_only and args.no_lists:
        parser.error("--lists-only and --no-lists leave nothing to measure")
    return args


class PeakMemory(threading.Thread):
    """Samples the resident memory of one backend and its parallel workers (includes touched shared buffers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.stopped = pid, 0, threading.Event()

    @staticmethod
    def _rss_kib(pid: str) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            total = self._rss_kib(str(self.pid))
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        cmdline = (entry / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if f"parallel worker for PID {self.pid}".encode() in cmdline:
                        total += self._rss_kib(entry.name)
            self.peak_kib = max(self.peak_kib, total)


def build_indexes(semantic_identity: str, maintenance_work_mem: str) -> dict[str, Any]:
    from django.db import connection

    from embeddings.services import space_encoder_register

    report: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = %s", [maintenance_work_mem])
        # Two cores: the leader plus one worker.
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    for space, identity in (("visual", VISUAL_IDENTITY), ("semantic", semantic_identity)):
        sampler = PeakMemory(pid)
        sampler.start()
        started = time.perf_counter()
        space_encoder_register(space=space, identity=identity, dim=768)
        seconds = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()
        report[space] = {"seconds": round(seconds, 1), "peak_rss_mib": round(sampler.peak_kib / 1024)}
        print(f"  {space} HNSW index: {seconds:.0f} s, peak RSS {sampler.peak_kib / 1024:.0f} MiB", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid = 'embeddings_productvector'::regclass"
        )
        report["index_sizes_mib"] = {name: round(size / 2**20) for name, size in cursor.fetchall()}
        cursor.execute("SELECT pg_database_size(current_database())")
        report["database_mib"] = round(cursor.fetchone()[0] / 2**20)
    return report


def load(args: argparse.Namespace, semantic_identity: str, saved: Path) -> tuple[Catalogue, dict[str, Any]]:
    import psycopg
    from django.db import connection

    from catalog.models import Category

    Category.objects.bulk_create(
        [Category(slug=f"cat-{i:02d}", name=f"Category {i}") for i in range(COMMON_CATEGORIES)]
        + [Category(slug="rare", name="Rare")]
    )
    category_ids = dict(Category.objects.values_list("slug", "id"))
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as raw:
        catalogue = generate_and_load(
            raw,
            n=args.n,
            clusters=args.clusters,
            encoders={"visual": VISUAL_IDENTITY, "semantic": semantic_identity},
            category_ids=category_ids,
        )
    load_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    np.savez(saved, **{f.name: getattr(catalogue, f.name) for f in dataclasses.fields(catalogue)})
    print(f"  loaded in {load_seconds:.0f} s; building indexes", flush=True)
    report = {"load_seconds": round(load_seconds, 1), **build_indexes(semantic_identity, args.maintenance_work_mem)}
    return catalogue, report


def start_server(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    # DATABASE_URL and REDIS_URL: the benchmark's own, as setup_django exported them.
    env = os.environ | {
        "DEBUG": "0",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: production's redirect to HTTPS would answer every request with a 301.
        "SECURE_SSL_REDIRECT": "0",
        "CACHE_KEY_PREFIX": "bench",
        # Throttling stays on (its Redis round trip is part of every request) but never triggers.
        "THROTTLE_ANON": "100000000/min",
        "EMBEDDINGS_MODEL_DIR": str(OUT / "models"),
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        # A web worker serves one request at a time: BLAS threads only fight the other workers for the cores.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "DATABASE_POOL_SIZE": str(args.pool),
        # The exact reference below blends the two spaces evenly; the blend costs the same either way.
        "SIMILAR_VISUAL_WEIGHT": "0.5",
    }
    log = (OUT / f"query-{args.n}-server.log").open("wb")
    worker_class = "gthread" if args.threads > 1 else "sync"
    server = subprocess.Popen(
        [
            *(str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-w", str(args.workers)),
            *("--threads", str(args.threads), "--worker-class", worker_class),
            *("-b", f"127.0.0.1:{args.port}", "--timeout", "300", "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            call(args.port, ("GET", "/api/v1/search/?q=warm&limit=1", None))
            return server
        except (OSError, ValueError):
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not answer within 120 s; see bench/out/query-*-server.log")


def scenarios(rng: np.random.Generator, n: int, count: int) -> dict[str, list[Request]]:
    def similar(extra: str) -> list[Request]:
        return [
            ("GET", f"/api/v1/products/{rng.integers(1, n + 1)}/similar/?limit=12{extra}", None) for _ in range(count)
        ]

    def words() -> str:
        return f"{COLOURS[rng.integers(len(COLOURS))]} {NOUNS[rng.integers(len(NOUNS))]}"

    def history() -> dict[str, Any]:
        return {"liked": [int(rng.integers(1, n + 1))], "viewed": [int(x) for x in rng.integers(1, n + 1, size=2)]}

    return {
        "similar unfiltered": similar(""),
        "similar in_stock (50%)": similar("&in_stock=true"),
        f"similar brand={BRANDS[0]} (10%)": similar(f"&brand={BRANDS[0]}"),
        "similar category=rare (1%)": similar("&category=rare"),
        "search (text + full-text)": [
            ("GET", f"/api/v1/search/?q={words().replace(' ', '+')}", None) for _ in range(count)
        ],
        "recommendations (history)": [("POST", "/api/v1/recommendations/", history()) for _ in range(count)],
        "recommendations (cold start)": [("POST", "/api/v1/recommendations/", {}) for _ in range(count)],
    }


def same_listing(catalogue: Catalogue, product_id: int) -> list[int]:
    """The other products with `product_id`'s title and brand (left out of its "more like this")."""
    row = product_id - 1
    return [int(i) for i in catalogue.ids[catalogue.listing == catalogue.listing[row]] if i != product_id]


def recall(
    name: str, bodies: list[dict[str, Any]], requests: list[Request], catalogue: Catalogue, encoder: Any
) -> float | None:
    """recall@10 of `bodies` (answers to `requests`) against exact search, as the API defines the ranking."""
    if "cold start" in name:
        return None  # the starter set is not a nearest-neighbour list
    found = [[r["id"] for r in body["results"]] for body in bodies]
    everything = np.ones(len(catalogue.ids), bool)
    if name.startswith("similar"):
        sources = [int(requests[b["_index"]][1].split("/")[4]) for b in bodies]
        share = name.rsplit("(", 1)[-1].rstrip(")") if "(" in name else ""
        mask = {"50%": catalogue.in_stock, "10%": catalogue.acme, "1%": catalogue.rare}.get(share, everything)
        rows = np.asarray(sources) - 1
        truth = exact_top(
            catalogue,
            visual=catalogue.visual[rows].astype(np.float32),
            semantic=catalogue.semantic[rows].astype(np.float32),
            weights=(0.5, 0.5),
            mask=mask,
            exclude=[[s, *same_listing(catalogue, s)] for s in sources],
            ceiling=0.97,
        )
    elif name.startswith("search"):
        words = [requests[b["_index"]][1].split("q=")[1].split("&")[0].replace("+", " ") for b in bodies]
        vectors = encoder.encode_texts(words).astype(np.float16).astype(np.float32)
        truth = exact_top(
            catalogue,
            visual=None,
            semantic=vectors,
            weights=(0.0, 1.0),
            mask=everything,
            exclude=[[]] * len(words),
            ceiling=None,
        )
    else:
        histories = [requests[b["_index"]][2] or {} for b in bodies]
        queries = {space: [] for space in ("visual", "semantic")}  # type: dict[str, list[np.ndarray]]
        for history in histories:
            for space, table in (("visual", catalogue.visual), ("semantic", catalogue.semantic)):
                liked = table[np.asarray(history["liked"]) - 1].astype(np.float32).mean(axis=0).astype(np.float16)
                viewed = table[np.asarray(history["viewed"]) - 1].astype(np.float32).mean(axis=0).astype(np.float16)
                query = liked.astype(np.float32) + 0.5 * viewed.astype(np.float32)
                queries[space].append((query / np.linalg.norm(query)).astype(np.float16).astype(np.float32))
        truth = exact_top(
            catalogue,
            visual=np.stack(queries["visual"]),
            semantic=np.stack(queries["semantic"]),
            weights=(0.5, 0.5),
            mask=catalogue.in_stock,
            exclude=[h["liked"] + h["viewed"] for h in histories],
            ceiling=None,
        )
    return recall_at(found, truth)


def recall_requests(name: str, requests: list[Request]) -> list[Request]:
    """The recall sample asks for the plain ranking: no full-text blend, no MMR."""
    if name.startswith("search"):
        return [(m, p + "&text_weight=0", b) for m, p, b in requests]
    if name.startswith("recommendations"):
        return [(m, p, (b or {}) | {"diversity": 0}) for m, p, b in requests]
    return requests


def measure(
    args: argparse.Namespace,
    catalogue: Catalogue,
    encoder: Any,
    *,
    phase: str,
    only: str | None = None,
) -> dict[str, Any]:
    """Every scenario (or those starting with `only`) at every concurrency, through the running server."""
    measured_scenarios: dict[str, Any] = {}
    for concurrency in [int(c) for c in args.concurrency.split(",")]:
        # The same requests at every concurrency and phase, so they compare like for like.
        rng = np.random.default_rng(5)
        for name, requests in scenarios(rng, args.n, args.requests + args.recall_sample).items():
            if only is not None and not name.startswith(only):
                continue
            count = args.search_requests if name.startswith("search") else args.requests
            measured, sampled = requests[:count], recall_requests(name, requests[args.requests :])
            run(args.port, measured[:10], concurrency)  # warm-up: models, caches, connections
            result = run(args.port, measured, concurrency)
            summary = result.summary()
            if concurrency == 1:  # recall does not depend on the load
                checked = run(args.port, sampled, 4)
                summary["recall_at_10"] = recall(name, checked.bodies, sampled, catalogue, encoder)
                summary["recall_errors"] = len(checked.errors)
            measured_scenarios[f"{phase}: {name} @ concurrency {concurrency}"] = summary
            print(f"  {phase}: {name} @ c={concurrency}: {json.dumps(summary)}", flush=True)
            if result.errors:
                print("    first error:", result.errors[0], flush=True)
    return measured_scenarios


def prewarm() -> dict[str, Any]:
    """Read the storefront's tables and indexes into shared_buffers, as a serving database has them.

    Measured right after a load, a rebuild or a restart, a 1M catalogue's first requests read
    its HNSW graphs from disk; a storefront that serves all day does not. Pages only in the OS
    cache still cost a copy per request (BENCHMARKS.md, shared_buffers). PostgreSQL reads through
    the OS cache, so one pass fills both: what shared_buffers cannot hold stays in the OS cache.
    """
    from django.db import connection

    relations = (
        "SELECT c.oid FROM pg_class c "
        "WHERE c.relname IN ('catalog_product', 'embeddings_productvector', 'embeddings_productneighbours') "
        "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN "
        "('catalog_product'::regclass, 'embeddings_productvector'::regclass, "
        "'embeddings_productneighbours'::regclass))"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        # Largest first: when they do not all fit, the pages read later evict the earlier ones, so the
        # smaller relations (product rows, B-tree indexes) stay and the largest is left to the OS cache.
        cursor.execute(
            "SELECT coalesce(sum(pg_prewarm(s.oid, 'buffer')), 0) FROM "
            f"(SELECT r.oid FROM ({relations}) r ORDER BY pg_relation_size(r.oid) DESC OFFSET 0) s"
        )
        blocks = cursor.fetchone()[0]
        cursor.execute("SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")
        shared = cursor.fetchone()[0]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "mib": round(blocks * 8192 / 2**20),
        "into_shared_buffers_mib": round(min(blocks * 8192, shared) / 2**20),
        "shared_buffers_mib": round(shared / 2**20),
    }


def engine_floor(catalogue: Catalogue, count: int = 300) -> dict[str, Any]:
    """One single-space HNSW statement per query on one warm connection (prepared): what the API sits on.

    The same shape the API's index branch has (partial index, k = the page window, the
    configured ef_search), the query vector sent as a parameter, ids back: no Python around it.
    """
    import psycopg
    from django.conf import settings

    from embeddings.vector_codec import vector_literal

    k, ef = settings.RECOMMENDER_PAGE_WINDOW, settings.RECOMMENDER_EF_SEARCH
    rng = np.random.default_rng(11)
    rows = rng.integers(0, len(catalogue.ids), size=count + 20)
    sql = (
        "SELECT product_id FROM embeddings_productvector WHERE space = 'visual' AND encoder = %s "
        "ORDER BY embedding::halfvec(768) <=> %s::halfvec(768) LIMIT %s"
    )
    latencies = []
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(ef)])
        for index, row in enumerate(rows):
            literal = vector_literal(catalogue.visual[row].astype(np.float32))
            started = time.perf_counter()
            found = conn.execute(sql, [VISUAL_IDENTITY, literal, k], prepare=True).fetchall()
            if index >= 20:  # the first ones warm the connection and the plan
                latencies.append((time.perf_counter() - started) * 1000)
            assert len(found) == k
        explained = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql,
            [VISUAL_IDENTITY, vector_literal(catalogue.visual[rows[0]].astype(np.float32)), k],
        ).fetchone()
        assert explained is not None
        plan = explained[0][0]
    lat = np.asarray(latencies)
    return {
        "k": k,
        "ef_search": ef,
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "explain_execution_ms": plan["Execution Time"],
        "explain_planning_ms": plan["Planning Time"],
        "shared_buffers_hit": plan["Plan"].get("Shared Hit Blocks"),
    }


def build_lists() -> dict[str, Any]:
    """neighbours_rebuild for both spaces: time, and this process's peak memory (the in-process index)."""
    import resource

    from embeddings.neighbours import neighbour_lists_discard, neighbour_lists_rebuild
    from embeddings.selectors import active_encoders

    report: dict[str, Any] = {}
    for encoder in active_encoders():
        neighbour_lists_discard(space=encoder.space)
        started = time.perf_counter()
        run = neighbour_lists_rebuild(encoder=encoder, resume=False)
        seconds = time.perf_counter() - started
        report[encoder.space] = {"seconds": round(seconds, 1), "lists": run.total}
        print(f"  {encoder.space} lists rebuilt: {run.total} in {seconds:.0f} s", flush=True)
    report["peak_rss_mib_of_this_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('embeddings_productneighbours')")
        report["table_mib"] = round(cursor.fetchone()[0] / 2**20)
    return report


def incremental_cost(catalogue: Catalogue, count: int = 40) -> dict[str, Any]:
    """What an embedded photo costs the stored lists: neighbour_lists_refresh of its product, both spaces.

    "new": a product just uploaded (a near-copy of a random product: it enters that
    product's neighbourhood); "re-embedded": an existing product whose vector was
    rewritten (it first leaves its old neighbours' lists). Each in a transaction that
    is rolled back, so the catalogue is unchanged.
    """
    from decimal import Decimal

    from django.db import transaction

    from catalog.models import Product
    from embeddings.models import ProductVector
    from embeddings.neighbours import neighbour_lists_refresh
    from embeddings.selectors import active_encoders

    rng = np.random.default_rng(13)
    encoders = active_encoders()
    tables = {"visual": catalogue.visual, "semantic": catalogue.semantic}
    timings: dict[str, dict[str, list[float]]] = {"new": {}, "re-embedded": {}}
    for n, row in enumerate(rng.integers(0, len(catalogue.ids), size=count + 5).tolist()):
        for kind in timings:
            with transaction.atomic():
                if kind == "new":
                    product = Product.objects.create(sku=f"BENCH-NEW-{n}", title="new", price=Decimal("1.00"))
                    for encoder in encoders:
                        vector = tables[encoder.space][row].astype(np.float32) + rng.normal(0, 0.01, 768)
                        ProductVector.objects.create(
                            product=product,
                            space=encoder.space,
                            encoder=encoder.identity,
                            embedding=(vector / np.linalg.norm(vector)).tolist(),
                        )
                    product_id = product.pk
                else:
                    product_id = int(catalogue.ids[row])
                for encoder in encoders:
                    started = time.perf_counter()
                    neighbour_lists_refresh(encoder=encoder, product_ids=[product_id])
                    timings[kind].setdefault(encoder.space, []).append((time.perf_counter() - started) * 1000)
                transaction.set_rollback(True)
    report: dict[str, Any] = {}
    for kind, per_space in timings.items():
        report[kind] = {
            space: {"p50_ms": round(float(np.median(v[5:])), 1), "p95_ms": round(float(np.percentile(v[5:], 95)), 1)}
            for space, v in per_space.items()
        }
        report[kind]["per_photo_p50_ms"] = round(sum(r["p50_ms"] for r in report[kind].values()), 1)
    return report


def main() -> None:
    args = parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    saved = OUT / f"query-{args.n}-vectors.npz"
    os.environ |= {"DEBUG": "1", "HF_HUB_OFFLINE": "1"}
    setup_django(database=args.database, fresh=not args.skip_load, migrate=not args.skip_load)
    from bench.random_checkpoints import register_random
    from embeddings.encoders import get_encoder
    from embeddings.neighbours import neighbour_lists_discard

    register_random(SEMANTIC_NAME)
    encoder = get_encoder(SEMANTIC_NAME)
    report: dict[str, Any] = {"n": args.n, "clusters": args.clusters, "date": time.strftime("%Y-%m-%d %H:%M")}
    if args.skip_load:
        data = np.load(saved)
        catalogue = Catalogue(**{k: data[k] for k in data.files})
    else:
        catalogue, report["build"] = load(args, encoder.identity, saved)
    started = time.perf_counter()
    for _ in range(20):
        encoder.encode_texts(["red floral summer dress"])
    report["text_encode_ms_in_process"] = round((time.perf_counter() - started) / 20 * 1000, 1)
    with open("/proc/loadavg") as loadavg:
        report["load_average_before"] = loadavg.read().split()[:3]
    if not args.lists_only:
        for space in ("visual", "semantic"):
            neighbour_lists_discard(space=space)  # the live path first: no list answers
    if args.prewarm:
        report["prewarm"] = prewarm()
        print(f"  prewarm: {json.dumps(report['prewarm'])}", flush=True)
    report["floor"] = engine_floor(catalogue)
    print(f"  floor: {json.dumps(report['floor'])}", flush=True)
    server = start_server(args)
    try:
        report["scenarios"] = {} if args.lists_only else measure(args, catalogue, encoder, phase="live")
        if not args.no_lists:
            if not args.lists_only:
                report["lists"] = build_lists()
            report["scenarios"] |= measure(args, catalogue, encoder, phase="lists", only="similar")
            report["incremental"] = incremental_cost(catalogue)
            print(f"  incremental: {json.dumps(report['incremental'])}", flush=True)
        with open("/proc/loadavg") as loadavg:
            report["load_average_after"] = loadavg.read().split()[:3]
    finally:
        server.terminate()
        server.wait(timeout=30)
    (OUT / f"query-{args.n}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
