"""The training job: search, choose and refit, track, register and gate; run in a row by
:func:`run_training` (``train``) or as the ``training`` flow's tasks."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.base import clone

from sentimentops.config import ModelFamily, Settings
from sentimentops.data.split import DatasetSplits
from sentimentops.data.validate import ValidationReport
from sentimentops.models.train import (
    CandidateResult,
    CleanTexts,
    TrainingResult,
    evaluate_candidate,
    finish_training,
    train_models,
)
from sentimentops.tracking.runs import TrackedTraining  # imports MLflow lazily, inside functions
from sentimentops.training.data import Progress, TrainingData, prepare_training_data

__all__ = [
    "TrainingOutcome",
    "TrainingSummary",
    "champion_version",
    "feature_cache",
    "refit_best",
    "registered_version",
    "run_training",
    "search_settings",
    "search_stored",
    "track_and_gate",
    "with_families",
]


@dataclass(frozen=True)
class TrainingOutcome:
    """What :func:`run_training` did, for the ``train`` command to show."""

    training: TrainingResult
    tracked: TrackedTraining
    validation: ValidationReport
    tracking_uri: str


@dataclass(frozen=True)
class TrainingSummary:
    """What a training produced (or found registered), for flows and their summaries."""

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

    @classmethod
    def of(
        cls,
        result: TrainingResult,
        tracked: TrackedTraining,
        tracking_uri: str,
        test_split: str,
        steps: dict[str, str],
        seconds: dict[str, float],
    ) -> TrainingSummary:
        """The summary of a training just tracked; ``steps`` and ``seconds`` by step."""
        return cls(
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
            seconds=seconds,
        )

    @classmethod
    def registered(
        cls,
        settings: Settings,
        version: str,
        tracking_uri: str,
        test_split: str,
        seconds: dict[str, float],
    ) -> TrainingSummary:
        """The summary of ``version``, trained before on the same data and settings."""
        from sentimentops.tracking import registry

        name = settings.registry.model_name
        info = registry.version_info(name, version)
        return cls(
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

    def describe(self, champion_before: str | None) -> str:
        """The outcome of a retraining, for a person: the gate's numbers."""
        if self.reused:
            return (
                f"Retraining found version {self.version} already trained on the same data and "
                f"settings; champion stays version {self.champion}. Add new labelled data "
                "(feedback, pipeline.retraining_data) for a different model."
            )
        gate = self.decision
        numbers = f"challenger version {self.version} accuracy {gate['challenger_accuracy']:.4f}"
        if gate.get("champion_accuracy") is not None:
            numbers += (
                f" vs champion version {champion_before} {gate['champion_accuracy']:.4f} on "
                f"{gate['compared_rows']:,} test rows ({gate['left_out_rows']:,} left out: the "
                "champion was trained on them)"
            )
        if self.champion != champion_before:
            return f"Promoted: {numbers}; {self.reason}. Champion is now version {self.champion}."
        return f"Champion kept (version {champion_before}): {numbers}; {self.reason}."

    def notification(self, champion_before: str | None) -> dict[str, Any]:
        """The champions before and after, the challenger and the gate's numbers."""
        return {
            "champion_before": champion_before,
            "champion_after": self.champion,
            "challenger": {
                "version": self.version,
                "family": self.family,
                "test_metrics": self.test_metrics,
            },
            "gate": self.decision,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON-ready values."""
        return dataclasses.asdict(self)


def with_families(settings: Settings, models: list[ModelFamily] | None) -> Settings:
    """``settings`` training only ``models`` (all configured families when None or empty)."""
    if not models:
        return settings
    return settings.model_copy(
        update={"training": settings.training.model_copy(update={"models": models})}
    )


def search_settings(settings: Settings) -> Settings:
    """The settings a search runs with: the flow's own locally, one process per search on Dask
    (docs/decisions.md, Training)."""
    if not settings.training.dask_scheduler:
        return settings
    update: dict[str, Any] = {"dask_scheduler": None, "n_jobs": 1}
    return settings.model_copy(update={"training": settings.training.model_copy(update=update)})


@contextlib.contextmanager
def feature_cache(settings: Settings) -> Iterator[str | None]:
    """A folder for the fitted feature steps the searches share, removed after them; none on
    Dask, whose workers do not share this machine's disk."""
    if settings.training.dask_scheduler:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="sentimentops-features-") as folder:
        yield folder


def search_stored(
    settings: Settings,
    family: ModelFamily,
    splits_dir: str,
    cleaned_texts: str,
    cache_dir: str | None,
) -> CandidateResult:
    """One family's grid search with CV on the stored splits and cleaned texts; families
    searched with the same ``cache_dir`` featurise each fold once per feature configuration."""
    split = settings.split
    splits = DatasetSplits.read(Path(splits_dir), mode=split.mode, seed=split.seed)
    cleaned = CleanTexts.read(Path(cleaned_texts))
    result = evaluate_candidate(family, splits, settings, cleaned=cleaned, cache_dir=cache_dir)
    if settings.training.refit_on_validation:
        # The choice is refit from its parameters: the fitted model would only be stored, 100 MB
        # of it for the NB trigrams, written at each search and kept in the cache.
        result = dataclasses.replace(result, model=clone(result.model))
    return result


def refit_best(
    settings: Settings,
    candidates: list[CandidateResult],
    splits: DatasetSplits,
    cleaned_texts: str,
    progress: Progress = lambda _message: None,
) -> TrainingResult:
    """Choose the best candidate, refit it and evaluate it once on test."""
    cleaned = CleanTexts.read(Path(cleaned_texts))
    return finish_training(candidates, splits, settings, cleaned=cleaned, progress=progress)


def track_and_gate(
    result: TrainingResult, settings: Settings, data: TrainingData
) -> TrackedTraining:
    """Log to MLflow, register as challenger, and promote only through the gate."""
    from sentimentops.tracking.runs import track_training

    quality = data.validation.to_dict()
    return track_training(result, settings, lineage=data.lineage, data_quality=quality)


def registered_version(settings: Settings, fingerprint: str) -> str | None:
    """The registered version trained with this training fingerprint, if any."""
    from sentimentops.tracking import registry
    from sentimentops.tracking.runs import FINGERPRINT_TAG

    return registry.find_version(settings.registry.model_name, FINGERPRINT_TAG, fingerprint)


def champion_version(settings: Settings) -> str | None:
    """The champion's version now (None without one); TrackingUnavailableError when the
    tracking store does not answer."""
    from sentimentops.tracking import registry
    from sentimentops.tracking.store import connect

    connect(settings)
    return registry.champion_version(settings.registry.model_name)


def run_training(
    settings: Settings,
    *,
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    progress: Progress = lambda _message: None,
) -> TrainingOutcome:
    """Train, track, register and gate, one step after another. Raises
    TrackingUnavailableError (before any training) or DataValidationError."""
    from sentimentops.tracking.store import connect

    settings = with_families(settings, models)
    progress("connecting to the tracking store")
    uri = connect(settings)  # fail fast: before minutes of training
    prepared = prepare_training_data(settings, data=data, sample=sample, progress=progress)
    result = train_models(prepared.splits, settings, progress=progress)
    progress("logging to MLflow and applying the promotion gate")
    tracked = track_and_gate(result, settings, prepared)
    return TrainingOutcome(result, tracked, prepared.validation, uri)
