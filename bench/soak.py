"""A 10-minute soak (issue 16): shoppers and one uploader against gunicorn and a worker, bounded, on loopback.

    pip install -e '.[bench]'     # locust
    python -m bench.soak --minutes 10 --shoppers 8

Starts gunicorn (`manage.py serve`, 2 workers x 4 threads) and `manage.py worker`
on a database of its own (lookalike_bench_soak), seeds 300 products with real
photos through the API, then runs locust headless: `--shoppers` users at two
requests a second each (/similar/ 60%, /search/ 20%, /recommendations/ 20%)
and one store admin creating a product with one photo every second, which the
worker embeds meanwhile. Every 10 s it samples the resident memory of the web
processes and of the worker processes. Pass: 0 failed requests, p99 of the last
minutes within the first minutes' (after a minute of warm-up) by the tolerance,
web and worker memory flat within 10% after warm-up, every upload embedded.
Results in bench/out/soak.json and locust's CSVs in bench/out/soak/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.db import ROOT, setup_django
from bench.ingest_http import Client, free_port
from bench.photo_corpus import upload_photos

OUT = ROOT / "bench" / "out" / "soak"
WARM_UP_SECONDS = 60


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--seed-products", type=int, default=300)
    parser.add_argument("--database", default="lookalike_bench_soak")
    return parser.parse_args()


def admin_token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="soak", defaults={"is_staff": True})
    user.is_staff = user.is_superuser = True  # every catalogue permission
    user.save()
    return Token.objects.get_or_create(user=user)[0].key


def start(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    OUT.mkdir(parents=True, exist_ok=True)
    worker_log = OUT / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--beat"],
        cwd=ROOT,
        env=env,
        stdout=worker_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    web = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"--bind=127.0.0.1:{port}", "--workers=2", "--threads=4"],
        cwd=ROOT,
        env=env,
        stdout=(OUT / "web.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while "embedding models loaded" not in worker_log.read_text(errors="replace"):
        if time.monotonic() > deadline or worker.poll() is not None or web.poll() is not None:
            raise SystemExit(f"worker or web server did not start; see {OUT}")
        time.sleep(0.5)
    return web, worker


def rss_mib(root: subprocess.Popen[bytes]) -> float:
    try:
        process = psutil.Process(root.pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return float("nan")


def seed(client: Client, count: int) -> list[int]:
    photos = upload_photos(count, "fashion")
    ids = []
    for index, photo in enumerate(photos):
        fields = {"sku": f"SEED-{index}", "title": f"Seed {index}", "price": "9"}
        product = client.post_json("/api/v1/products/", fields)
        client.post_file(f"/api/v1/products/{product['id']}/images/", "image", photo)
        ids.append(product["id"])
    return ids


def wait_embedded(timeout: float) -> int:
    from catalog.models import ProductImage

    deadline = time.monotonic() + timeout
    while (pending := ProductImage.objects.filter(embedding_status="pending").count()) and time.monotonic() < deadline:
        time.sleep(1)
    return pending


def p99_by_window(history: Path, seconds: float) -> list[tuple[float, float]]:
    """(elapsed s, p99 ms) of the aggregated rows of locust's stats history."""
    rows = []
    with history.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated" and row["99%"] not in ("N/A", ""):
                rows.append((float(row["Timestamp"]), float(row["99%"])))
    start = rows[0][0] if rows else 0.0
    return [(t - start, p99) for t, p99 in rows if t - start <= seconds]


LOCUST = ROOT / ".venv" / "bin" / "locust"


def main() -> None:
    args = parse_args()
    if not LOCUST.exists():
        # Checked before the database is made and the servers start: one line, not a traceback later.
        sys.exit(f"bench.soak: locust is not installed; run: {ROOT / '.venv/bin/pip'} install -e '.[bench]'")
    env = setup_django(database=args.database, fresh=True, migrate=True)
    port = free_port()
    env |= {"DEBUG": "0", "SECRET_KEY": "soak-only", "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0"}
    env |= {"THROTTLE_ANON": "100000000/min", "LOG_LEVEL": "WARNING", "WEB_PRELOAD_ENCODERS": "1"}
    web, worker = start(env, port)
    report: dict[str, Any] = {"minutes": args.minutes, "shoppers": args.shoppers}
    report["date"] = time.strftime("%Y-%m-%d %H:%M")
    try:
        client = Client(f"http://127.0.0.1:{port}", admin_token())
        products = seed(client, args.seed_products)
        report["seed_pending_after_60s"] = wait_embedded(60)
        photos = upload_photos(200, "fashion")
        np.savez(OUT / "photos.npz", photos=np.array(photos, dtype=object).astype(bytes))
        locust_env = env | {
            "SOAK_TOKEN": admin_token(),
            "SOAK_PRODUCTS": ",".join(map(str, products)),
            "SOAK_PHOTOS": str(OUT / "photos.npz"),
        }
        samples: list[dict[str, float]] = []
        seconds = args.minutes * 60
        locust = subprocess.Popen(
            [
                *(str(LOCUST), "-f", str(ROOT / "bench/soak_locustfile.py"), "--headless"),
                *(
                    "-u",
                    str(args.shoppers + 1),
                    "-r",
                    "4",
                    "-t",
                    f"{int(seconds)}s",
                    "--host",
                    f"http://127.0.0.1:{port}",
                ),
                *("--csv", str(OUT / "locust"), "--csv-full-history", "--only-summary"),
            ],
            cwd=ROOT,
            env=locust_env,
            stdout=(OUT / "locust.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        while locust.poll() is None:
            samples.append(
                {"t": round(time.monotonic() - started), "web_mib": rss_mib(web), "worker_mib": rss_mib(worker)}
            )
            time.sleep(10)
        report["uploads_pending_after_60s"] = wait_embedded(60)
        with open("/proc/loadavg") as loadavg:
            report["load_average_after"] = loadavg.read().split()[:3]
    finally:
        for child in (web, worker):
            child.send_signal(signal.SIGTERM)
        for child in (web, worker):
            child.wait(timeout=60)
    stats = {row["Name"]: row for row in csv.DictReader((OUT / "locust_stats.csv").open())}
    report["requests"] = {
        name: {
            "count": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "p50_ms": row["50%"],
            "p99_ms": row["99%"],
        }
        for name, row in stats.items()
    }
    windows = p99_by_window(OUT / "locust_stats_history.csv", seconds)
    early = [p for t, p in windows if WARM_UP_SECONDS <= t < WARM_UP_SECONDS + 120]
    late = [p for t, p in windows if t >= seconds - 120]
    report["p99_ms_after_warm_up"] = {"first_2_min": float(np.median(early)), "last_2_min": float(np.median(late))}
    after = [s for s in samples if s["t"] >= WARM_UP_SECONDS]
    for key in ("web_mib", "worker_mib"):
        values = [s[key] for s in after]
        report[key] = {"after_warm_up": round(values[0]), "end": round(values[-1]), "max": round(max(values))}
        report[key]["growth"] = round(values[-1] / values[0] - 1, 3)
    report["samples"] = samples
    (ROOT / "bench" / "out" / "soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("DEBUG", "1")
    main()
