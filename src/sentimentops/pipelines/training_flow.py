"""The ``training`` flow: :mod:`sentimentops.training`'s steps as Prefect tasks, searches and
refit cached on fingerprints, a registered training reused (docs/orchestration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from sentimentops.config import ModelFamily, Settings, get_settings
from sentimentops.data.split import DatasetSplits
from sentimentops.models.train import CandidateResult, TrainingResult
from sentimentops.pipelines.results import SkopsResultSerializer, trusted_cache_key
from sentimentops.pipelines.runtime import Laps, io_task_options, result_storage, state_label
from sentimentops.tracking.runs import TrackedTraining  # imports MLflow lazily, inside functions
from sentimentops.training import data as training_data
from sentimentops.training import job as training_job
from sentimentops.training.job import TrainingSummary

__all__ = ["configured_training_flow", "run_training_flow", "training_flow"]


def _fingerprint_key(_context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return trusted_cache_key(str(parameters["fingerprint"]), result_storage(parameters["settings"]))


# Results kept for later runs, by fingerprint; never pickled: they hold fitted models.
STORED: dict[str, Any] = {
    "cache_key_fn": _fingerprint_key,
    "persist_result": True,
    "result_serializer": SkopsResultSerializer(),
}


@task(name="connect-tracking", cache_policy=NO_CACHE)
def connect_tracking(settings: Settings) -> str:
    from sentimentops.tracking.store import connect

    return connect(settings)


@task(name="prepare-data", cache_policy=NO_CACHE)
def prepare_data(
    settings: Settings, data: str | None, sample: int | None, extra_rows: str | None
) -> tuple[training_data.TrainingData, str]:
    extra = pd.read_parquet(extra_rows) if extra_rows else None
    prepared = training_data.prepare_training_data(
        settings, data=data, sample=sample, extra=extra, progress=get_run_logger().info
    )
    return prepared, training_data.store_splits(prepared, settings)


@task(name="find-registered-version", cache_policy=NO_CACHE)
def find_registered_version(settings: Settings, fingerprint: str) -> str | None:
    return training_job.registered_version(settings, fingerprint)


@task(name="clean-texts", cache_policy=NO_CACHE)
def clean_split_texts(settings: Settings, splits: DatasetSplits, splits_dir: str) -> str:
    return training_data.store_clean_texts(
        settings, splits, splits_dir, progress=get_run_logger().info
    )


@task(name="search-candidate", **STORED)
def search_candidate(
    settings: Settings,
    family: ModelFamily,
    splits_dir: str,
    cleaned_texts: str,
    cache_dir: str | None,
    fingerprint: str,
) -> CandidateResult:
    get_run_logger().info("searching %s", family)
    return training_job.search_stored(settings, family, splits_dir, cleaned_texts, cache_dir)


@task(name="choose-and-refit", **STORED)
def choose_and_refit(
    settings: Settings,
    candidates: list[CandidateResult],
    splits: DatasetSplits,
    cleaned_texts: str,
    fingerprint: str,
) -> TrainingResult:
    return training_job.refit_best(
        settings, candidates, splits, cleaned_texts, get_run_logger().info
    )


@task(name="register-and-gate", cache_policy=NO_CACHE)
def register_and_gate(
    result: TrainingResult, settings: Settings, data: training_data.TrainingData
) -> TrackedTraining:
    return training_job.track_and_gate(result, settings, data)


@flow(name="training")
def training_flow(
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    split: str | None = None,
    force: bool = False,
    extra_rows: str | None = None,
) -> TrainingSummary:
    """Train the candidates, register the best as challenger, promote it through the gate;
    ``force`` trains again what was trained before, ``extra_rows`` (Parquet) adds labelled rows."""
    settings = training_job.with_families(
        training_data.with_split_mode(get_settings(), split), models
    )
    logger = get_run_logger()
    io = io_task_options(settings)
    cached: dict[str, Any] = {
        "result_storage": result_storage(settings),
        # Only Dask can interrupt a search: in the flow's worker thread a limit is a warning.
        "timeout_seconds": (
            settings.pipeline.training_timeout_seconds if settings.training.dask_scheduler else None
        ),
        "refresh_cache": force,
    }
    laps = Laps()

    tracking_uri = connect_tracking.with_options(**io)(settings)
    prepared, splits_dir = prepare_data.with_options(**io)(settings, data, sample, extra_rows)
    test_split = str(Path(splits_dir) / "test.parquet")
    fingerprint = prepared.lineage["training_fingerprint"]
    existing = None if force else find_registered_version.with_options(**io)(settings, fingerprint)
    laps.lap("prepare data")
    if existing is not None:
        logger.info(
            "version %s was trained on the same data and settings: reusing it (--force retrains)",
            existing,
        )
        return TrainingSummary.registered(
            settings, existing, tracking_uri, test_split, laps.seconds
        )

    cleaned_texts = clean_split_texts(settings, prepared.splits, splits_dir)
    laps.lap("clean texts")
    digests = prepared.lineage["split_digests"]
    search = search_candidate.with_options(**cached)
    with training_job.feature_cache(settings) as cache_dir:
        futures = {
            family: search.submit(
                training_job.search_settings(settings),
                family,
                splits_dir,
                cleaned_texts,
                cache_dir,
                training_data.candidate_fingerprint(settings, family, digests),
            )
            for family in settings.training.models
        }
        candidates = []
        for family, future in futures.items():
            candidates.append(future.result())
            laps.lap(f"search {family}", state_label(future.state))
    final = choose_and_refit.with_options(**cached)(
        settings, candidates, prepared.splits, cleaned_texts, fingerprint, return_state=True
    )
    result: TrainingResult = final.result()
    laps.lap("choose and refit", state_label(final))
    register = register_and_gate.with_options(timeout_seconds=settings.pipeline.io_timeout_seconds)
    tracked = register(result, settings, prepared)
    laps.lap("register and gate", "ran")
    verdict = "promoted to champion" if tracked.decision.promote else "champion kept"
    logger.info("version %s registered; %s: %s", tracked.version, verdict, tracked.decision.reason)
    if rows := tracked.decision.rows_summary():
        logger.info(rows)
    return TrainingSummary.of(result, tracked, tracking_uri, test_split, laps.steps, laps.seconds)


def configured_training_flow(settings: Settings) -> Any:
    """The training flow with its task runner: the Dask cluster's workers, else one search after
    another in the flow's process (docs/decisions.md, Training)."""
    if settings.training.dask_scheduler:
        from prefect_dask.task_runners import DaskTaskRunner

        runner: Any = DaskTaskRunner(address=settings.training.dask_scheduler)
    else:
        from prefect.task_runners import ThreadPoolTaskRunner

        runner = ThreadPoolTaskRunner(max_workers=1)
    return training_flow.with_options(task_runner=runner)


def run_training_flow(settings: Settings, **parameters: Any) -> TrainingSummary:
    """Run the training flow now (as a subflow when called from a flow)."""
    result: TrainingSummary = configured_training_flow(settings)(**parameters)
    return result
