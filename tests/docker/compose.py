"""docker/compose.yaml as data: its services, and the environment a service's container gets.

Shared by tests/docker/test_compose.py (no image needed) and docker/image_test.py (which
checks the same against the built image). Values come from docker/.env.example, as
compose takes them from docker/.env: interpolation of ${NAME}, ${NAME:-default} and
${NAME:?message}, then env_file, then the service's own environment.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
# What the example leaves for the operator to fill in, filled for the checks (a 60-character secret passes
# `check --deploy`'s length and variety test).
FILLED = {
    "SECRET_KEY": "".join(string.ascii_letters[(n * 7) % 52] + string.digits[n % 10] for n in range(30)),
    "POSTGRES_PASSWORD": "filled-for-checks",
}
# Read by a library in the image, not by our code.
LIBRARY_VARIABLES = {"OPENBLAS_NUM_THREADS"}
_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def image_variables_allowed() -> set[str]:
    return set(LIBRARY_VARIABLES)


def example_values() -> dict[str, str]:
    """The assignments docker/.env.example makes (commented-out lines are defaults, not assignments)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2) or FILLED.get(match.group(1), "")
    return values


def example_mentions() -> set[str]:
    """Every variable the example names, assigned or commented out."""
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]{2,})=", ENV_EXAMPLE.read_text(), flags=re.M))


def interpolate(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, kind, argument = match.group(1), match.group(2), match.group(3) or ""
        value = values.get(name, "")
        if value:
            return value
        if kind == "?":
            raise ValueError(f"{name}: {argument}")
        return argument if kind == "-" else ""

    return _REFERENCE.sub(replace, text).replace("$$", "$")


def load_compose(values: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file with YAML anchors merged and ${...} interpolated."""
    text = interpolate(COMPOSE.read_text(), example_values() if values is None else values)
    return dict(yaml.safe_load(text))


def referenced_variables() -> set[str]:
    return {match.group(1) for match in _REFERENCE.finditer(COMPOSE.read_text())}


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run Lookalike's image (the others are PostgreSQL and Valkey)."""
    return {name: service for name, service in compose["services"].items() if "manage.py" in service.get("command", [])}


def service_variables(compose: dict[str, Any], name: str) -> set[str]:
    """The variables a service sets itself (environment:), which our image must read."""
    return set(compose["services"][name].get("environment", {}))


def compose_environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    """Everything a service's container gets from compose: env_file (docker/.env), then environment."""
    service = compose["services"][name]
    env = dict(example_values()) if service.get("env_file") else {}
    env.update({key: str(value) for key, value in service.get("environment", {}).items()})
    return env
