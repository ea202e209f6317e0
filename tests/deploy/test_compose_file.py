"""docker-compose.yml: valid against the Compose Specification schema, configured only by
.env values and real settings, and safe by default (no unauthenticated MLflow port, no
secret in the file). There is no Docker engine here; test_team_mode.py runs the same stack."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy.compose import (
    COMPOSE_FILE,
    ROOT,
    compose_with_example_env,
    environment_of,
    interpolate,
    raw_compose,
    read_env_file,
)
from tests.deploy.settings_names import is_setting
from tests.deploy.team_stack import IMAGE_ENV, IMAGE_STATE

SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
INIT_SQL = ROOT / "deploy" / "compose" / "postgres" / "init-databases.sql"
DOCKERFILE = ROOT / "Dockerfile"


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def services() -> dict[str, dict[str, Any]]:
    return dict(compose_with_example_env()["services"])


def test_the_file_and_its_interpolated_form_follow_the_compose_specification() -> None:
    assert schema_errors(raw_compose()) == []
    assert schema_errors(compose_with_example_env()) == []


def test_the_schema_check_rejects_a_broken_stack() -> None:
    broken = copy.deepcopy(compose_with_example_env())
    broken["services"]["api"]["depends_on"]["mlflow"]["condition"] = "service_ready"
    broken["services"]["worker"]["restart"] = ["always"]
    assert len(schema_errors(broken)) == 2


def test_every_variable_the_file_uses_is_in_the_env_example() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used <= set(read_env_file()), used - set(read_env_file())


def test_secrets_are_required_from_the_environment_not_written_in_the_file() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for secret in ("POSTGRES_PASSWORD", "SENTIMENTOPS_API_KEY"):
        assert f"${{{secret}:?" in text  # compose refuses to start without it
        with pytest.raises(KeyError, match=secret):
            interpolate(f"${{{secret}:?set {secret} in .env}}", {})


def test_the_mlflow_server_is_not_published_and_other_ports_stay_on_loopback() -> None:
    stack = services()
    assert "ports" not in stack["mlflow"]  # no authentication: reachable from the network only
    for name in ("prefect", "localstack", "monitoring-ui"):
        assert all(str(port).startswith("127.0.0.1:") for port in stack[name]["ports"])


def test_every_sentimentops_variable_is_a_real_setting() -> None:
    names = {name for service in services().values() for name in environment_of(service)}
    sentimentops_names = {name for name in names if name.startswith("SENTIMENTOPS_")}
    assert sentimentops_names, "the services are configured by SENTIMENTOPS_* variables"
    assert [name for name in sentimentops_names if not is_setting(name)] == []


def test_services_wait_for_healthy_dependencies() -> None:
    stack = services()
    for name, service in stack.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in stack[dependency], f"{dependency} has no healthcheck"


def test_state_lives_in_named_volumes() -> None:
    stack = compose_with_example_env()
    declared = set(stack["volumes"])
    for service in stack["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared or source.startswith("./deploy/compose/"), volume


def test_one_image_runs_every_sentimentops_service() -> None:
    images = {service["image"] for service in services().values() if "build" in service}
    assert images == {"sentimentops:latest"}


def test_postgres_creates_every_database_the_services_connect_to() -> None:
    created = set(re.findall(r"CREATE DATABASE (\w+);", INIT_SQL.read_text(encoding="utf-8")))
    text = json.dumps(services())
    connected = set(re.findall(r"postgresql\+\w+://[^@]+@postgres:5432/(\w+)", text))
    assert connected == created == {"mlflow", "prefect", "predictions"}


def test_the_team_mode_test_runs_what_the_image_holds() -> None:
    """test_team_mode.py stands in for the image with these values: they must be the image's."""
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["sentimentops"]' in dockerfile
    assert f"SENTIMENTOPS_HOME={IMAGE_STATE}" in dockerfile
    for name, value in IMAGE_ENV.items():
        assert f"{name}={value}" in dockerfile


def test_only_the_api_keeps_the_image_health_check() -> None:
    stack = services()
    for name in ("worker", "scheduler", "jobs"):
        assert stack[name]["healthcheck"] == {"disable": True}
    assert "/health/live" in " ".join(stack["api"]["healthcheck"]["test"])
    assert "/api/projects" in " ".join(stack["monitoring-ui"]["healthcheck"]["test"])
