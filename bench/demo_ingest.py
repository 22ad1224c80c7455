"""How long `make demo`'s catalogue takes to become searchable (issue 11): load_demo_catalog, then a worker.

    python -m bench.demo_ingest --limit 2000          # the demo catalogue
    python -m bench.demo_ingest --limit 70000         # the whole of Fashion-MNIST

On a database of its own (lookalike_bench_demo, made fresh), starts `manage.py
worker` and waits until its models are loaded, then runs `manage.py
load_demo_catalog --limit N` (the bulk path: rows and files, every photo
pending, one message per batch) and times from the command's return to the last
photo `done`, sampling progress every second. The worker is started first so
its model load is not counted: `make demo` starts it first too. Results in
bench/out/demo_ingest-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.db import ROOT, setup_django
from bench.worker import running_worker

OUT = ROOT / "bench" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=2000, help="demo products (load_demo_catalog --limit)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the last photo")
    parser.add_argument("--database", default="lookalike_bench_demo")
    args = parser.parse_args()
    env = setup_django(database=args.database, fresh=True, migrate=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with running_worker(env, OUT / f"demo_ingest-{args.limit}-worker.log"):
        report = measure(args.limit, args.timeout, env)
    path = OUT / f"demo_ingest-{args.limit}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "progress"}))


def measure(limit: int, timeout: float, env: dict[str, str]) -> dict[str, object]:
    from catalog.models import ProductImage

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "load_demo_catalog", f"--limit={limit}", "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    loaded = time.perf_counter()
    photos = ProductImage.objects.count()
    progress: list[tuple[float, int]] = []
    while True:
        done = ProductImage.objects.filter(embedding_status="done").count()
        failed = ProductImage.objects.filter(embedding_status="failed").count()
        progress.append((round(time.perf_counter() - loaded, 1), done))
        if done + failed >= photos or time.perf_counter() - loaded > timeout:
            break
        time.sleep(1.0)
    searchable = time.perf_counter() - loaded
    return {
        "limit": limit,
        "photos": photos,
        "done": done,
        "failed": failed,
        "load_seconds": round(loaded - started, 1),
        "load_return_to_last_done_seconds": round(searchable, 1),
        "photos_per_second": round(done / searchable, 1) if searchable else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "progress": progress,
    }


if __name__ == "__main__":
    main()
