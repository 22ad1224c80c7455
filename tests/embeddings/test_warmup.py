"""A web process that is still loading its query encoders says so (503 + Retry-After), and /readyz too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

import embeddings.encoders
from embeddings import warmup

pytestmark = pytest.mark.django_db(transaction=True)  # the loading thread reads the database itself


@pytest.fixture
def slow_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A fresh warm-up whose model load blocks until the test releases it."""
    release = threading.Event()
    asked: list[str] = []

    def get_encoder(name: str) -> Any:
        asked.append(name)
        release.wait(30)
        return object()

    monkeypatch.setattr(embeddings.encoders, "get_encoder", get_encoder)
    monkeypatch.setattr(warmup, "_started", False)
    monkeypatch.setattr(warmup, "_finished", threading.Event())
    monkeypatch.setattr(warmup, "_error", None)
    yield release
    release.set()


def test_until_the_encoders_are_loaded_search_is_a_503_with_retry_after_and_readyz_says_loading(
    client: Client, slow_models: threading.Event
) -> None:
    warmup.start()
    warmup.start()  # idempotent: one loading thread

    search = client.get("/api/v1/search/", {"q": "red dress"})
    not_ready = client.get("/readyz")

    assert search.status_code == 503
    assert search.json()["error"]["code"] == "warming_up" and search.headers["Retry-After"] == "5"
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["encoders"] == "query encoders loading"

    slow_models.set()
    assert warmup._finished.wait(10) and warmup.state() == "ready"
    assert client.get("/readyz").json()["checks"]["encoders"] == "ok"


def test_a_process_that_never_warmed_up_loads_on_first_use_and_is_ready(client: Client) -> None:
    assert warmup.state() in ("off", "ready")
    assert client.get("/readyz").json()["checks"]["encoders"] == "ok"
