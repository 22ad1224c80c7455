"""A bad setting ends manage.py with one line naming it, never a driver traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "Warning" not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_secret_key_with_debug_off_is_one_line() -> None:
    result = run_manage("migrate", "--check", DEBUG="0", SECRET_KEY="")
    assert_one_line_error(result, "SECRET_KEY")


def test_unreachable_database_url_is_one_line() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    result = run_manage("migrate", "--check", DATABASE_URL="postgresql://nobody@127.0.0.1:9/lookalike")
    assert_one_line_error(result, "DATABASE_URL", "cannot connect")


def test_unreachable_database_url_is_one_line_for_a_pooled_web_server_too() -> None:
    # A pool would retry for its timeout, logging each refusal: the preflight asks with one plain connection.
    result = run_manage(
        "serve", DATABASE_URL="postgresql://nobody@127.0.0.1:9/lookalike", DATABASE_POOL_SIZE="4", LOG_FORMAT="json"
    )
    assert_one_line_error(result, "DATABASE_URL", "cannot connect", "Connection refused")


def test_malformed_database_url_is_one_line() -> None:
    result = run_manage("migrate", "--check", DATABASE_URL="mysql://root@localhost/shop")
    assert_one_line_error(result, "DATABASE_URL")


def test_unreachable_redis_is_one_line_for_the_worker() -> None:
    result = run_manage("worker", REDIS_URL="redis://127.0.0.1:9/0")
    assert_one_line_error(result, "REDIS_URL", "cannot reach Redis")


@pytest.mark.parametrize("value", ["sometimes", "2"])
def test_bad_debug_value_is_one_line(value: str) -> None:
    result = run_manage("migrate", "--check", DEBUG=value)
    assert_one_line_error(result, "DEBUG")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EMBEDDINGS_DEVICE", "gpu"),
        ("EMBEDDINGS_CPU_DTYPE", "fp16"),
        ("EMBEDDINGS_BACKEND", "tensorrt"),
        ("EMBEDDINGS_COMPUTE_THREADS", "-2"),
        ("EMBEDDINGS_FORWARD_BATCH_SIZE", "-1"),
        ("EMBEDDINGS_DECODE_WORKERS", "many"),
        ("EMBEDDING_CLAIM_BATCH_SIZE", "0"),
        ("SEMANTIC_TEXT_WEIGHT", "1.5"),
        ("SEMANTIC_TEXT_WEIGHT", "nan"),
    ],
)
def test_bad_encoder_settings_are_one_line_naming_the_variable(variable: str, value: str) -> None:
    result = run_manage("check", **{variable: value})
    assert_one_line_error(result, variable)


def test_production_settings_pass_the_deployment_checklist() -> None:
    # What a production environment sets: no DEBUG, a real secret, its host names. The rest are defaults.
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="k" + "".join(chr(33 + (n * 7) % 90) for n in range(60)),
        ALLOWED_HOSTS="shop.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
