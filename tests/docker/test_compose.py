"""docker/compose.yaml agrees with the code, the image and the READMEs (no image or Docker needed).

make image-test checks the same against the built image; these run in `make test`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.core.management import get_commands

from tests.config.test_readme_configuration import readme_table_variables, settings_variables
from tests.docker.compose import (
    ROOT,
    app_services,
    compose_environment,
    example_mentions,
    image_variables_allowed,
    load_compose,
    referenced_variables,
    service_variables,
)

README = (ROOT / "README.md").read_text()
DOCKER_README = (ROOT / "docker" / "README.md").read_text()
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


def test_every_service_of_our_image_runs_a_manage_py_command_that_exists(compose: dict) -> None:
    commands = get_commands()
    services = app_services(compose)
    assert set(services) >= {"migrate", "web", "worker-embeddings", "worker-embeddings-gpu", "worker-default", "beat"}
    for name, service in services.items():
        program, script, command = service["command"][:3]
        assert (program, script) == ("python", "manage.py"), name
        assert command in commands, f"{name}: manage.py {command}"
        assert f"`{name}`" in DOCKER_README, f"docker/README.md does not describe {name}"


def test_every_variable_a_service_sets_is_read_by_the_image_and_in_the_readme(compose: dict) -> None:
    read = settings_variables() | image_variables_allowed()
    for name in app_services(compose):
        for variable in service_variables(compose, name):
            assert variable in read, f"{name} sets {variable}, which nothing in the image reads"
            assert variable in README, f"{name} sets {variable}, which README.md does not mention"


def test_the_env_example_lists_every_readme_setting_and_every_compose_variable() -> None:
    mentioned = example_mentions()
    assert not readme_table_variables() - mentioned, sorted(readme_table_variables() - mentioned)
    assert not referenced_variables() - mentioned, sorted(referenced_variables() - mentioned)
    for variable in referenced_variables() - readme_table_variables():
        assert variable in DOCKER_README, f"docker/README.md does not explain {variable}"


def test_every_volume_is_a_folder_the_image_declares_and_the_readme_explains(compose: dict) -> None:
    declared = set(re.findall(r'"(/[a-z/]+)"', DOCKERFILE.split("VOLUME", 1)[1].splitlines()[0]))
    for name, service in app_services(compose).items():
        for entry in service["volumes"]:
            volume, target = entry.split(":")[:2]
            assert volume in compose["volumes"], entry
            assert target in declared, f"{name}: {target} is no VOLUME of docker/Dockerfile"
            assert f"`{target}`" in DOCKER_README and f"`{volume}`" in DOCKER_README, entry


def test_the_stack_has_one_beat_a_one_shot_migrate_and_health_checks(compose: dict) -> None:
    services = compose["services"]
    beats = [name for name, service in services.items() if "--beat" in service.get("command", [])]
    assert beats == ["beat"] and services["beat"]["deploy"]["replicas"] == 1
    assert services["migrate"]["restart"] == "no"
    for name in set(app_services(compose)) - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert re.match(r"pgvector/pgvector:0\.[89]\.\d+-pg1[78]$", services["postgres"]["image"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    gpu = services["worker-embeddings-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_the_deployment_checklist_is_clean_with_the_compose_environment(compose: dict) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEBUG", "SECURE_", "SESSION_", "CSRF_", "ALLOWED_", "SECRET_"))
    }
    environment.update(compose_environment(compose, "web"))
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
