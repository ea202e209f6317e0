"""Schedules: what `pipeline serve` would serve, built as real Prefect deployments."""

from __future__ import annotations

import pytest

from sentimentops.config import get_settings
from sentimentops.errors import ConfigError
from sentimentops.pipelines.schedules import build_deployments, scheduled_flows


def test_unscheduled_flows_are_left_out_and_next_runs_follow_the_cron() -> None:
    planned = {item.flow: item for item in scheduled_flows(get_settings())}

    assert set(planned) == {"batch", "monitoring", "retraining"}  # training: null
    hourly = planned["monitoring"].next_runs
    assert len(hourly) == 3
    assert all(run.minute == 0 for run in hourly)
    assert (hourly[1] - hourly[0]).total_seconds() == 3600
    assert all(run.weekday() == 6 and run.hour == 3 for run in planned["retraining"].next_runs)


def test_deployments_carry_the_configured_cron(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_PIPELINE__SCHEDULES__TRAINING", "30 4 1 * *")
    get_settings.cache_clear()

    deployments = {d.name: d for d in build_deployments(get_settings())}

    assert set(deployments) == {
        "sentimentops-training",
        "sentimentops-batch",
        "sentimentops-monitoring",
        "sentimentops-retraining",
    }
    training = deployments["sentimentops-training"]
    assert training.schedules[0].schedule.cron == "30 4 1 * *"
    assert training.schedules[0].schedule.timezone == "UTC"


def test_no_schedule_at_all_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for flow in ("BATCH", "MONITORING", "RETRAINING"):
        monkeypatch.setenv(f"SENTIMENTOPS_PIPELINE__SCHEDULES__{flow}", "null")
    get_settings.cache_clear()

    assert scheduled_flows(get_settings()) == []
    with pytest.raises(ConfigError, match="No flow has a schedule"):
        build_deployments(get_settings())
