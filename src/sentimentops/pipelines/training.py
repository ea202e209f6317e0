"""The training job: data → validation → split → candidates → tracking, registry and gate.

A plain function so the CLI, tests and (later) a Prefect flow run the same steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sentimentops.config import ModelFamily, Settings
from sentimentops.data.load import load_reviews, load_verified_parquet
from sentimentops.data.split import split_reviews
from sentimentops.data.validate import ValidationReport, validate_reviews
from sentimentops.errors import DataValidationError
from sentimentops.models.train import TrainingResult, train_models
from sentimentops.tracking.runs import TrackedTraining  # imports MLflow lazily, inside functions

__all__ = ["TrainingOutcome", "run_training", "stratified_sample"]

# Training refuses data where more than this share of rows had to be quarantined: something
# is wrong with the file (wrong column, wrong labels), and a model on the rest would mislead.
MAX_QUARANTINE_SHARE = 0.05


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


def run_training(
    settings: Settings,
    *,
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingOutcome:
    """Train, track, register and gate; returns everything the caller wants to show.

    Raises:
        TrackingUnavailableError: before any training, when the tracking store does not answer.
        DataValidationError: the data fails validation (the message holds the summary).
    """
    from sentimentops.tracking.runs import track_training
    from sentimentops.tracking.store import connect

    report = progress or (lambda _message: None)
    if models:
        settings = settings.model_copy(
            update={"training": settings.training.model_copy(update={"models": models})}
        )
    report("connecting to the tracking store")
    uri = connect(settings)  # fail fast: before minutes of training

    report("loading data")
    if data is None:
        source = str(settings.data.reference_path)
        frame = load_verified_parquet(
            settings.data.reference_path, settings.data.reference_sha256_path
        )
    else:
        source = data
        frame = load_reviews(
            data, text_column=settings.data.text_column, label_column=settings.data.label_column
        )
    report(f"validating {len(frame):,} rows")
    validation = validate_reviews(frame, settings.validation, source=source)
    _require_trainable(validation.report)
    valid = validation.valid
    if sample is not None:
        valid = stratified_sample(valid, sample, settings.split.seed)
    report(f"splitting ({settings.split.mode})")
    splits = split_reviews(valid, settings.split)
    result = train_models(splits, settings, progress=report)
    lineage = {
        "source": source,
        "source_digest": validation.report.digest,
        "sample_rows": sample,
        "split_mode": splits.mode,
        "split_seed": splits.seed,
        "split_digests": splits.digests(),
    }
    report("logging to MLflow and applying the promotion gate")
    tracked = track_training(
        result, settings, lineage=lineage, data_quality=validation.report.to_dict()
    )
    return TrainingOutcome(result, tracked, validation.report, uri)


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
