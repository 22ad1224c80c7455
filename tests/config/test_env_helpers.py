from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env
from config.database_url import parse_database_url
from config.env import env_bool, env_choice, env_float, env_int, env_renamed, env_thresholds


def test_env_bool_rejects_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "ture")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG")


def test_env_int_rejects_words_and_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDING_CLAIM_BATCH_SIZE", "lots")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_CLAIM_BATCH_SIZE must be an integer"):
        env_int("EMBEDDING_CLAIM_BATCH_SIZE", 64)
    monkeypatch.setenv("EMBEDDING_CLAIM_BATCH_SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_CLAIM_BATCH_SIZE must be >= 1"):
        env_int("EMBEDDING_CLAIM_BATCH_SIZE", 64, minimum=1)


@pytest.mark.parametrize(("raw", "message"), [("heavy", "a number"), ("nan", "a number"), ("-0.1", ">= 0.0")])
def test_env_float_rejects_words_nan_and_out_of_range(monkeypatch: pytest.MonkeyPatch, raw: str, message: str) -> None:
    # NaN compares false with every bound: without its own check it would pass them all.
    monkeypatch.setenv("SEMANTIC_TEXT_WEIGHT", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SEMANTIC_TEXT_WEIGHT must be {message}"):
        env_float("SEMANTIC_TEXT_WEIGHT", 0.5, minimum=0.0, maximum=1.0)


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


def test_threshold_overrides_replace_one_encoder_and_bad_ones_name_the_variable_and_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = {"dinov2-base": {"near": 0.85, "similar": 0.7}, "efficientnet-lite0": {"near": 0.84, "similar": 0.83}}
    monkeypatch.setenv("DUPLICATES_THRESHOLDS", "dinov2-base=0.8/0.65")
    table = env_thresholds("DUPLICATES_THRESHOLDS", defaults)
    assert table == {
        "dinov2-base": {"near": 0.8, "similar": 0.65},
        "efficientnet-lite0": defaults["efficientnet-lite0"],
    }
    monkeypatch.setenv("DUPLICATES_THRESHOLDS", "dinov2-base=0.8")
    with pytest.raises(
        ImproperlyConfigured, match=r"DUPLICATES_THRESHOLDS: expected ENCODER=NEAR/SIMILAR .*'dinov2-base=0.8'"
    ):
        env_thresholds("DUPLICATES_THRESHOLDS", defaults)
    monkeypatch.setenv("DUPLICATES_THRESHOLDS", "x=0.6/0.9")
    with pytest.raises(ImproperlyConfigured, match=r"DUPLICATES_THRESHOLDS: 'x=0\.6/0\.9': need -1 <= SIMILAR <= NEAR"):
        env_thresholds("DUPLICATES_THRESHOLDS", defaults)


def test_threshold_overrides_take_an_optional_hashed_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = {"efficientnet-lite0": {"near": 0.85, "similar": 0.82, "hashed": 0.75}}
    monkeypatch.setenv("DUPLICATES_THRESHOLDS", "dinov2-base=0.8/0.65/0.6, efficientnet-lite0=0.86/0.83")
    table = env_thresholds("DUPLICATES_THRESHOLDS", defaults)
    assert table == {
        "efficientnet-lite0": {"near": 0.86, "similar": 0.83},  # two parts: the hashed rule is off
        "dinov2-base": {"near": 0.8, "similar": 0.65, "hashed": 0.6},
    }
    assert defaults["efficientnet-lite0"]["hashed"] == 0.75, "the defaults are not changed in place"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "x=0.8/0.7/0.6/0.5/0.4",
            r"expected ENCODER=NEAR/SIMILAR or ENCODER=NEAR/SIMILAR/HASHED\[/TITLED\] .*'x=0\.8/0\.7/0\.6/0\.5/0\.4'",
        ),
        ("x=0.8/0.7/0.6/1.5", r"'x=0\.8/0\.7/0\.6/1\.5': need -1 <= TITLED <= 1"),
        ("x=0.8/0.7/", r"expected ENCODER=NEAR/SIMILAR .*'x=0\.8/0\.7/'"),
        ("x=0.8/0.7/high", r"expected ENCODER=NEAR/SIMILAR .*'x=0\.8/0\.7/high'"),
        ("=0.8/0.7", r"expected ENCODER=NEAR/SIMILAR .*'=0\.8/0\.7'"),
        ("x=0.8/0.7/1.5", r"'x=0\.8/0\.7/1\.5': need -1 <= HASHED <= 1"),
        ("x=0.7/0.8/0.5", r"'x=0\.7/0\.8/0\.5': need -1 <= SIMILAR <= NEAR <= 1"),
    ],
)
def test_a_bad_threshold_override_is_one_line_naming_the_variable_and_the_item(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("DUPLICATES_THRESHOLDS", value)
    with pytest.raises(ImproperlyConfigured, match=f"^DUPLICATES_THRESHOLDS: {message}") as caught:
        env_thresholds("DUPLICATES_THRESHOLDS", {})
    assert "\n" not in str(caught.value)


def test_a_renamed_variable_still_works_for_a_release_with_one_warning_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(env, "_warned_renames", set())
    monkeypatch.delenv("EMBEDDING_CLAIM_BATCH_SIZE", raising=False)
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "32")

    assert env_int(env_renamed("EMBEDDING_CLAIM_BATCH_SIZE", "EMBEDDING_BATCH_SIZE"), 64) == 32
    assert env_renamed("EMBEDDING_CLAIM_BATCH_SIZE", "EMBEDDING_BATCH_SIZE") == "EMBEDDING_BATCH_SIZE"

    warning = capsys.readouterr().err
    assert warning.count("\n") == 1, "one line, once per process"
    assert "EMBEDDING_BATCH_SIZE is deprecated" in warning and "rename it EMBEDDING_CLAIM_BATCH_SIZE" in warning
    # The new name wins as soon as it is set.
    monkeypatch.setenv("EMBEDDING_CLAIM_BATCH_SIZE", "16")
    assert env_renamed("EMBEDDING_CLAIM_BATCH_SIZE", "EMBEDDING_BATCH_SIZE") == "EMBEDDING_CLAIM_BATCH_SIZE"
