from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.database_url import parse_database_url
from config.env import env_bool, env_choice, env_int


def test_env_bool_rejects_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG")


def test_env_int_rejects_words_and_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "lots")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BATCH_SIZE must be an integer"):
        env_int("EMBEDDING_BATCH_SIZE", 64)
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BATCH_SIZE must be >= 1"):
        env_int("EMBEDDING_BATCH_SIZE", 64, minimum=1)


def test_env_choice_names_the_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDINGS_PROFILE", "huge")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDINGS_PROFILE must be one of full, lite"):
        env_choice("EMBEDDINGS_PROFILE", "lite", ["full", "lite"])


def test_database_url_is_parsed_including_a_socket_host() -> None:
    parsed = parse_database_url("postgresql://shop:s%40cret@db.internal:6543/lookalike?sslmode=require")
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "shop",
        "s@cret",
        "db.internal",
        "6543",
        "lookalike",
    )
    assert parsed["OPTIONS"] == {"sslmode": "require"}
    socket = parse_database_url("postgresql:///lookalike?host=/var/run/postgresql")
    assert socket["HOST"] == "/var/run/postgresql"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/shop", "must start with postgres"),
        ("postgresql://localhost:5432/", "must name a database"),
        ("postgresql://localhost:notaport/db", "not a valid URL"),
    ],
)
def test_database_url_rejects_bad_values(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_database_url(url)
