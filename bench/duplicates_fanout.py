"""The full duplicate scan fanned out over Celery: 1 worker process against 2 (and the single-process scan).

Synthetic catalogue of bench/duplicates_scale.py (clusters of look-alikes plus planted
re-listings), COPY-loaded into a database of its own (`bench_duplicates_fanout`,
dropped and re-created). Then, for each worker count asked for, a `manage.py worker`
consuming `default` with that many prefork processes runs `find_duplicates --shards S`
(duplicates_scan_fan_out, the same S shards every time), and the benchmark reports:

- wall_s: from enqueueing to the finish committed (what `find_duplicates --shards` waits);
- first_shard_s / later_shard_s: a process's first shard includes its catalogue load
  (binary COPY of every vector) and index build, its later ones only the search;
- finish_s: the regroup, run by one process after the last shard;
- worker_rss_peak_gb: the largest resident size of one worker process (the cached
  catalogue and index; worker_rss_idle_gb is its size before, with its models loaded),
  and of all of them together;
- the pairs stored, which must be the same for every run (and the single scan's).

What to expect on a 2-core machine: the search splits over processes, but every
process pays the load and index build (they contend for the same two cores and the
database), the pair writes are serialised by the duplicates lock, and the regroup is
one process; BLAS in one process may already use both cores (set --threads 1 to give
each worker process one). So 2 processes gain at most 2x on the search part.

    python -m bench.duplicates_fanout --n 2000 --dim 64 --workers 1 2     # smoke run
    nohup python -m bench.duplicates_fanout --n 1000000 --workers 1 2 --single \\
        --json bench/out/duplicates_fanout_1m.json > bench/out/duplicates_fanout_1m.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from bench.db import ROOT, setup_django
from bench.duplicates_scale import ENCODER, ENCODER_NAME, THRESHOLDS, generate, load_database
from bench.worker import running_worker

DATABASE = "bench_duplicates_fanout"
LOGS = ROOT / "bench" / "out" / "duplicates_fanout"


class PeakMemory:
    """Samples the resident size of a worker and its children every half second, in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.per_process, self.together, self.idle = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._stop.wait(0.5):
            try:
                sizes = [child.memory_info().rss for child in root.children(recursive=True)]
            except psutil.Error:
                continue
            self.idle = self.idle or max(sizes, default=0)  # the first sample: models loaded, no catalogue yet
            self.per_process = max(self.per_process, *sizes, 0)
            self.together = max(self.together, sum(sizes))


def stored_pairs() -> set[tuple[int, int]]:
    from recommender.duplicates.models import DuplicatePair

    return set(DuplicatePair.objects.values_list("product_low_id", "product_high_id"))


def forget_results() -> None:
    from recommender.duplicates.models import DuplicateGroup, DuplicatePair

    DuplicateGroup.objects.all().delete()
    DuplicatePair.objects.all().delete()


def single_process() -> dict[str, Any]:
    from recommender.duplicates.scan import duplicates_scan

    forget_results()
    started = time.perf_counter()
    scan = duplicates_scan(resume=False)
    return {"wall_s": round(time.perf_counter() - started, 1), "photos": scan.images_scanned, "pairs": stored_pairs()}


def fanned_out(env: dict[str, str], *, workers: int, shards: int, threads: int | None) -> dict[str, Any]:
    from config.fanout.models import Shard
    from config.fanout.services import fanout_wait
    from recommender.duplicates.models import DuplicateScan
    from recommender.duplicates.scan_shards import duplicates_scan_fan_out

    forget_results()
    worker_env = {**env, "CELERY_WORKER_CONCURRENCY": str(workers), "WORKER_QUEUES": "default"}
    if threads is not None:
        blas = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        worker_env.update(dict.fromkeys(blas, str(threads)))
    with running_worker(worker_env, LOGS / f"worker-{workers}.log") as worker, PeakMemory(worker.pid) as memory:
        started = time.perf_counter()
        scan, fanout, _ = duplicates_scan_fan_out(shards=shards, resume=False)
        finished = fanout_wait(fanout.pk, poll=0.2)
        wall = time.perf_counter() - started
    rows = list(Shard.objects.filter(fanout=fanout).values_list("started_at", "done_at"))
    last_done = max(done for _, done in rows if done is not None)
    assert finished.finished_at is not None
    durations = sorted((done - begun).total_seconds() for begun, done in rows if begun and done)
    # Each process's first shard loads; with `workers` processes the `workers` longest shards are those.
    first, later = durations[-workers:], durations[:-workers] or [0.0]
    return {
        "workers": workers,
        "shards": shards,
        "wall_s": round(wall, 1),
        "first_shard_s": round(max(first), 1),
        "later_shard_s": round(sum(later) / len(later), 1),
        "finish_s": round((finished.finished_at - last_done).total_seconds(), 1),
        "worker_rss_idle_gb": round(memory.idle / 2**30, 2),
        "worker_rss_peak_gb": round(memory.per_process / 2**30, 2),
        "workers_rss_peak_gb": round(memory.together / 2**30, 2),
        "photos": DuplicateScan.objects.get(pk=scan.pk).images_scanned,
        "pairs": stored_pairs(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280, help="1280: the lite visual encoder's dimension")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker process counts to measure")
    parser.add_argument("--shards", type=int, default=8, help="the same for every worker count")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads per worker process")
    parser.add_argument("--single", action="store_true", help="also time the single-process scan (this process)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.shards < 1 or min(args.workers) < 1:
        raise SystemExit("error: --shards and --workers must be at least 1")

    env = setup_django(database=DATABASE, fresh=True, migrate=True)
    from django.conf import settings
    from django.utils import timezone

    from embeddings.models import EncoderState, SpaceEncoder

    # The thresholds are the run's params: the workers compare with these whatever their settings say.
    settings.DUPLICATES_THRESHOLDS = {
        **settings.DUPLICATES_THRESHOLDS,
        ENCODER_NAME: {"near": THRESHOLDS.near, "similar": THRESHOLDS.similar},
    }
    started = time.perf_counter()
    catalogue = generate(args.n, args.dim)
    load_s = load_database(catalogue)
    # Active without its HNSW index: the scan searches its own in-process index, and building
    # HNSW over a million vectors would take longer than everything measured here.
    SpaceEncoder.objects.create(
        space="visual", encoder=ENCODER, dim=args.dim, state=EncoderState.ACTIVE, activated_at=timezone.now()
    )
    print(f"{args.n:,} x {args.dim} generated and loaded in {time.perf_counter() - started:.0f} s", flush=True)
    report: dict[str, Any] = {"n": args.n, "dim": args.dim, "load_s": round(load_s, 1), "cpus": os.cpu_count()}
    runs: list[dict[str, Any]] = []
    if args.single:
        runs.append({"workers": 0, **single_process()})
        print(f"  single process: {runs[-1]['wall_s']} s", flush=True)
    for workers in args.workers:
        runs.append(fanned_out(env, workers=workers, shards=args.shards, threads=args.threads))
        print(f"  {workers} worker process(es): {runs[-1]['wall_s']} s", flush=True)
    reference = runs[0]["pairs"]
    report["same_pairs_in_every_run"] = all(run["pairs"] == reference for run in runs)
    report["pairs"] = len(reference)
    report["runs"] = [{key: value for key, value in run.items() if key != "pairs"} for run in runs]
    report["load_average_1m_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
