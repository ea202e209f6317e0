"""The ``training`` flow: load → validate → split → candidates in parallel → choose and refit →
register → gate → promote, each step a Prefect task around the functions of
:mod:`sentimentops.pipelines.training`.

- Texts are cleaned once. Candidates are searched one after another, each spreading its CV
  fits over ``training.n_jobs`` processes and sharing featurised folds with the families of
  the same features; or in parallel on a Dask cluster when ``training.dask_scheduler`` names
  one. They reach the workers by path (the splits and cleaned texts are written once as
  Parquet), not by value.
- Searches and the final refit are cached on the split digests plus a hash of the settings
  that shape them: an unchanged input is not re-featurised by the next run.
- A training whose data and settings match a registered version is not repeated: the flow
  reports that version instead of registering a duplicate.
- Steps that touch I/O retry with backoff; every step has a time limit. Nothing touches the
  registry before the final model exists, so a failed training leaves it unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from sentimentops.config import ModelFamily, Settings, get_settings
from sentimentops.data.split import DatasetSplits
from sentimentops.data.version import json_digest
from sentimentops.models.train import (
    CandidateResult,
    CleanTexts,
    TrainingResult,
    evaluate_candidate,
    finish_training,
)
from sentimentops.pipelines.results import SkopsResultSerializer, trusted_cache_key
from sentimentops.pipelines.runtime import Laps, io_task_options, result_storage, state_label
from sentimentops.pipelines.training import (
    TrainingData,
    candidate_fingerprint,
    prepare_training_data,
    track_and_gate,
    with_families,
    with_split_mode,
)
from sentimentops.tracking.runs import TrackedTraining  # imports MLflow lazily, inside functions

__all__ = [
    "TrainingFlowResult",
    "configured_training_flow",
    "run_training_flow",
    "training_flow",
]


@dataclass(frozen=True)
class TrainingFlowResult:
    """What a training run produced, for the summary and the flows that follow it."""

    model_name: str
    version: str
    champion: str | None
    promoted: bool
    reason: str
    decision: dict[str, Any]  # the gate's numbers: both accuracies on the same test rows
    family: str
    test_metrics: dict[str, float]
    run_id: str
    tracking_uri: str
    reused: bool  # the same data and settings were trained before: that version is reported
    test_split: str  # the held-out test rows, as Parquet
    steps: dict[str, str] = field(default_factory=dict)  # step -> ran | cached | reused
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fingerprint_key(_context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return trusted_cache_key(str(parameters["fingerprint"]), result_storage(parameters["settings"]))


@task(name="connect-tracking", cache_policy=NO_CACHE)
def connect_tracking(settings: Settings) -> str:
    from sentimentops.tracking.store import connect

    return connect(settings)


@task(name="prepare-data", cache_policy=NO_CACHE)
def prepare_data(
    settings: Settings, data: str | None, sample: int | None, extra_rows: str | None
) -> tuple[TrainingData, str]:
    """Load, validate and split; the splits are written once, named by their digests."""
    logger = get_run_logger()
    extra = pd.read_parquet(extra_rows) if extra_rows else None
    prepared = prepare_training_data(
        settings, data=data, sample=sample, extra=extra, progress=logger.info
    )
    name = json_digest(prepared.lineage["split_digests"])[:16]
    directory = settings.state_path("splits", f"{prepared.splits.mode}-{name}")
    if not (directory / "test.parquet").exists():
        prepared.splits.write(directory)
    return prepared, str(directory)


@task(name="find-registered-version", cache_policy=NO_CACHE)
def find_registered_version(settings: Settings, fingerprint: str) -> str | None:
    from sentimentops.tracking import registry
    from sentimentops.tracking.runs import FINGERPRINT_TAG

    return registry.find_version(settings.registry.model_name, FINGERPRINT_TAG, fingerprint)


@task(name="clean-texts", cache_policy=NO_CACHE)
def clean_split_texts(settings: Settings, splits: DatasetSplits, splits_dir: str) -> str:
    """Clean every split's texts once, for all the searches; kept beside the splits, named by
    the preprocessing settings, so a later run with the same ones reads them back."""
    digest = json_digest(settings.preprocessing.model_dump(mode="json"))[:16]
    path = Path(splits_dir) / f"cleaned-{digest}.parquet"
    if not path.exists():
        get_run_logger().info("cleaning the texts of every split")
        CleanTexts.of(splits, settings).write(path)
    return str(path)


@task(
    name="search-candidate",
    cache_key_fn=_fingerprint_key,
    persist_result=True,
    result_serializer=SkopsResultSerializer(),  # never pickle: the result may hold a model
)
def search_candidate(
    settings: Settings,
    family: ModelFamily,
    splits_dir: str,
    cleaned_texts: str,
    cache_dir: str | None,
    fingerprint: str,
) -> CandidateResult:
    """One family's grid search with CV, in the flow's process or on a Dask worker. Families
    searched with the same ``cache_dir`` featurise each fold once per feature configuration."""
    get_run_logger().info("searching %s", family)
    splits = DatasetSplits.read(
        Path(splits_dir), mode=settings.split.mode, seed=settings.split.seed
    )
    cleaned = CleanTexts.read(Path(cleaned_texts))
    return evaluate_candidate(family, splits, settings, cleaned=cleaned, cache_dir=cache_dir)


@task(
    name="choose-and-refit",
    cache_key_fn=_fingerprint_key,
    persist_result=True,
    result_serializer=SkopsResultSerializer(),  # never pickle: the result may hold a model
)
def choose_and_refit(
    settings: Settings,
    candidates: list[CandidateResult],
    splits: DatasetSplits,
    cleaned_texts: str,
    fingerprint: str,
) -> TrainingResult:
    """Runs in the flow's process, on the splits it already holds."""
    cleaned = CleanTexts.read(Path(cleaned_texts))
    return finish_training(
        candidates, splits, settings, cleaned=cleaned, progress=get_run_logger().info
    )


@task(name="register-and-gate", cache_policy=NO_CACHE)
def register_and_gate(
    result: TrainingResult, settings: Settings, data: TrainingData
) -> TrackedTraining:
    return track_and_gate(result, settings, data)


@flow(name="training")
def training_flow(
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    split: str | None = None,
    force: bool = False,
    extra_rows: str | None = None,
) -> TrainingFlowResult:
    """Train the candidates, register the best as challenger, promote it through the gate.

    Args:
        data: a dataset path or s3:// URI; None trains on the vendored IMDB data.
        sample: train on a stratified sample of this many rows.
        models: the families to search (default: all configured).
        split: random or official (default: ``split.mode``).
        force: train again even when these data and settings were trained before.
        extra_rows: a Parquet file of extra labelled rows (``review``, ``sentiment``) to add.
    """
    settings = with_families(with_split_mode(get_settings(), split), models)
    logger = get_run_logger()
    io = io_task_options(settings)
    storage = result_storage(settings)
    steps: dict[str, str] = {}
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
        return _reused_result(settings, existing, test_split, tracking_uri, laps.seconds)

    cleaned_texts = clean_split_texts(settings, prepared.splits, splits_dir)
    laps.lap("clean texts")
    search = search_candidate.with_options(
        result_storage=storage,
        timeout_seconds=settings.pipeline.training_timeout_seconds,
        refresh_cache=force,
    )
    digests = prepared.lineage["split_digests"]
    with _feature_cache(settings) as cache_dir:
        futures = {
            family: search.submit(
                _worker_settings(settings),
                family,
                splits_dir,
                cleaned_texts,
                cache_dir,
                candidate_fingerprint(settings, family, digests),
            )
            for family in settings.training.models
        }
        candidates = []
        for family, future in futures.items():
            candidates.append(future.result())
            steps[f"search {family}"] = state_label(future.state)
            laps.lap(f"search {family}")
    final_state = choose_and_refit.with_options(
        result_storage=storage,
        timeout_seconds=settings.pipeline.training_timeout_seconds,
        refresh_cache=force,
    )(settings, candidates, prepared.splits, cleaned_texts, fingerprint, return_state=True)
    result: TrainingResult = final_state.result()
    steps["choose and refit"] = state_label(final_state)
    laps.lap("choose and refit")

    tracked = register_and_gate.with_options(timeout_seconds=settings.pipeline.io_timeout_seconds)(
        result, settings, prepared
    )
    steps["register and gate"] = "ran"
    laps.lap("register and gate")
    verdict = "promoted to champion" if tracked.decision.promote else "champion kept"
    logger.info("version %s registered; %s: %s", tracked.version, verdict, tracked.decision.reason)
    if rows := tracked.decision.rows_summary():
        logger.info(rows)
    return TrainingFlowResult(
        model_name=tracked.model_name,
        version=tracked.version,
        champion=tracked.champion,
        promoted=tracked.decision.promote,
        reason=tracked.decision.reason,
        decision=tracked.decision.to_dict(),
        family=result.chosen.family,
        test_metrics=result.test_metrics,
        run_id=tracked.run_id,
        tracking_uri=tracking_uri,
        reused=False,
        test_split=test_split,
        steps=steps,
        seconds=laps.seconds,
    )


def configured_training_flow(settings: Settings) -> Any:
    """The training flow with the task runner its candidates need.

    On a Dask cluster (``training.dask_scheduler``) each candidate is searched on a worker.
    Locally, candidates are searched one after another in the flow's process, each search
    spreading its CV fits over ``training.n_jobs`` processes: never more busy processes than
    that, and families with the same features share the featurised folds.
    """
    if settings.training.dask_scheduler:
        from prefect_dask.task_runners import DaskTaskRunner

        runner: Any = DaskTaskRunner(address=settings.training.dask_scheduler)
    else:
        from prefect.task_runners import ThreadPoolTaskRunner

        runner = ThreadPoolTaskRunner(max_workers=1)
    return training_flow.with_options(task_runner=runner)


def run_training_flow(settings: Settings, **parameters: Any) -> TrainingFlowResult:
    """Run the training flow now (as a subflow when called from a flow)."""
    result: TrainingFlowResult = configured_training_flow(settings)(**parameters)
    return result


@contextlib.contextmanager
def _feature_cache(settings: Settings) -> Iterator[str | None]:
    """A folder for the fitted feature steps the searches share, removed after them; none on
    Dask, whose workers do not share this machine's disk."""
    if settings.training.dask_scheduler:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="sentimentops-features-") as folder:
        yield folder


def _worker_settings(settings: Settings) -> Settings:
    """The settings a candidate's search runs with where it runs: on Dask, a search uses its
    worker's own process (one that sent its folds back to the same cluster would wait on
    workers its siblings occupy); locally they are the flow's own."""
    training = settings.training
    if not training.dask_scheduler:
        return settings
    update: dict[str, Any] = {"dask_scheduler": None, "n_jobs": 1}
    return settings.model_copy(update={"training": training.model_copy(update=update)})


def _reused_result(
    settings: Settings,
    version: str,
    test_split: str,
    tracking_uri: str,
    seconds: dict[str, float],
) -> TrainingFlowResult:
    from sentimentops.tracking import registry

    name = settings.registry.model_name
    info = registry.version_info(name, version)
    return TrainingFlowResult(
        model_name=name,
        version=version,
        champion=registry.champion_version(name),
        promoted=registry.CHAMPION in info.aliases,
        reason="trained before on the same data and settings",
        decision={},
        family=info.tags.get("family", "unknown"),
        test_metrics={k.removeprefix("test_"): v for k, v in info.metrics.items()},
        run_id=info.run_id,
        tracking_uri=tracking_uri,
        reused=True,
        test_split=test_split,
        steps={"training": "reused"},
        seconds=seconds,
    )
