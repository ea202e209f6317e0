"""The training flow: registers and gates, reuses what did not change, retries I/O, and leaves
the registry alone when it fails."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentimentops.config import get_settings
from sentimentops.pipelines.training_flow import run_training_flow
from sentimentops.tracking import registry
from sentimentops.training import data as training_data
from sentimentops.training import job as training_job
from tests.conftest import FAST_TRAINING_CONFIG

MODEL = "imdb-sentiment"


def use_logreg_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_values: list[float]) -> None:
    """The test config with another grid for logreg (a grid key holds "__", which the
    environment cannot express, so this goes through a config file)."""
    config = yaml.safe_load(FAST_TRAINING_CONFIG.read_text())
    config["training"]["candidates"]["logreg"]["grid"] = {"classifier__C": c_values}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("SENTIMENTOPS_CONFIG", str(path))
    get_settings.cache_clear()


def _versions() -> list[str]:
    return [info.version for info in registry.list_versions(MODEL)]


def test_first_run_registers_and_promotes_and_a_rerun_reuses_that_version() -> None:
    first = run_training_flow(get_settings(), sample=1500)

    assert (first.version, first.champion, first.promoted, first.reused) == ("1", "1", True, False)
    assert first.steps == {
        "search logreg": "ran",
        "search nb_logreg": "ran",
        "choose and refit": "ran",
        "register and gate": "ran",
    }
    assert first.test_metrics["accuracy"] > 0.75
    assert Path(first.test_split).is_file()

    second = run_training_flow(get_settings(), sample=1500)

    assert second.reused
    assert second.version == "1"
    assert second.steps == {"training": "reused"}
    assert second.test_metrics["accuracy"] == pytest.approx(first.test_metrics["accuracy"])
    assert _versions() == ["1"]  # nothing registered twice


def test_searches_are_cached_on_data_and_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_training_flow(get_settings(), sample=1500)
    # A new, empty registry: the training must be registered again, but nothing re-featurised.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")

    cached = run_training_flow(get_settings(), sample=1500)

    assert cached.steps["search logreg"] == "cached"
    assert cached.steps["search nb_logreg"] == "cached"
    assert cached.steps["choose and refit"] == "cached"
    assert not cached.reused
    assert cached.version == "1"
    assert cached.test_metrics == pytest.approx(first.test_metrics)

    # One family's settings change: only that family is searched again.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'third.db'}")
    use_logreg_grid(tmp_path, monkeypatch, [2.0])

    changed = run_training_flow(get_settings(), sample=1500)

    assert changed.steps["search logreg"] == "ran"
    assert changed.steps["search nb_logreg"] == "cached"
    assert changed.steps["choose and refit"] == "ran"


def test_candidates_are_searched_one_after_another_in_the_flow_s_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """n_jobs 2 goes to each search's CV fits, not to a process per candidate as well: two
    candidates at once, each with its own CV jobs, would keep more processes busy than cores."""
    monkeypatch.setenv("SENTIMENTOPS_TRAINING__N_JOBS", "2")
    get_settings.cache_clear()
    real = training_job.evaluate_candidate
    searches: list[tuple[int, float, float]] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = real(*args, **kwargs)
        searches.append((os.getpid(), started, time.monotonic()))
        return result

    monkeypatch.setattr(training_job, "evaluate_candidate", recorded)

    result = run_training_flow(get_settings(), sample=1500)

    assert result.version == "1"
    assert result.champion == "1"
    assert result.steps["search logreg"] == "ran"
    assert result.steps["search nb_logreg"] == "ran"
    assert [pid for pid, _, _ in searches] == [os.getpid(), os.getpid()]
    (_, _, first_end), (_, second_start, _) = sorted(searches, key=lambda s: s[1])
    assert first_end <= second_start
    assert set(result.seconds) >= {"prepare data", "clean texts", "search logreg"}


def test_a_step_failing_twice_is_retried_and_the_flow_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = training_data.prepare_training_data
    attempts = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) <= 2:
            raise OSError("the data share dropped the connection")
        return real(*args, **kwargs)

    monkeypatch.setattr(training_data, "prepare_training_data", flaky)

    result = run_training_flow(get_settings(), sample=1500, models=["logreg"])

    assert len(attempts) == 3  # two failures, retried by Prefect, then success
    assert result.version == "1"
    assert result.champion == "1"


def test_a_failing_training_leaves_the_champion_and_the_registry_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_training_flow(get_settings(), sample=1500, models=["logreg"])
    # A regularisation strength scikit-learn refuses: the search itself fails.
    use_logreg_grid(tmp_path, monkeypatch, [-1.0])

    with pytest.raises(ValueError, match="C"):
        run_training_flow(get_settings(), sample=2000, models=["logreg"])

    assert registry.champion_version(MODEL) == "1"
    assert _versions() == ["1"]


def test_candidates_are_searched_on_a_dask_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        monkeypatch.setenv("SENTIMENTOPS_TRAINING__DASK_SCHEDULER", cluster.scheduler_address)
        get_settings.cache_clear()

        result = run_training_flow(get_settings(), sample=1500)

        def prefixes(dask_scheduler: Any) -> list[str]:
            return list(dask_scheduler.task_prefixes)

        ran_on_cluster = client.run_on_scheduler(prefixes)

    assert result.version == "1"
    assert result.champion == "1"
    assert ran_on_cluster == ["search_candidate"]  # the searches, and nothing else, ran there
