"""Concurrent HTTP load for bench/query.py: a bounded number of requests over loopback."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

Request = tuple[str, str, dict[str, Any] | None]  # method, path with query string, JSON body


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        import numpy as np

        lat = np.asarray(self.latencies_ms)
        strategies: dict[str, int] = {}
        for body in self.bodies:
            key = body["diagnostics"]["strategy"] + (" (fallback)" if body["diagnostics"].get("fallback") else "")
            strategies[key] = strategies.get(key, 0) + 1
        return {
            "requests": len(lat),
            "errors": len(self.errors),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
            "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
            "throughput_rps": round(len(lat) / self.wall_s, 1) if self.wall_s else None,
            "server_ms_p50": round(float(np.median([b["diagnostics"]["elapsed_ms"] for b in self.bodies])), 1)
            if self.bodies
            else None,
            "min_count": min((b["count"] for b in self.bodies), default=None),
            "strategies": strategies,
        }


def call(port: int, request: Request) -> tuple[float, int, dict[str, Any]]:
    method, path, body = request
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    started = time.perf_counter()
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return elapsed, response.status, json.loads(data)


def run(port: int, requests: list[Request], concurrency: int) -> Run:
    """Send every request once, `concurrency` at a time."""
    result = Run()
    lock = threading.Lock()
    cursor = iter(enumerate(requests))

    def worker() -> None:
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            index, request = item
            try:
                elapsed, status, body = call(port, request)
            except Exception as exc:  # a benchmark records failures instead of dying on the first
                with lock:
                    result.errors.append(f"{request[1]}: {exc}")
                continue
            with lock:
                if status != 200:
                    result.errors.append(f"{request[1]}: HTTP {status} {body}")
                    continue
                result.latencies_ms.append(elapsed)
                result.bodies.append(body | {"_index": index})

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - started
    return result
