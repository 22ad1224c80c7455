"""A bad day in production, with real processes: the broker goes away during uploads; PostgreSQL restarts under
a running web process and worker. Uploads keep their promise (201: stored, and embedded once the outage ends),
nothing is half-written, and neither process needs a restart.

Each test owns the server it breaks (tests/processes.py), never the session's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from catalog.models import ProductImage
from embeddings.models import ImageVector
from tests.catalog import factories
from tests.fixtures_worker import WorkerProcess, child_process_env, wait_for
from tests.processes import PrivatePostgres, PrivateRedis, WebProcess, manage

pytestmark = [pytest.mark.worker]


def store_admin_token() -> str:
    user = get_user_model().objects.create_user(username="outage-admin", password="x-long-password")
    user.groups.add(factories.store_admins())
    return Token.objects.create(user=user).key


@pytest.fixture
def broker() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.mark.django_db(transaction=True)
def test_uploads_during_a_broker_outage_are_accepted_and_embedded_once_it_returns(
    broker: PrivateRedis, tmp_path: Path
) -> None:
    # Given a web process and a worker (with beat, sweeping every 2 s) on a broker we can stop
    env = child_process_env(
        REDIS_URL=broker.url,
        EMBEDDING_PENDING_TIMEOUT="5",
        EMBEDDING_SWEEP_INTERVAL="2",
        LOOKALIKE_VAR_DIR=str(tmp_path / "var"),  # the beat schedule file of its own
        WEB_PRELOAD_ENCODERS="0",
    )
    web = WebProcess(env, tmp_path / "web.log")
    worker = WorkerProcess(
        tmp_path / "worker.log", env, argv=["--pool", "solo", "--beat"], hostname="lookalike-outage@%h"
    )
    product = factories.product("OUTAGE")
    token = store_admin_token()
    web.start()
    worker.start()
    try:
        before = [web.upload(product.pk, factories.jpeg(seed), token=token) for seed in range(2)]
        wait_for(lambda: ProductImage.objects.filter(embedding_status="done").count() == 2, timeout=120, what="embed")

        # When the broker dies and more photos arrive
        broker.kill()
        during = [web.upload(product.pk, factories.jpeg(seed), token=token) for seed in range(2, 5)]
        # Then they are accepted (stored, pending): the upload does not depend on the broker
        assert [status for status, _ in before + during] == [201] * 5, [body for _, body in before + during]
        assert ProductImage.objects.filter(embedding_status="pending").count() == 3

        # And once it returns (empty: the messages sent during the outage are lost), the sweeper re-sends them
        broker.start()
        wait_for(
            lambda: ProductImage.objects.filter(embedding_status="done").count() == 5,
            timeout=180,
            interval=0.5,
            what=f"the photos of the outage to be embedded (log: {worker.log_path})",
        )
    finally:
        web.stop()
        worker.stop()
    rows = list(ImageVector.objects.values_list("image_id", "space"))
    assert len(rows) == len(set(rows)) == 2 * 5, "every photo embedded exactly once"


def test_a_postgresql_restart_under_a_running_web_and_worker_costs_no_500_and_nothing_half_written(
    tmp_path: Path,
) -> None:
    # Given a database of our own, migrated, with a store admin and a product, and a web process and a worker on it
    database = PrivatePostgres()
    database.start()
    try:
        env = child_process_env(DATABASE_URL=database.url, WEB_PRELOAD_ENCODERS="0")
        manage(env, "migrate", "--no-input")
        token, product_id = manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
            "from catalog.models import Product; from tests.catalog.factories import store_admins; "
            "u = get_user_model().objects.create_user('pg-admin', password='x-long-password'); "
            "u.groups.add(store_admins()); p = Product.objects.create(sku='PG-1', title='Restart', price=1); "
            "print(Token.objects.create(user=u).key, p.pk)",
        ).split()[-2:]
        web = WebProcess(env, tmp_path / "web.log")
        worker = WorkerProcess(tmp_path / "worker.log", env, argv=["--pool", "solo"], hostname="lookalike-pg@%h")
        web.start()
        worker.start()
        answers: list[int] = []

        def upload_steadily() -> None:
            for seed in range(12):
                status, _ = web.upload(int(product_id), factories.jpeg(100 + seed), token=token)
                answers.append(status)
                time.sleep(0.3)

        try:
            # When PostgreSQL restarts while photos keep arriving
            uploader = threading.Thread(target=upload_steadily)
            uploader.start()
            time.sleep(1.0)
            database.restart()
            uploader.join(timeout=120)

            # Then no request was a 500: each was stored (201) or refused for a retry (503)
            assert set(answers) <= {201, 503} and answers.count(201) >= 6, answers
            # and both processes carry on by themselves: new uploads are stored and everything gets embedded
            status, _ = web.upload(int(product_id), factories.jpeg(999), token=token)
            assert status == 201
            accepted = answers.count(201) + 1
            done = (
                "from catalog.models import ProductImage; from embeddings.models import ImageVector; "
                "print(ProductImage.objects.count(), ProductImage.objects.filter(embedding_status='done').count(), "
                "ImageVector.objects.count())"
            )
            seen: list[list[str]] = []

            def all_embedded_once() -> bool:
                seen.append(manage(env, "shell", "-c", done).split()[-3:])
                return seen[-1] == [str(accepted), str(accepted), str(2 * accepted)]

            try:
                wait_for(all_embedded_once, timeout=180, interval=2, what="every accepted photo embedded once")
            except BaseException:
                raise AssertionError(
                    f"answers {answers}; photos, done, vectors: {seen[-1]} (logs: {worker.log_path}, {web.log_path})"
                ) from None
        finally:
            web.stop()
            worker.stop()
    finally:
        database.stop()
