"""Read replicas against a real streaming replica: a private primary and a pg_basebackup of it, following its WAL.

Which server answered is told by the data itself: replay on the replica is
paused, the primary is changed, and a read that still sees the old data came
from the replica. The web process under test is the real one (gunicorn), with
DATABASE_URL naming the primary and DATABASE_REPLICA_URLS the replica.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures_worker import child_process_env, wait_for
from tests.processes import PrivatePostgres, PrivateRedis, PrivateReplica, WebProcess, manage

pytestmark = [pytest.mark.worker]

# A replica URL that nothing answers: a socket directory that does not exist.
DEAD_REPLICA_URL = "postgresql://postgres@/lookalike?host=/nonexistent/lookalike-replica&port=5432"
SETUP = (
    "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
    "from catalog.models import Product; from tests.catalog.factories import store_admins; "
    "u = get_user_model().objects.create_user('replica-admin', password='x-long-password'); "
    "u.groups.add(store_admins()); kept = Product.objects.create(sku='RR-1', title='Original title', price=1); "
    "gone = Product.objects.create(sku='RR-2', title='Deleted on the primary', price=1); "
    "print(Token.objects.create(user=u).key, kept.pk, gone.pk)"
)


@dataclass
class Cluster:
    primary: PrivatePostgres
    replica: PrivateReplica
    cache: PrivateRedis
    token: str
    kept: int  # a product that both servers have
    gone: int  # a product the tests delete on the primary

    def sql(self, url: str, statement: str, params: tuple[Any, ...] = ()) -> Any:
        """One statement on one server, outside Django: the first column of its first row, if any."""
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            row = cursor.fetchone() if cursor.description else None
            return row[0] if row else None

    def on_primary(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return self.sql(self.primary.url, statement, params)

    def on_replica(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return self.sql(self.replica.url, statement, params)

    def caught_up(self) -> bool:
        """The replica has replayed everything the primary has written so far."""
        target = self.on_primary("SELECT pg_current_wal_lsn()::text")
        return bool(self.on_replica("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)))

    def pause_replay(self) -> None:
        wait_for(self.caught_up, timeout=30, what="the replica to catch up")
        self.on_replica("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.on_replica("SELECT pg_wal_replay_resume()")
        wait_for(self.caught_up, timeout=30, what="the replica to replay what it was holding back")


@pytest.fixture(scope="module")
def cluster(django_db_blocker: Any) -> Iterator[Cluster]:
    primary = PrivatePostgres(replication=True)
    replica = PrivateReplica(primary)
    cache = PrivateRedis()
    cache.start()
    primary.start()
    try:
        with django_db_blocker.unblock():
            env = child_process_env(DATABASE_URL=primary.url, REDIS_URL=cache.url, CACHE_URL=cache.url)
        manage(env, "migrate", "--no-input")
        token, kept, gone = manage(env, "shell", "-c", SETUP).split()[-3:]
        replica.start()  # a base backup taken now: the schema and the rows above, then the WAL stream
        cluster = Cluster(primary, replica, cache, token, int(kept), int(gone))
        # One commit replayed: until then a standby has no replay timestamp to measure its lag by.
        cluster.on_primary("UPDATE catalog_product SET title = title WHERE id = %s", (cluster.kept,))
        wait_for(cluster.caught_up, timeout=30, what="the new replica to stream")
        yield cluster
    finally:
        replica.stop()
        primary.stop()
        cache.kill()


@pytest.fixture
def start_web(cluster: Cluster, tmp_path: Path, django_db_blocker: Any) -> Iterator[Callable[..., WebProcess]]:
    started: list[WebProcess] = []

    def start(replica_urls: str = "", **settings: str) -> WebProcess:
        with django_db_blocker.unblock():
            env = child_process_env(
                DATABASE_URL=cluster.primary.url,
                DATABASE_REPLICA_URLS=replica_urls or cluster.replica.url,
                REDIS_URL=cluster.cache.url,
                CACHE_URL=cluster.cache.url,
                WEB_PRELOAD_ENCODERS="0",
                **settings,
            )
        web = WebProcess(env, tmp_path / f"web-{len(started)}.log")
        started.append(web)
        web.start()
        return web

    yield start
    for web in started:
        web.stop()
    # The next test gets a running replica that replays (a failed test may have left it stopped or paused).
    cluster.replica.start()
    cluster.on_replica("SELECT pg_wal_replay_resume()")


def page(web: WebProcess, product_id: int, *, token: str = "") -> str:
    """The storefront's product page (HTML): its title tells which server rendered it."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(f"{web.url}/p/{product_id}/", headers=headers)) as answer:
        return str(answer.read().decode())


def readyz(web: WebProcess) -> dict[str, Any]:
    status, body = web.request("GET", "/readyz")
    assert status == 200, body
    return dict(body)


def test_shopper_reads_go_to_the_replica_while_writes_and_staff_reads_go_to_the_primary(
    cluster: Cluster, start_web: Callable[..., WebProcess]
) -> None:
    # Given a web process reading from the replica, and a replica that stops replaying the primary's changes
    web = start_web(DATABASE_REPLICA_MAX_LAG="3600", DATABASE_REPLICA_PIN_SECONDS="3700")
    logs_before = cluster.on_primary("SELECT count(*) FROM recommender_recommendationlog")
    cluster.pause_replay()
    cluster.on_primary("UPDATE catalog_product SET title = 'Renamed on the primary' WHERE id = %s", (cluster.kept,))
    cluster.on_primary("DELETE FROM catalog_product WHERE id = %s", (cluster.gone,))

    # When a shopper opens the product page and asks for products like the one deleted on the primary
    shopper_page = page(web, cluster.kept)
    similar_status, similar = web.request("GET", f"/api/v1/products/{cluster.gone}/similar/?limit=3")

    # Then both were read from the replica, which has not seen the changes yet
    assert "Original title" in shopper_page and "Renamed on the primary" not in shopper_page
    assert similar_status == 200, similar
    # and the recommendation log row that request wrote (after its response) went to the primary
    logged = "SELECT count(*) FROM recommender_recommendationlog WHERE id = %s"
    wait_for(lambda: cluster.on_primary(logged, (similar["recommendation_id"],)), timeout=10, what="the log row")
    assert cluster.on_primary("SELECT count(*) FROM recommender_recommendationlog") == logs_before + 1
    # while a staff read of the catalogue API is answered by the primary
    status, detail = web.request("GET", f"/api/v1/products/{cluster.kept}/", token=cluster.token)
    assert status == 200 and detail["title"] == "Renamed on the primary"

    # When the store admin writes through the API
    status, changed = web.request(
        "PATCH",
        f"/api/v1/products/{cluster.kept}/",
        token=cluster.token,
        body=json.dumps({"title": "Patched by staff"}).encode(),
        content_type="application/json",
    )
    assert status == 200, changed
    # Then that client reads its own write on the storefront (pinned to the primary), a shopper does not yet
    assert "Patched by staff" in page(web, cluster.kept, token=cluster.token)
    assert "Original title" in page(web, cluster.kept)
    assert readyz(web)["replicas"]["replica_1"].startswith("ok")

    # And once the replica replays again, shoppers see the change too
    cluster.resume_replay()
    assert "Patched by staff" in page(web, cluster.kept)


def test_a_replica_lagging_beyond_the_limit_is_skipped_and_readyz_names_it(
    cluster: Cluster, start_web: Callable[..., WebProcess]
) -> None:
    # Given a web process that tolerates one second of lag and looks at the replica five times a second
    web = start_web(
        DATABASE_REPLICA_MAX_LAG="1", DATABASE_REPLICA_CHECK_INTERVAL="0.2", DATABASE_REPLICA_PIN_SECONDS="2"
    )
    assert readyz(web)["replicas"]["replica_1"].startswith("ok")

    # When the replica falls behind the primary
    cluster.pause_replay()
    cluster.on_primary("UPDATE catalog_product SET title = 'Written while it lags' WHERE id = %s", (cluster.kept,))

    # Then /readyz says so (still ready: the primary answers) and shoppers get the primary's data
    wait_for(
        lambda: readyz(web)["replicas"]["replica_1"].startswith("lagging"), timeout=20, what="the lag to be noticed"
    )
    assert readyz(web)["status"] == "ready"
    assert "Written while it lags" in page(web, cluster.kept)

    # And once it has caught up it is used again
    cluster.resume_replay()
    wait_for(lambda: readyz(web)["replicas"]["replica_1"].startswith("ok"), timeout=20, what="the replica's return")


def test_a_dead_replica_url_at_start_and_a_replica_stopped_under_load_cost_no_failed_request(
    cluster: Cluster, start_web: Callable[..., WebProcess]
) -> None:
    # Given a web process started with two replicas, one of which has never answered
    web = start_web(f"{cluster.replica.url},{DEAD_REPLICA_URL}", DATABASE_REPLICA_CHECK_INTERVAL="0.5")
    replicas = readyz(web)["replicas"]
    assert replicas["replica_1"].startswith("ok") and replicas["replica_2"].startswith("down"), replicas

    answers: list[int] = []
    stop = threading.Event()

    def shop() -> None:
        while not stop.is_set():
            try:
                answers.append(web.request("GET", f"/api/v1/products/{cluster.kept}/similar/?limit=3")[0])
                page(web, cluster.kept)  # raises for any status but 2xx
                answers.append(200)
            except OSError as exc:  # an HTTP error status (HTTPError) or a dropped connection
                answers.append(getattr(exc, "code", -1))

    # When the live replica is stopped while shoppers keep asking
    shopper = threading.Thread(target=shop)
    shopper.start()
    try:
        wait_for(lambda: len(answers) >= 10, timeout=60, what="shoppers on the replica")
        cluster.replica.halt()
        served = len(answers)
        wait_for(lambda: len(answers) >= served + 20, timeout=120, what="shoppers after the stop")
    finally:
        stop.set()
        shopper.join(timeout=60)

    # Then no request failed: the primary answered once the replica was gone, and /readyz names both replicas
    assert set(answers) == {200}, answers
    replicas = readyz(web)["replicas"]
    assert replicas["replica_1"].startswith("down") and replicas["replica_2"].startswith("down"), replicas

    # And the replica, started again, is taken back without restarting the web process
    cluster.replica.start()
    wait_for(lambda: readyz(web)["replicas"]["replica_1"].startswith("ok"), timeout=30, what="the replica's return")
