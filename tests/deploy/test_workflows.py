"""The GitHub workflows run what .ci/run runs: the same make targets, each one defined in the
Makefile. A renamed or dropped target, or a CI that quietly skips a step, fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import POSTGRES

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
MAKE_CALL = re.compile(r"(?:^|[\s;&|(])make\s+(?:-\S+\s+)*([A-Za-z][\w-]*)")


def _workflow(name: str) -> dict[Any, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict)
    return triggers


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _make_targets(script: str) -> list[str]:
    """The targets of every `make` call in a shell script, in order (comments ignored)."""
    lines = (line.split("#", 1)[0] for line in script.splitlines())
    return [target for line in lines for target in MAKE_CALL.findall(line)]


def _workflow_targets(workflow: dict[Any, Any]) -> list[str]:
    return [target for step in _steps(workflow) for target in _make_targets(step.get("run", ""))]


def _makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.MULTILINE))


def _ci_run_targets() -> list[str]:
    return _make_targets((REPO / ".ci" / "run").read_text(encoding="utf-8"))


def test_the_parser_finds_make_calls() -> None:
    script = 'make lint\nsudo env "PATH=$PATH" X=1 make test-container  # make it\nmake -k test'
    assert _make_targets(script) == ["lint", "test-container", "test"]


def test_ci_run_calls_only_makefile_targets() -> None:
    targets = _ci_run_targets()
    assert {"lint", "test", "test-container"} <= set(targets)
    assert set(targets) <= _makefile_targets()


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_every_make_target_a_workflow_calls_exists(name: str) -> None:
    targets = _workflow_targets(_workflow(name))
    assert targets, f"{name} calls no make target"
    missing = set(targets) - _makefile_targets()
    assert not missing, f"{name} calls make targets the Makefile does not define: {missing}"


# Targets only GitHub's CI can run, with the reason: the project's CI machine reaches the
# package registries and nothing else.
GITHUB_ONLY = {"audit": "needs an advisory service (PyPI's JSON API, osv.dev)"}


def test_ci_runs_the_same_targets_as_ci_run() -> None:
    expected = sorted([*_ci_run_targets(), *GITHUB_ONLY])
    assert sorted(_workflow_targets(_workflow("ci.yml"))) == expected


def test_ci_gives_the_tests_the_postgres_they_expect() -> None:
    """tests/servers.py connects as postgres, without a password, to 127.0.0.1:5432."""
    assert POSTGRES.endswith("postgres@127.0.0.1:5432")
    service = _workflow("ci.yml")["jobs"]["test"]["services"]["postgres"]
    assert service["image"].startswith("postgres:")
    assert service["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert "5432:5432" in service["ports"]


def test_cd_runs_ci_first_then_trains_then_publishes() -> None:
    cd = _workflow("cd.yml")
    assert _triggers(cd)["push"]["branches"] == ["main"]
    assert "workflow_call" in _triggers(_workflow("ci.yml"))  # so cd can call it
    jobs = cd["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["train"]["needs"] == "ci"
    assert jobs["publish"]["needs"] == "train"

    train = jobs["train"]
    assert train["env"]["MLFLOW_TRACKING_URI"] == "${{ secrets.MLFLOW_TRACKING_URI }}"
    assert _make_targets("\n".join(step.get("run", "") for step in train["steps"])) == ["setup"]
    commands = " ".join(step.get("run", "") for step in train["steps"])
    assert ".venv/bin/sentimentops pipeline run training" in commands

    publish = jobs["publish"]
    assert publish["permissions"]["packages"] == "write"
    pushes = [step for step in publish["steps"] if "build-push-action" in step.get("uses", "")]
    assert len(pushes) == 1
    assert pushes[0]["with"]["push"] is True
    tags = pushes[0]["with"]["tags"].strip().splitlines()
    assert tags == ["${{ env.IMAGE }}:${{ github.sha }}", "${{ env.IMAGE }}:latest"]
    assert any("IMAGE=ghcr.io/" in step.get("run", "") for step in publish["steps"])


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_actions_are_pinned_to_a_version(name: str) -> None:
    for step in _steps(_workflow(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_the_pinned_uv_is_the_dockerfiles() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    pinned = re.search(r"^ARG UV_VERSION=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert pinned is not None
    for name in ("ci.yml", "cd.yml"):
        assert _workflow(name)["env"]["UV_VERSION"] == pinned.group(1), name


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_a_step_that_pipes_fails_when_its_first_command_fails(name: str) -> None:
    """GitHub's default shell is `bash -e` without pipefail: `train | tee` would hide a failed
    training. `shell: bash` runs `bash -eo pipefail`."""
    for step in _steps(_workflow(name)):
        script = "\n".join(line.split("#", 1)[0] for line in step.get("run", "").splitlines())
        if re.search(r"[^|]\|[^|]", script):
            assert step.get("shell") == "bash", step.get("name", script)
