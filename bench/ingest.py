"""Ingestion benchmarks (issue 4). Three modes:

http    upload N real photos through the HTTP API to a real worker; report end-to-end
        images/s and p50/p95 upload-to-searchable latency (upload request start ->
        the photo's vectors committed). Starts gunicorn + `manage.py worker --pool solo`
        on a separate database (lookalike_bench) unless --url points at a running server.
writes  bulk vector writes into PostgreSQL with synthetic vectors: rows/s with the HNSW
        index present vs bulk load then CREATE INDEX (why embed_backfill drops and rebuilds).
stage   the worker's encode + database-write stage in-process, with real-size DINOv2-B/14 +
        SigLIP-B/16 (random weights, bench/random_checkpoints.py) on --device cpu|cuda.

python bench/ingest.py http --n 300 --rate 4
python bench/ingest.py writes --rows 20000 --dim 768
python bench/ingest.py stage --device cuda --n 20000 --batch 256
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Sibling bench modules are imported as top-level modules, like the other scripts do.
sys.path.insert(0, str(ROOT / "bench"))
BENCH_DB = "lookalike_bench"


def setup_django(database: str = BENCH_DB) -> dict[str, str]:
    """Point this process (and the children it starts) at a database of its own; return their env."""
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("EMBEDDINGS_PROFILE", "lite")
    env_url = os.environ.get("DATABASE_URL", "")
    if not env_url:
        from config import embedded

        pg = embedded.ensure_postgres(Path(os.environ.get("LOOKALIKE_VAR_DIR") or ROOT / "var"))
        import psycopg

        with psycopg.connect(host=pg["HOST"], port=pg["PORT"], user=pg["USER"], dbname=pg["NAME"]) as conn:
            conn.autocommit = True
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')
        env_url = f"postgresql://{pg['USER']}@/{database}?host={pg['HOST']}&port={pg['PORT']}"
    os.environ["DATABASE_URL"] = env_url
    if not os.environ.get("REDIS_URL"):
        from config import embedded

        # A broker database of its own: a worker of someone else's on /0 must not take our messages.
        base = embedded.ensure_redis(Path(os.environ.get("LOOKALIKE_VAR_DIR") or ROOT / "var"))
        os.environ["REDIS_URL"] = base.rsplit("/", 1)[0] + "/5"
    os.environ.setdefault("MEDIA_ROOT", str(ROOT / "var" / "bench-media"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {**os.environ}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- http ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_services(env: dict[str, str], port: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    log_dir.mkdir(parents=True, exist_ok=True)
    worker_log = log_dir / "worker.log"
    worker_log.write_text("")
    children = [
        subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--pool", "solo", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=worker_log.open("ab"),
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "4"],
            cwd=ROOT,
            env=env,
            stdout=(log_dir / "web.log").open("ab"),
            stderr=subprocess.STDOUT,
        ),
    ]
    deadline = time.monotonic() + 300
    while "embedding models loaded" not in worker_log.read_text(errors="replace"):
        if time.monotonic() > deadline or any(child.poll() is not None for child in children):
            raise SystemExit(f"worker or web server did not start; see {log_dir}")
        time.sleep(0.5)
    return children


def staff_token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    user.is_staff = True
    user.save()
    return Token.objects.get_or_create(user=user)[0].key


def bench_photos(n: int, kind: str) -> list[bytes]:
    if kind == "jpeg":
        # Distinct bytes for every upload (a pixel nudged), so nothing is de-duplicated away.
        import io

        from photo_corpus import upload_like_jpegs
        from PIL import Image

        out = []
        for index, data in enumerate(upload_like_jpegs(n, distinct=min(n, 24))):
            image = Image.open(io.BytesIO(data))
            image.putpixel((index % image.width, 0), (index % 256, 7, 7))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=88)
            out.append(buffer.getvalue())
        return out
    from catalog import demo_catalog

    photos, labels = demo_catalog.load_photos(demo_catalog.dataset_dir())
    items = list(demo_catalog.demo_items(labels, n))
    return [demo_catalog.render_photo(photos[item.photo_index], item.colour)[1] for item in items]


class Client:
    """A minimal thread-safe HTTP client (stdlib only): JSON and multipart bodies, one connection per call."""

    def __init__(self, base: str, token: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Token {token}"}

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> tuple[int, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = dict(self.headers, **({"Content-Type": content_type} if content_type else {}))
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, (json.loads(data) if is_json and data else data)

    def post_json(self, path: str, value: Any) -> Any:
        status, body = self.request("POST", path, json.dumps(value).encode(), "application/json")
        if status >= 300:
            raise RuntimeError(f"POST {path}: {status} {body!r}")
        return body

    def post_file(self, path: str, field: str, data: bytes) -> Any:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="photo.jpg"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, answer = self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")
        if status >= 300:
            raise RuntimeError(f"POST {path}: {status} {answer!r}")
        return answer


def run_http(args: argparse.Namespace) -> None:
    env = setup_django()
    from catalog.models import Product, ProductImage
    from embeddings.models import ImageVector

    ImageVector.objects.filter(product__sku__startswith="BENCH-").delete()
    Product.objects.filter(sku__startswith="BENCH-").delete()
    photos = bench_photos(args.n, args.photos)
    children: list[subprocess.Popen[bytes]] = []
    base = args.url
    if not base:
        env["EMBEDDING_BATCH_SIZE"] = str(args.batch)
        port = args.port or free_port()
        children = start_services(env, port, ROOT / "bench" / "out" / "ingest")
        base = f"http://127.0.0.1:{port}"
    client = Client(base, staff_token())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("web server did not start")
            time.sleep(0.3)
        product_ids = [
            client.post_json(
                "/api/v1/products/", {"sku": f"BENCH-{index:05d}", "title": f"Bench {index}", "price": "9"}
            )["id"]
            for index in range(args.n)
        ]
        started: dict[int, float] = {}
        request_seconds: list[float] = []
        lock = threading.Lock()

        def upload(index: int) -> None:
            begin = time.time()
            answer = client.post_file(f"/api/v1/products/{product_ids[index]}/images/", "image", photos[index])
            with lock:
                started[answer["id"]] = begin
                request_seconds.append(time.time() - begin)

        t0 = time.time()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            for index in range(args.n):
                if args.rate > 0:
                    time.sleep(max(0.0, t0 + index / args.rate - time.time()))
                pool.submit(upload, index)
        uploaded = time.time()
        while ProductImage.objects.filter(pk__in=list(started), embedding_status="pending").exists():
            if time.time() - uploaded > 600:
                raise SystemExit("photos still pending after 10 minutes")
            time.sleep(0.2)
        done = dict(ProductImage.objects.filter(pk__in=list(started)).values_list("id", "embedded_at"))
        latencies = [value.timestamp() - started[i] for i, value in done.items() if value is not None]
        finished = max(value.timestamp() for value in done.values() if value is not None)
        print(
            f"http: {args.n} photos ({args.photos}), rate {args.rate or 'max'}/s, {args.concurrency} client threads, "
            f"batch {args.batch}: end-to-end {args.n / (finished - t0):.1f} images/s; "
            f"upload-to-searchable p50 {statistics.median(latencies):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
            f"max {max(latencies):.2f} s; upload request p50 {statistics.median(request_seconds) * 1000:.0f} ms; "
            f"failed {sum(1 for v in done.values() if v is None)}"
        )
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=60)


# --- writes ----------------------------------------------------------------------------


def run_writes(args: argparse.Namespace) -> None:
    import numpy as np

    setup_django()
    from django.db import connection

    from embeddings.vector_codec import vector_literal

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    literals = [vector_literal(row) for row in vectors.tolist()]
    table = "bench_vector_writes"

    def reset(with_index: bool) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id bigserial PRIMARY KEY, space text, encoder text, embedding halfvec)"
            )
            if with_index:
                cursor.execute(index_sql)

    index_sql = (
        f"CREATE INDEX {table}_hnsw ON {table} USING hnsw ((embedding::halfvec({args.dim})) halfvec_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE space = 'visual' AND encoder = 'bench@1'"
    )

    def load() -> float:
        # The production write: one INSERT ... SELECT FROM unnest(...) per batch (embeddings.services).
        begin = time.perf_counter()
        for start in range(0, args.rows, args.batch):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (space, encoder, embedding) "
                    "SELECT 'visual', 'bench@1', e::halfvec FROM unnest(%s::text[]) AS t(e)",
                    [literals[start : start + args.batch]],
                )
        return time.perf_counter() - begin

    reset(with_index=True)
    with_index = load()
    reset(with_index=False)
    without_index = load()
    begin = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(index_sql)
    build = time.perf_counter() - begin
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    print(
        f"writes: {args.rows} x {args.dim}-d halfvec in batches of {args.batch}: "
        f"into a table with its HNSW index {args.rows / with_index:,.0f} rows/s ({with_index:.1f} s); "
        f"bulk load without index {args.rows / without_index:,.0f} rows/s ({without_index:.1f} s) + index build "
        f"{build:.1f} s = {args.rows / (without_index + build):,.0f} rows/s overall "
        f"({with_index / (without_index + build):.1f}x faster)"
    )


# --- stage -----------------------------------------------------------------------------


def run_stage(args: argparse.Namespace) -> None:
    import numpy as np

    os.environ["EMBEDDINGS_DEVICE"] = args.device
    setup_django()
    from django.db import connection
    from random_checkpoints import register_random

    from embeddings.encoders.loader import load_encoder
    from embeddings.encoders.runtime import select_runtime
    from embeddings.vector_codec import vector_literal

    runtime = select_runtime(args.device)
    encoders = [load_encoder(register_random(name), runtime) for name in ("dinov2-base", "siglip-base-patch16-224")]
    photos = bench_photos(min(args.n, 512), args.photos)
    from embeddings.encoders import decode_image

    decoded = [decode_image(data, min_size=256) for data in photos]
    table = "bench_stage_vectors"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, space text, encoder text, embedding halfvec)")
    for encoder in encoders:  # warm-up (CUDA context, kernels)
        encoder.encode_images(decoded[: min(len(decoded), args.batch)], batch_size=args.batch)
    encode_seconds = write_seconds = 0.0
    done = 0
    while done < args.n:
        count = min(args.batch, args.n - done)
        batch = [decoded[(done + i) % len(decoded)] for i in range(count)]
        for encoder in encoders:
            begin = time.perf_counter()
            vectors = encoder.encode_images(batch, batch_size=args.batch)
            if args.device == "cuda":
                import torch

                torch.cuda.synchronize()
            encode_seconds += time.perf_counter() - begin
            begin = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (space, encoder, embedding) "
                    "SELECT %s, %s, e::halfvec FROM unnest(%s::text[]) AS t(e)",
                    [encoder.name, encoder.identity, [vector_literal(row) for row in np.asarray(vectors).tolist()]],
                )
            write_seconds += time.perf_counter() - begin
        done += count
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    total = encode_seconds + write_seconds
    print(
        f"stage on {runtime.label}: {args.n} images x 2 models (DINOv2-B/14 + SigLIP-B/16, random weights), "
        f"batch {args.batch}, decoded ahead: encode {args.n / encode_seconds:,.1f} img/s, "
        f"write {2 * args.n / write_seconds:,.0f} vectors/s, together {args.n / total:,.1f} images/s into PostgreSQL"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    http = modes.add_parser("http")
    http.add_argument("--n", type=int, default=300)
    http.add_argument("--rate", type=float, default=4.0, help="uploads per second (0: as fast as possible)")
    http.add_argument("--concurrency", type=int, default=4)
    http.add_argument("--batch", type=int, default=64, help="EMBEDDING_BATCH_SIZE of the worker it starts")
    http.add_argument("--photos", choices=["jpeg", "fashion"], default="jpeg")
    http.add_argument("--url", default="", help="a running server (its worker must be running too)")
    http.add_argument("--port", type=int, default=0, help="default: a free port")
    writes = modes.add_parser("writes")
    writes.add_argument("--rows", type=int, default=20_000)
    writes.add_argument("--dim", type=int, default=768)
    writes.add_argument("--batch", type=int, default=512)
    stage = modes.add_parser("stage")
    stage.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    stage.add_argument("--n", type=int, default=256)
    stage.add_argument("--batch", type=int, default=64)
    stage.add_argument("--photos", choices=["jpeg", "fashion"], default="jpeg")
    args = parser.parse_args()
    {"http": run_http, "writes": run_writes, "stage": run_stage}[args.mode](args)


if __name__ == "__main__":
    main()
