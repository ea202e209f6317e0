"""The training job: data → validation → split → candidates → tracking, registry and gate.

Plain functions, one per step, so the ``train`` command runs them in a row (:func:`run_training`)
and the Prefect ``training`` flow runs the same steps as tasks, cached and in parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sentimentops import __version__
from sentimentops.config import ModelFamily, Settings
from sentimentops.data.load import LABEL_COLUMN, TEXT_COLUMN, load_reference_dataset, load_reviews
from sentimentops.data.split import OFFICIAL_SPLIT_COLUMN, DatasetSplits, split_reviews
from sentimentops.data.validate import ValidationReport, validate_reviews
from sentimentops.data.version import json_digest
from sentimentops.errors import ConfigError, DataValidationError
from sentimentops.models.train import TrainingResult, train_models
from sentimentops.tracking.runs import TrackedTraining  # imports MLflow lazily, inside functions

__all__ = [
    "TrainingData",
    "TrainingOutcome",
    "candidate_fingerprint",
    "prepare_training_data",
    "run_training",
    "stratified_sample",
    "track_and_gate",
    "training_fingerprint",
    "with_families",
    "with_split_mode",
]

# Training refuses data where more than this share of rows had to be quarantined: something
# is wrong with the file (wrong column, wrong labels), and a model on the rest would mislead.
MAX_QUARANTINE_SHARE = 0.05

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingData:
    """Validated, split data and where it came from."""

    splits: DatasetSplits
    validation: ValidationReport
    lineage: dict[str, Any]


@dataclass(frozen=True)
class TrainingOutcome:
    training: TrainingResult
    tracked: TrackedTraining
    validation: ValidationReport
    tracking_uri: str


def stratified_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows with the label shares of ``frame``, in the original order."""
    if rows >= len(frame):
        return frame
    share = rows / len(frame)
    sample = frame.groupby("sentiment", group_keys=False).sample(frac=share, random_state=seed)
    return sample.sort_index()


def with_split_mode(settings: Settings, mode: str | None) -> Settings:
    """``settings`` splitting in ``mode`` (random or official); unchanged when None.

    Raises:
        ConfigError: an unknown mode.
    """
    if mode is None:
        return settings
    if mode not in ("random", "official"):
        raise ConfigError(f"The split must be random or official, not {mode!r}.")
    return settings.model_copy(update={"split": settings.split.model_copy(update={"mode": mode})})


def with_families(settings: Settings, models: list[ModelFamily] | None) -> Settings:
    """``settings`` training only ``models`` (all configured families when None or empty)."""
    if not models:
        return settings
    return settings.model_copy(
        update={"training": settings.training.model_copy(update={"models": models})}
    )


def prepare_training_data(
    settings: Settings,
    *,
    data: str | None = None,
    sample: int | None = None,
    extra: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> TrainingData:
    """Load (the vendored data by default), add ``extra`` labelled rows, validate, sample, split.

    Raises:
        DataValidationError: the data fails validation (the message holds the summary).
    """
    report = progress or (lambda _message: None)
    report("loading data")
    if data is None:
        frame, reference = load_reference_dataset(settings.data)
        source = str(reference)
    else:
        source = data
        frame = load_reviews(
            data, text_column=settings.data.text_column, label_column=settings.data.label_column
        )
    if extra is not None and not extra.empty:
        source = f"{source} + {len(extra):,} labelled feedback rows"
        frame = _with_extra_rows(frame, extra)
    report(f"validating {len(frame):,} rows")
    validation = validate_reviews(frame, settings.validation, source=source)
    _require_trainable(validation.report)
    if validation.report.quarantined_rows:  # up to MAX_QUARANTINE_SHARE: left out, not silently
        from sentimentops.storage import Location

        stem = Location(data or settings.data.reference_path).stem or "dataset"
        quarantine = validation.write_quarantine(
            settings.state_path("quarantine", f"{stem}.quarantine.csv")
        )
        message = (
            f"{validation.report.quarantined_rows:,} of {validation.report.rows:,} rows failed "
            f"validation and are left out of training; they and the reasons are in {quarantine}"
        )
        log.warning(message)
        report(message)
    valid = validation.valid
    if sample is not None:
        valid = stratified_sample(valid, sample, settings.split.seed)
    report(f"splitting ({settings.split.mode})")
    splits = split_reviews(valid, settings.split)
    lineage: dict[str, Any] = {
        "source": source,
        "source_digest": validation.report.digest,
        "sample_rows": sample,
        "split_mode": splits.mode,
        "split_seed": splits.seed,
        "split_digests": splits.digests(),
    }
    lineage["training_fingerprint"] = training_fingerprint(settings, lineage["split_digests"])
    return TrainingData(splits, validation.report, lineage)


def candidate_fingerprint(
    settings: Settings, family: ModelFamily, split_digests: dict[str, str]
) -> str:
    """What one candidate's search depends on: its family, the splits and the settings that
    shape features and search. Equal fingerprints give the same candidate (same seeds)."""
    candidate = settings.training.candidates.get(family)
    return json_digest(
        {
            "family": family,
            "splits": split_digests,
            "preprocessing": settings.preprocessing.model_dump(mode="json"),
            "features": settings.features.model_dump(mode="json"),
            "candidate": candidate.model_dump(mode="json") if candidate else None,
            "search": settings.training.search,
            "cv_folds": settings.training.cv_folds,
            "seed": settings.training.seed,
            "package": __version__,
        }
    )


def training_fingerprint(settings: Settings, split_digests: dict[str, str]) -> str:
    """What a whole training depends on: every candidate, the choice and the final refit.
    Where to run it (n_jobs, a Dask scheduler) is left out: it does not change the model."""
    training = settings.training.model_dump(mode="json", exclude={"n_jobs", "dask_scheduler"})
    return json_digest(
        {
            "splits": split_digests,
            "preprocessing": settings.preprocessing.model_dump(mode="json"),
            "features": settings.features.model_dump(mode="json"),
            "training": training,
            "reference_sample_rows": settings.registry.reference_sample_rows,
            "package": __version__,
        }
    )


def track_and_gate(
    result: TrainingResult, settings: Settings, data: TrainingData
) -> TrackedTraining:
    """Log to MLflow, register as challenger, and promote only through the gate."""
    from sentimentops.tracking.runs import track_training

    return track_training(
        result, settings, lineage=data.lineage, data_quality=data.validation.to_dict()
    )


def run_training(
    settings: Settings,
    *,
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    progress: Progress | None = None,
) -> TrainingOutcome:
    """Train, track, register and gate, one step after another; returns what to show.

    Raises:
        TrackingUnavailableError: before any training, when the tracking store does not answer.
        DataValidationError: the data fails validation (the message holds the summary).
    """
    from sentimentops.tracking.store import connect

    report = progress or (lambda _message: None)
    settings = with_families(settings, models)
    report("connecting to the tracking store")
    uri = connect(settings)  # fail fast: before minutes of training
    prepared = prepare_training_data(settings, data=data, sample=sample, progress=report)
    result = train_models(prepared.splits, settings, progress=report)
    report("logging to MLflow and applying the promotion gate")
    tracked = track_and_gate(result, settings, prepared)
    return TrainingOutcome(result, tracked, prepared.validation, uri)


def _with_extra_rows(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the text and label of ``extra``. New labels are training material: with
    the official split they join its train side, so the published test set stays the yardstick."""
    rows = extra[[TEXT_COLUMN, LABEL_COLUMN]]
    if OFFICIAL_SPLIT_COLUMN in frame.columns:
        rows = rows.assign(**{OFFICIAL_SPLIT_COLUMN: "train"})
    return pd.concat([frame, rows], ignore_index=True)


def _require_trainable(report: ValidationReport) -> None:
    problems = []
    if report.rows and report.quarantined_rows / report.rows > MAX_QUARANTINE_SHARE:
        problems.append(
            f"{report.quarantined_rows:,} of {report.rows:,} rows quarantined "
            f"(more than {MAX_QUARANTINE_SHARE:.0%}): "
            + ", ".join(
                f"{reason} ({count})" for reason, count in report.quarantine_reasons.items()
            )
        )
    if not report.label_counts or min(report.label_counts.values()) == 0:
        problems.append(f"both labels are needed, found {report.label_counts or 'none'}")
    if problems:
        raise DataValidationError(
            f"{report.source} fails validation, training stopped: "
            + "; ".join(problems)
            + ". Run `sentimentops data validate` for the full report.",
            report.to_dict(),
        )
