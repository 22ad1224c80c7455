"""/metrics: after traffic, a scrape shows the counters moved (real PostgreSQL, Redis, gunicorn, Celery signals)."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import EmbeddingStatus, ProductImage
from catalog.services import product_image_add
from recommender.duplicates.models import DuplicateGroup
from tests.catalog import factories
from tests.embeddings.conftest import _tiny_models, tiny_encoders
from tests.fixtures_worker import REPO_ROOT, child_process_env, wait_for
from tests.processes import free_port
from tests.recommender.storefront.conftest import SEMANTIC, VISUAL, Catalog, axis

__all__ = ["_tiny_models", "tiny_encoders"]

TOKEN = "scrape-token-for-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(client: Client, settings: Any) -> Any:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []

    def read() -> Samples:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return parse(response.content.decode())

    return read


@pytest.mark.django_db
def test_storefront_traffic_moves_requests_latency_and_the_ranking_strategy(client: Client, scrape: Any) -> None:
    from embeddings.services import space_encoder_register

    space_encoder_register(space="visual", identity=VISUAL, dim=8)
    space_encoder_register(space="semantic", identity=SEMANTIC, dim=8)
    shop = Catalog(categories={})
    source = shop.product(visual=axis(0), semantic=axis(0))
    for index in range(1, 4):
        shop.product(visual=axis(0, tilt=index, towards=index), semantic=axis(index))
    before = scrape()

    similar = client.get(f"/api/v1/products/{source.pk}/similar/?limit=2")
    missing = client.get("/api/v1/products/999999/similar/")

    assert similar.status_code == 200 and missing.status_code == 404
    strategy = similar.json()["diagnostics"]["strategy"]
    after = scrape()
    route = {"endpoint": "products-similar", "method": "GET"}
    for status in ("200", "404"):
        moved = value(after, "lookalike_http_requests_total", **route, status=status) - value(
            before, "lookalike_http_requests_total", **route, status=status
        )
        assert moved == 1, status
    assert (
        value(after, "lookalike_http_request_duration_seconds_count", **route)
        == value(before, "lookalike_http_request_duration_seconds_count", **route) + 2
    )
    ranked = {"endpoint": "products-similar", "strategy": strategy}
    assert value(after, "lookalike_rankings_total", **ranked) == value(before, "lookalike_rankings_total", **ranked) + 1
    assert value(after, "lookalike_ranking_duration_seconds_count", **ranked) >= 1
    assert similar["X-Request-ID"], "every answer carries its request id"


@pytest.mark.django_db
def test_the_backlog_failures_and_review_queue_are_read_from_the_database(scrape: Any, media_root: Path) -> None:
    product = factories.product("P-metrics")
    pending = [product_image_add(product=product, data=factories.jpeg(seed), enqueue=False).image for seed in (1, 2)]
    failed = product_image_add(product=product, data=factories.jpeg(3), enqueue=False).image
    ProductImage.objects.filter(pk=failed.pk).update(embedding_status=EmbeddingStatus.FAILED)
    DuplicateGroup.objects.create(tier="near_duplicate", representative=product, score=0.9)
    time.sleep(0.05)

    samples = scrape()

    assert value(samples, "lookalike_embedding_pending_photos") == len(pending)
    assert value(samples, "lookalike_embedding_oldest_pending_seconds") > 0
    assert value(samples, "lookalike_embedding_failed_photos") == 1
    assert value(samples, "lookalike_duplicate_groups_open", tier="near_duplicate") == 1
    assert value(samples, "lookalike_db_connections", state="active") >= 1
    assert value(samples, "lookalike_metrics_database_up") == 1


def test_metrics_are_refused_without_the_token_and_off_until_configured(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.fixture
def worker_metrics(settings: Any) -> Iterator[str]:
    """The worker's metrics endpoint, served from this process as the worker's main process serves it."""
    from config.metrics import worker

    settings.METRICS_TOKEN = TOKEN
    worker.install()
    server = worker.serve(0, host="127.0.0.1")
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def fetch(url: str, token: str = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


@pytest.mark.django_db
def test_an_embedding_batch_moves_the_workers_photo_counter_and_batch_seconds(
    tiny_encoders: None, worker_metrics: str, media_root: Path
) -> None:
    from embeddings.tasks import embed_images

    product = factories.product("P-worker-metrics")
    images = [product_image_add(product=product, data=factories.jpeg(seed), enqueue=False).image for seed in (4, 5)]
    status, text = fetch(worker_metrics)
    assert status == 200
    before = parse(text)

    embed_images.apply(args=([image.pk for image in images],))  # the task as a worker runs it, signals included

    after = parse(fetch(worker_metrics)[1])
    assert value(after, "lookalike_photos_embedded_total") == value(before, "lookalike_photos_embedded_total") + 2
    assert value(after, "lookalike_embedding_batch_duration_seconds_count") == (
        value(before, "lookalike_embedding_batch_duration_seconds_count") + 1
    )
    assert value(after, "lookalike_embedding_batch_duration_seconds_sum") > value(
        before, "lookalike_embedding_batch_duration_seconds_sum"
    )
    assert (
        value(after, "lookalike_embedding_batch_photos_sum")
        == value(before, "lookalike_embedding_batch_photos_sum") + 2
    )
    succeeded = {"task": "embeddings.tasks.embed_images", "state": "SUCCESS"}
    assert (
        value(after, "lookalike_worker_tasks_total", **succeeded)
        == value(before, "lookalike_worker_tasks_total", **succeeded) + 1
    )
    assert fetch(worker_metrics, token="wrong")[0] == 403


@pytest.mark.django_db
def test_gunicorn_workers_are_added_up_and_report_their_pool(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "multiproc"
    env = child_process_env(
        METRICS_TOKEN=TOKEN,
        WEB_PRELOAD_ENCODERS="0",
        WEB_WORKERS="2",
        WEB_THREADS="1",
        DATABASE_POOL_SIZE="2",
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    )
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"--bind=127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"

    def written_by() -> set[str]:
        return {file.name.rsplit("_", 1)[-1] for file in folder.glob("counter_*.db")}

    try:
        wait_for(lambda: _answers(f"{url}/healthz"), timeout=60, what=f"manage.py serve (log: {log.name})")
        requests = 0

        def both_workers_answered() -> bool:
            nonlocal requests
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
                requests += sum(pool.map(lambda _: _answers(f"{url}/healthz"), range(16)))
            return len(written_by()) == 2

        # The second worker may still be booting when the first answers: send until both have answered.
        wait_for(both_workers_answered, timeout=60, what="both gunicorn workers to answer")
        fetch(f"{url}/metrics")  # opens the pool of whichever worker answers; the next scrape shows it
        samples = parse(fetch(f"{url}/metrics")[1])
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    healthz = {"endpoint": "healthz", "method": "GET", "status": "200"}
    # The readiness wait's own requests count too: at least every request sent, from both workers' files.
    assert value(samples, "lookalike_http_requests_total", **healthz) >= requests + 1
    assert value(samples, "lookalike_db_pool_connections", state="size") >= 1


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.django_db
def test_a_prefork_worker_serves_its_metrics_on_its_port(tmp_path: Path) -> None:
    # The multiprocess folder is set up at worker_init, after system checks imported every module they check.
    port = free_port()
    env = child_process_env(METRICS_TOKEN=TOKEN, METRICS_WORKER_PORT=str(port), LOOKALIKE_VAR_DIR=str(tmp_path))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--queues=lookalike-tests-metrics", "--concurrency=1"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        text = wait_for(
            lambda: (lambda answer: answer[1] if answer[0] == 200 else None)(fetch(f"http://127.0.0.1:{port}/metrics")),
            timeout=60,
            what=f"the worker's metrics endpoint (log: {log.name})",
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
    assert "lookalike_photos_embedded_total" in text
    assert list((tmp_path / "prometheus").glob(f"worker-{port}")), "its own multiprocess folder, under the var dir"
