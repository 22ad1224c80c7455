from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.processes import PrivateRedis


@pytest.fixture
def private_broker() -> Iterator[PrivateRedis]:
    """A real Redis-compatible server of our own, so the test can stop it."""
    broker = PrivateRedis()
    broker.start()
    yield broker
    broker.kill()


def test_healthz_answers_without_touching_dependencies(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_ready_then_names_the_stopped_broker(
    client: Client, settings: SettingsWrapper, private_broker: PrivateRedis
) -> None:
    settings.CELERY_BROKER_URL = private_broker.url

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "encoders": "ok"}

    private_broker.kill()
    down = client.get("/readyz")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("broker unreachable")
