"""One monitoring run: sample, score, describe, drift, accuracy (measured or estimated), alerts,
``summary.json`` and ``report.html``; recording it is the caller's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from sentimentops.config import Settings
from sentimentops.data.load import LABEL_COLUMN, TEXT_COLUMN
from sentimentops.errors import BadInputError
from sentimentops.monitoring.alerts import evaluate_alerts
from sentimentops.monitoring.checks import Check, judge_checks
from sentimentops.monitoring.current import CurrentData, without_missing_texts
from sentimentops.monitoring.descriptors import describe_frame, training_unigrams
from sentimentops.monitoring.drift import MIN_TEXT_DRIFT_ROWS, compare_drift
from sentimentops.monitoring.estimation import ScoreCalibrator, estimate_accuracy
from sentimentops.monitoring.evidently_process import in_evidently
from sentimentops.monitoring.performance import classification_performance, classification_quality
from sentimentops.monitoring.report_page import rewrite_summary, write_report
from sentimentops.monitoring.results import Alert, MonitoringMetrics
from sentimentops.storage import write_atomically
from sentimentops.tracking.loading import LoadedModel

__all__ = [
    "MonitoringOutcome",
    "Progress",
    "empty_outcome",
    "run_monitoring",
    "sample_rows",
    "with_note",
]

# A reference too small for the text-drift test is too small to compare anything against.
MIN_REFERENCE_ROWS: Final = MIN_TEXT_DRIFT_ROWS

# Told each step as it starts ("computing drift"), for a status line: a run takes minutes.
Progress = Callable[[str], None]


def _no_progress(_step: str) -> None:
    return None


@dataclass(frozen=True)
class MonitoringOutcome:
    """What a run measured and judged, where its report is, and the notes and problems met."""

    metrics: MonitoringMetrics
    alerts: list[Alert]
    checks: list[Check]  # each measurement against its limit, with its status
    output_dir: Path
    summary_path: Path
    report_path: Path | None  # report.html: the summary, then Evidently's drift details
    model_name: str
    model_version: str
    source: str
    started_at: datetime
    seconds: float
    notes: list[str] = field(default_factory=list)  # what could not be measured, and why
    delivery_problems: list[str] = field(default_factory=list)  # alerts that did not arrive
    published: str | None = None  # the S3 folder the report and summary were copied to

    @property
    def verdict(self) -> Literal["ok", "alert"]:
        """``alert`` when any alert fired."""
        return "alert" if self.alerts else "ok"

    @property
    def report_location(self) -> str:
        """Where to read the report: the published copy, else the local HTML (or summary)."""
        local = self.report_path or self.summary_path
        return f"{self.published}/{local.name}" if self.published else str(local)

    def to_dict(self) -> dict[str, Any]:
        """``summary.json``'s content."""
        return {
            "verdict": self.verdict,
            "source": self.source,
            "model": {"name": self.model_name, "version": self.model_version},
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 2),
            "alerts": [alert.__dict__ for alert in self.alerts],
            "checks": [check.to_dict() for check in self.checks],
            "metrics": self.metrics.to_dict(),
            "report": str(self.report_path) if self.report_path else None,
            "notes": self.notes,
        }


def with_note(outcome: MonitoringOutcome, note: str) -> MonitoringOutcome:
    """``outcome`` with ``note`` added, in its written summary.json and report too."""
    noted = replace(outcome, notes=[*outcome.notes, note])
    if noted.summary_path.is_file():
        _write_summary(noted)
    if noted.report_path is not None and noted.report_path.is_file():
        rewrite_summary(noted)
    return noted


def _write_summary(outcome: MonitoringOutcome) -> None:
    text = json.dumps(outcome.to_dict(), indent=2, default=str) + "\n"
    write_atomically(outcome.summary_path, lambda path: path.write_text(text, "utf-8"))


def sample_rows(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows, drawn without replacement with ``seed``, in their original order."""
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    chosen = np.sort(np.random.default_rng(seed).choice(len(frame), size=limit, replace=False))
    return frame.iloc[chosen].reset_index(drop=True)


def run_monitoring(
    current: CurrentData,
    model: LoadedModel,
    settings: Settings,
    *,
    reference: pd.DataFrame | None = None,
    output_dir: Path,
    progress: Progress = _no_progress,
) -> MonitoringOutcome:
    """Measure ``current`` against ``reference`` (default: the model's sample), telling
    ``progress`` each step; BadInputError without a reference or anything to measure."""
    return _judged(
        current,
        model,
        settings,
        output_dir,
        lambda: _measured(
            current, model, settings, reference, output_dir / DRIFT_DETAILS, progress
        ),
    )


def empty_outcome(
    current: CurrentData, model: LoadedModel, settings: Settings, *, output_dir: Path
) -> MonitoringOutcome:
    """The verdict on current data without rows: only the volume is judged, no drift details."""
    reference_rows = 0 if model.reference is None else len(model.reference)
    metrics = MonitoringMetrics(
        rows=0,
        reference_rows=min(reference_rows, settings.monitoring.sample_rows),
        reference_accuracy=model.test_accuracy,
        reject_rate=current.reject_rate,
    )
    note = "no rows in the current data: drift, accuracy and estimated accuracy not measurable"
    return _judged(
        current, model, settings, output_dir, lambda: (metrics, None, [*current.notes, note])
    )


_Measured = tuple[MonitoringMetrics, Path | None, list[str]]  # metrics, Evidently's HTML, notes
# Evidently's page, written first, then copied into report.html under the summary: a run cut
# short leaves no report.html that looks finished.
DRIFT_DETAILS: Final = ".drift-details.html"


def _judged(
    current: CurrentData,
    model: LoadedModel,
    settings: Settings,
    output_dir: Path,
    measure: Callable[[], _Measured],
) -> MonitoringOutcome:
    started_at, started = datetime.now(UTC), time.perf_counter()
    metrics, details, notes = measure()
    output_dir.mkdir(parents=True, exist_ok=True)
    alerts = evaluate_alerts(metrics, settings.monitoring.alerts)
    outcome = MonitoringOutcome(
        metrics=metrics,
        alerts=alerts,
        checks=judge_checks(metrics, alerts, settings.monitoring.alerts),
        output_dir=output_dir,
        summary_path=output_dir / "summary.json",
        report_path=output_dir / "report.html",
        model_name=model.name,
        model_version=model.version,
        source=current.source,
        started_at=started_at,
        seconds=time.perf_counter() - started,
        notes=notes,
    )
    _write_summary(outcome)
    write_report(outcome, details)
    return outcome


def _measured(
    current: CurrentData,
    model: LoadedModel,
    settings: Settings,
    reference: pd.DataFrame | None,
    details_path: Path,
    progress: Progress,
) -> _Measured:
    config = settings.monitoring
    notes: list[str] = list(current.notes)
    reference = reference if reference is not None else model.reference
    if reference is None:
        raise BadInputError(
            f"{model.name} has no reference sample (a local model folder, or a model trained "
            "before reference samples existed): pass --reference with held-out labelled reviews."
        )
    if LABEL_COLUMN not in reference.columns or reference[LABEL_COLUMN].isna().all():
        raise BadInputError(
            "The reference has no labels: it must be held-out reviews with their true sentiment "
            "(they calibrate the accuracy estimate). Name the label column with --label-column."
        )
    reference, reference_blank, reference_other = without_missing_texts(reference)
    if reference_blank:
        notes.append(
            f"{reference_blank:,} reference rows without review text (missing or blank) left out"
        )
    if reference_other:
        notes.append(f"{reference_other:,} reference rows whose review is not text left out")
    if len(reference) < MIN_REFERENCE_ROWS:
        raise BadInputError(
            f"Too few reference rows with review text to compare against: {len(reference):,}, "
            f"where at least {MIN_REFERENCE_ROWS} are needed. Pass --reference with more "
            "held-out labelled reviews."
        )
    # A file read in chunks holds its rows with text (or a sample of them), the rest counted.
    current_frame, counted = current.with_texts()
    if counted.blank:
        notes.append(
            f"{counted.blank:,} of {counted.rows:,} current rows without review text "
            "(missing or blank) left out: neither scored nor described"
        )
    if counted.not_text:
        notes.append(
            f"{counted.not_text:,} of {counted.rows:,} current rows whose review is not text "
            "(a number, say) left out: neither scored nor described"
        )
    if current_frame.empty:
        raise BadInputError(
            f"Every review text in {current.source} is missing or blank"
            f"{', or not text' if counted.not_text else ''}: there is nothing to monitor. Check "
            "the file, or name the text column with --text-column."
        )
    reference = _with_predictions(
        sample_rows(reference, config.sample_rows, config.seed), model, "reference", progress
    )
    frame = _with_predictions(
        sample_rows(current_frame, config.sample_rows, config.seed), model, "current", progress
    )
    text_column = TEXT_COLUMN if TEXT_COLUMN in frame.columns else None
    if text_column:
        from sentimentops.tracking.flavor import CHECKSUM_KEY  # imported with the model already

        vocabulary = training_unigrams(model.pipeline)
        model_sha256 = model.tags.get(CHECKSUM_KEY)  # a registry version's: names its vocabulary
        cache = (
            (settings.state_path("cache", "descriptors"), model_sha256) if model_sha256 else None
        )
        reference = describe_frame(reference, text_column, vocabulary, cache=cache)
        frame = describe_frame(frame, text_column, vocabulary)
    else:
        notes.append("no review text in the current data: text and descriptor drift skipped")
    # Evidently's work runs in its own process when there is one: measure meanwhile.
    pending_drift = in_evidently(
        compare_drift,
        reference,
        frame,
        text_column=text_column,
        settings=config,
        html_path=details_path,
    )

    performance: dict[str, Any] = {}
    quality = None
    labelled = int(frame[LABEL_COLUMN].notna().sum()) if LABEL_COLUMN in frame.columns else 0
    if labelled >= config.alerts.min_labelled_rows:
        progress(f"measuring accuracy on {labelled:,} labelled rows")
        performance = classification_performance(
            frame[LABEL_COLUMN], frame["label"], frame["score"]
        )
        texts = frame[text_column].astype(str).tolist() if text_column else None
        quality = classification_quality(frame[LABEL_COLUMN], frame["label"], frame["score"], texts)
    elif labelled:
        notes.append(
            f"only {labelled} labelled rows (fewer than alerts.min_labelled_rows, "
            f"{config.alerts.min_labelled_rows}): real accuracy not judged"
        )
    else:
        notes.append("no labels in the current data: real accuracy not measured")

    progress("estimating accuracy from the model's confidence")
    calibrator = ScoreCalibrator().fit(reference["score"], reference[LABEL_COLUMN])
    if calibrator.method == "identity":
        notes.append("reference too small or one-sided to calibrate: estimate uses raw scores")
    estimated_accuracy = estimate_accuracy(
        frame["score"].to_numpy(), calibrator, confidence_level=config.confidence_level
    )
    progress(
        f"computing drift of {len(frame):,} current against {len(reference):,} reference rows "
        "and writing the HTML report (Evidently)"
    )
    drift = pending_drift.result()
    if text_column and drift.text is None:
        notes.append(
            f"text drift not measured: {len(frame):,} current and {len(reference):,} reference "
            "rows are too few for the domain classifier (it trains on one half, tests on the other)"
        )
    metrics = MonitoringMetrics(
        rows=counted.texts,  # every row with text, not the sample's
        reference_rows=len(reference),
        text_drift=drift.text,
        descriptor_drift=drift.descriptors,
        prediction_drift=drift.predictions,
        labelled_rows=labelled,
        accuracy=performance.get("accuracy"),
        f1=performance.get("f1"),
        roc_auc=performance.get("roc_auc"),
        estimated_accuracy=estimated_accuracy,
        reference_accuracy=model.test_accuracy,
        reject_rate=current.reject_rate,
        quality=quality,
    )
    return metrics, details_path, notes


def _with_predictions(
    frame: pd.DataFrame, model: LoadedModel, side: str, progress: Progress
) -> pd.DataFrame:
    """``frame`` with ``label`` and ``score``: kept when present, else scored by ``model``."""
    if {"label", "score"} <= set(frame.columns) and frame["score"].notna().all():
        return frame
    if TEXT_COLUMN not in frame.columns:
        raise BadInputError("The current data has neither review texts nor model scores.")
    progress(f"scoring {len(frame):,} {side} reviews")
    predicted = model.pipeline.predict_with_scores(frame[TEXT_COLUMN].astype(str).tolist())
    return frame.assign(
        score=predicted["score"].to_numpy(dtype=float), label=predicted["label"].to_numpy()
    )
