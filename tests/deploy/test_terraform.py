"""The Terraform in deploy/terraform: it parses, and it names what the code expects (settings,
handler, metric namespace and name), so code and infrastructure cannot drift apart. checkov runs
in `make lint` (`make terraform-check`)."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from sentimentops.cloud.cloudwatch import DRIFT_ALERTS, NAMESPACE
from tests.deploy.settings_names import is_setting

TERRAFORM = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
FILES = sorted(TERRAFORM.rglob("*.tf"))


def unquoted(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes around labels and strings: drop them, and its
    bookkeeping keys, so the tests read plain names and values."""
    if isinstance(value, dict):
        return {
            unquoted(key): unquoted(item)
            for key, item in value.items()
            if key not in ("__comments__", "__is_block__")
        }
    if isinstance(value, list):
        return [unquoted(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parsed() -> dict[str, dict[str, Any]]:
    return {
        str(path.relative_to(TERRAFORM)): unquoted(hcl2.loads(path.read_text())) for path in FILES
    }


def blocks(kind: str) -> list[dict[str, Any]]:
    return [block for content in parsed().values() for block in content.get(kind, [])]


def resource(kind: str, name: str) -> dict[str, Any]:
    for block in blocks("resource"):
        if kind in block and name in block[kind]:
            return dict(block[kind][name])
    raise AssertionError(f"no resource {kind}.{name}")


def local(name: str) -> Any:
    for block in blocks("locals"):
        if name in block:
            return block[name]
    raise AssertionError(f"no local {name}")


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_every_file_parses(path: Path) -> None:
    assert isinstance(hcl2.loads(path.read_text()), dict)


def test_outputs_name_what_the_worker_and_the_lambda_read() -> None:
    outputs = {name for block in blocks("output") for name in block}

    assert {
        "data_bucket",
        "models_bucket",
        "outputs_bucket",
        "queue_url",
        "dead_letter_queue_url",
        "lambda_function_name",
        "lambda_model_uri",
        "worker_environment",
    } <= outputs
    worker_environment = next(b for b in blocks("output") if "worker_environment" in b)
    names = set(worker_environment["worker_environment"]["value"])
    assert "SENTIMENTOPS_CLOUD__QUEUE_URL" in names
    assert all(is_setting(name) for name in names), names


def test_the_lambda_runs_our_handler_with_real_settings() -> None:
    function = resource("aws_lambda_function", "predict")
    module_name, _, attribute = function["handler"].rpartition(".")

    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert function["runtime"] == "python3.11"
    environment = local("lambda_environment")
    assert "SENTIMENTOPS_CLOUD__LAMBDA_MODEL" in environment
    assert all(is_setting(name) for name in environment), environment


def test_the_drift_alarm_watches_the_metric_monitoring_puts() -> None:
    alarm = resource("aws_cloudwatch_metric_alarm", "drift")

    assert local("metrics_namespace") == NAMESPACE
    assert alarm["metric_name"] == DRIFT_ALERTS
    assert alarm["dimensions"] == {"Component": "monitoring"}


def test_the_job_queue_sends_failures_to_its_dead_letter_queue() -> None:
    jobs = resource("aws_sqs_queue", "jobs")

    assert "aws_sqs_queue.jobs_dlq.arn" in jobs["redrive_policy"]
    assert "maxReceiveCount" in jobs["redrive_policy"]


def test_the_settings_check_itself_tells_real_names_from_typos() -> None:
    assert is_setting("SENTIMENTOPS_CLOUD__QUEUE_URL")
    assert not is_setting("SENTIMENTOPS_CLOUD__QUEUE")
    assert not is_setting("SENTIMENTOPS_CLOUDS__QUEUE_URL")
