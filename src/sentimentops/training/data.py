"""What a training trains on: data loaded, validated, sampled, split and stored for the searches,
and the fingerprints of all a training depends on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sentimentops import __version__
from sentimentops.config import ModelFamily, Settings
from sentimentops.data.load import LABEL_COLUMN, TEXT_COLUMN, load_reference_dataset, load_reviews
from sentimentops.data.split import OFFICIAL_SPLIT_COLUMN, DatasetSplits, split_reviews
from sentimentops.data.validate import ValidationReport, validate_reviews
from sentimentops.data.version import json_digest
from sentimentops.errors import ConfigError, DataValidationError
from sentimentops.models.train import CleanTexts

__all__ = [
    "Progress",
    "TrainingData",
    "candidate_fingerprint",
    "labelled_feedback",
    "prepare_training_data",
    "store_clean_texts",
    "store_splits",
    "stratified_sample",
    "training_fingerprint",
    "with_split_mode",
]

# More rows quarantined than this share, and the file itself is wrong (a wrong column, wrong
# labels): a model trained on the rest would mislead.
MAX_QUARANTINE_SHARE = 0.05

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingData:
    """Validated, split data and where it came from."""

    splits: DatasetSplits
    validation: ValidationReport
    lineage: dict[str, Any]


def stratified_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows with the label shares of ``frame``, in the original order."""
    if rows >= len(frame):
        return frame
    sample = frame.groupby("sentiment", group_keys=False).sample(
        frac=rows / len(frame), random_state=seed
    )
    return sample.sort_index()


def with_split_mode(settings: Settings, mode: str | None) -> Settings:
    """``settings`` splitting in ``mode`` (random or official; None: unchanged); ConfigError for
    another mode."""
    if mode is None:
        return settings
    if mode not in ("random", "official"):
        raise ConfigError(f"The split must be random or official, not {mode!r}.")
    return settings.model_copy(update={"split": settings.split.model_copy(update={"mode": mode})})


def prepare_training_data(
    settings: Settings,
    *,
    data: str | None = None,
    sample: int | None = None,
    extra: pd.DataFrame | None = None,
    progress: Progress = lambda _message: None,
) -> TrainingData:
    """Load (the vendored data by default), add ``extra`` labelled rows, validate, sample, split;
    DataValidationError when the data fails validation."""
    progress("loading data")
    if data is None:
        frame, reference = load_reference_dataset(settings.data)
        source = str(reference)
    else:
        source, text, label = data, settings.data.text_column, settings.data.label_column
        frame = load_reviews(data, text_column=text, label_column=label)
    if extra is not None and not extra.empty:
        source = f"{source} + {len(extra):,} labelled feedback rows"
        frame = _with_extra_rows(frame, extra)
    progress(f"validating {len(frame):,} rows")
    validation = validate_reviews(frame, settings.validation, source=source)
    report = validation.report
    _require_trainable(report)
    if report.quarantined_rows:  # up to MAX_QUARANTINE_SHARE: left out, and said so
        from sentimentops.storage import Location  # fsspec: only when needed

        stem = Location(str(data or settings.data.reference_path)).stem or "dataset"
        path = settings.state_path("quarantine", f"{stem}.quarantine.csv")
        message = (
            f"{report.quarantined_rows:,} of {report.rows:,} rows failed validation and are "
            f"left out of training; they and the reasons are in {validation.write_quarantine(path)}"
        )
        log.warning(message)
        progress(message)
    valid = validation.valid
    if sample is not None:
        if sample >= len(valid):
            message = f"a sample of {sample:,} rows asked for, {len(valid):,} valid: all are used"
            log.warning(message)
            progress(message)
        valid = stratified_sample(valid, sample, settings.split.seed)
    progress(f"splitting ({settings.split.mode})")
    splits = split_reviews(valid, settings.split)
    lineage: dict[str, Any] = {
        "source": source,
        "source_digest": report.digest,
        "sample_rows": sample,
        "split_mode": splits.mode,
        "split_seed": splits.seed,
        "split_digests": splits.digests(),
    }
    lineage["training_fingerprint"] = training_fingerprint(settings, lineage["split_digests"])
    return TrainingData(splits, report, lineage)


def candidate_fingerprint(
    settings: Settings, family: ModelFamily, split_digests: dict[str, str]
) -> str:
    """What one candidate's search depends on: its family, the splits and the settings that
    shape features and search. Equal fingerprints give the same candidate (same seeds)."""
    candidate = settings.training.candidates.get(family)
    return json_digest(
        _shaped_by(settings, split_digests)
        | {
            "family": family,
            "candidate": candidate.model_dump(mode="json") if candidate else None,
            "search": settings.training.search,
            "cv_folds": settings.training.cv_folds,
            "seed": settings.training.seed,
            # Without a refit the stored candidate must keep its fitted model (training/job.py).
            "refit_on_validation": settings.training.refit_on_validation,
        }
    )


def training_fingerprint(settings: Settings, split_digests: dict[str, str]) -> str:
    """What a whole training depends on: every candidate, the choice and the final refit.
    Where it runs (n_jobs, a Dask scheduler) is left out: it does not change the model."""
    training = settings.training.model_dump(mode="json", exclude={"n_jobs", "dask_scheduler"})
    reference_rows = settings.registry.reference_sample_rows
    return json_digest(
        _shaped_by(settings, split_digests)
        | {"training": training, "reference_sample_rows": reference_rows}
    )


def _shaped_by(settings: Settings, split_digests: dict[str, str]) -> dict[str, Any]:
    """What every model depends on: the splits, text cleaning, features and this package."""
    return {
        "splits": split_digests,
        "preprocessing": settings.preprocessing.model_dump(mode="json"),
        "features": settings.features.model_dump(mode="json"),
        "package": __version__,
    }


def store_splits(data: TrainingData, settings: Settings) -> str:
    """The folder of ``data``'s splits as Parquet, named by their digests and written once, for
    any process to read (a search on a Dask worker)."""
    name = json_digest(data.lineage["split_digests"])[:16]
    folder = settings.state_path("splits", f"{data.splits.mode}-{name}")
    if not (folder / "test.parquet").exists():
        data.splits.write(folder)
    return str(folder)


def store_clean_texts(
    settings: Settings,
    splits: DatasetSplits,
    splits_dir: str,
    progress: Progress = lambda _message: None,
) -> str:
    """Every split's texts cleaned, for all the searches: a Parquet file beside the splits,
    named by the preprocessing settings, so a later run with the same ones reads it back."""
    digest = json_digest(settings.preprocessing.model_dump(mode="json"))[:16]
    path = Path(splits_dir) / f"cleaned-{digest}.parquet"
    if not path.exists():
        progress("cleaning the texts of every split")
        CleanTexts.of(splits, settings).write(path)
    return str(path)


def labelled_feedback(settings: Settings, progress: Progress = lambda _message: None) -> str | None:
    """The texts of the prediction log with a feedback label, as a Parquet file of extra rows
    (``review``, ``sentiment``) for :func:`prepare_training_data`; None when there are none."""
    from sentimentops.prediction_log import open_store

    store = open_store(settings)
    try:
        rows = store.labelled_texts()
    finally:
        store.dispose()
    if rows.empty:
        progress("no labelled feedback in the prediction log")
        return None
    path = settings.state_path("feedback", f"feedback-{datetime.now():%Y%m%d-%H%M%S-%f}.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(path, index=False)
    progress(f"{len(rows)} labelled feedback rows join the training data")
    return str(path)


def _with_extra_rows(frame: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the text and label of ``extra``; with the official split they join its
    train side, so the published test set stays the yardstick."""
    rows = extra[[TEXT_COLUMN, LABEL_COLUMN]]
    if OFFICIAL_SPLIT_COLUMN in frame.columns:
        rows = rows.assign(**{OFFICIAL_SPLIT_COLUMN: "train"})
    return pd.concat([frame, rows], ignore_index=True)


def _require_trainable(report: ValidationReport) -> None:
    problems = []
    if report.rows and report.quarantined_rows / report.rows > MAX_QUARANTINE_SHARE:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in report.quarantine_reasons.items())
        problems.append(
            f"{report.quarantined_rows:,} of {report.rows:,} rows quarantined "
            f"(more than {MAX_QUARANTINE_SHARE:.0%}): {reasons}"
        )
    if not report.label_counts or min(report.label_counts.values()) == 0:
        problems.append(f"both labels are needed, found {report.label_counts or 'none'}")
    if problems:
        raise DataValidationError(
            f"{report.source} fails validation, training stopped: {'; '.join(problems)}. "
            "Run `sentimentops data validate` for the full report.",
            report.to_dict(),
        )
