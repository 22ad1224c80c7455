"""Ingestion end to end (issue 4): real photos uploaded through the HTTP API to a real worker.

Reports end-to-end images/s and p50/p95 upload-to-searchable latency (upload request
start -> the photo's vectors committed). Starts gunicorn + `manage.py worker --pool solo`
on a separate database (lookalike_bench) unless --url points at a running server.

    python -m bench.ingest_http --n 300 --rate 4
"""

from __future__ import annotations

import argparse
import http.client
import json
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

from bench.db import ROOT, setup_django
from bench.photo_corpus import PHOTO_KINDS, upload_photos


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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
    """A store admin's token: staff status alone writes nothing since catalogue writes need the
    catalogue's permissions (the store-admins group, config/roles.py)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from config.roles import STORE_ADMINS

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=STORE_ADMINS))
    return Token.objects.get_or_create(user=user)[0].key


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


def run(args: argparse.Namespace) -> None:
    env = setup_django(migrate=True)
    from catalog.models import Product, ProductImage
    from embeddings.models import ImageVector

    ImageVector.objects.filter(product__sku__startswith="BENCH-").delete()
    Product.objects.filter(sku__startswith="BENCH-").delete()
    photos = upload_photos(args.n, args.photos)
    children: list[subprocess.Popen[bytes]] = []
    base = args.url
    if not base:
        env["EMBEDDING_CLAIM_BATCH_SIZE"] = str(args.batch)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rate", type=float, default=4.0, help="uploads per second (0: as fast as possible)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64, help="EMBEDDING_CLAIM_BATCH_SIZE of the worker it starts")
    parser.add_argument("--photos", choices=PHOTO_KINDS, default="jpeg")
    parser.add_argument("--url", default="", help="a running server (its worker must be running too)")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
