"""The history of monitoring runs: a run's record, the trends as a PNG (for terminals and CI),
and old report folders pruned."""

from __future__ import annotations

import io
import logging
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from sentimentops.errors import BadInputError
from sentimentops.monitoring.results import Alert, MonitoringMetrics
from sentimentops.monitoring.run_store import METRIC_COLUMN_PREFIX, MonitoringRunRecord

__all__ = [
    "HISTORY_PNG",
    "alerted_runs",
    "build_run_record",
    "flatten_metrics",
    "prune_reports",
    "render_history",
]

log = logging.getLogger(__name__)

HISTORY_PNG: Final = "monitoring_history.png"
_PLOTS_PER_ROW: Final = 3
# A metric ``m`` with ``m_lower`` and ``m_upper`` beside it is drawn as a line in a band.
_BOUNDS: Final = ("_lower", "_upper")
# The folder a run writes its report to (monitoring/job.py): monitoring-YYYYmmdd-HHMMSS-ffffff.
_RUN_FOLDER: Final = re.compile(r"monitoring-\d{8}-\d{6}-\d{6}")
# The metric (flatten_metrics) each kind of alert (alerts.py) is about; prediction drift's are
# told apart by their column, below.
_ALERT_METRICS: Final = {
    "text_drift": "text_drift_auc",
    "descriptor_drift": "drifted_descriptor_share",
    "accuracy": "accuracy",
    "estimated_accuracy": "estimated_accuracy",
    "reject_rate": "reject_rate",
    "volume": "rows",
}
_PREDICTION_DRIFT: Final = "prediction_drift"


def flatten_metrics(metrics: MonitoringMetrics) -> dict[str, float]:
    """The numbers of one run by name (``rows``, ``text_drift_auc``, ``accuracy``, ...), for the
    SQL history and MLflow; unmeasured ones left out."""
    descriptors, estimate = metrics.descriptor_drift, metrics.estimated_accuracy
    flat: dict[str, float | None] = {
        "rows": float(metrics.rows),
        "reference_rows": float(metrics.reference_rows),
        "text_drift_auc": metrics.text_drift.score if metrics.text_drift else None,
        "drifted_descriptor_share": (
            sum(result.detected for result in descriptors) / len(descriptors)
            if descriptors
            else None
        ),
        **{f"prediction_drift_{d.column}": d.score for d in metrics.prediction_drift},
        "accuracy": metrics.accuracy,
        "f1": metrics.f1,
        "roc_auc": metrics.roc_auc,
        "reference_accuracy": metrics.reference_accuracy,
        "estimated_accuracy": estimate.accuracy if estimate else None,
        "estimated_accuracy_lower": estimate.lower if estimate else None,
        "estimated_accuracy_upper": estimate.upper if estimate else None,
        "reject_rate": metrics.reject_rate,
    }
    return {name: float(value) for name, value in flat.items() if value is not None}


def build_run_record(
    metrics: MonitoringMetrics,
    alerts: Sequence[Alert],
    *,
    started_at: datetime,
    source: str,
    model_name: str,
    model_version: str,
    report_path: Path | str | None = None,
) -> MonitoringRunRecord:
    """The history record of one run, verdict "alert" when ``alerts`` is not empty; ValueError
    when ``started_at`` is naive."""
    return MonitoringRunRecord(
        started_at=started_at,
        source=source,
        model_name=model_name,
        model_version=model_version,
        rows=metrics.rows,
        verdict="alert" if alerts else "ok",
        alerts=[asdict(alert) for alert in alerts],
        metrics=flatten_metrics(metrics),
        report_path=None if report_path is None else str(report_path),
    )


def render_history(runs: pd.DataFrame, output_dir: Path) -> Path:
    """Draw ``runs`` (from ``read_monitoring_runs``) as a PNG in ``output_dir``, one plot per
    metric over time; returns its path. BadInputError when ``runs`` is empty."""
    if runs.empty:
        raise BadInputError(
            "No monitoring runs are recorded in the prediction log (for that period): run "
            "`sentimentops monitor` first, or widen the period."
        )
    runs = runs.sort_values("started_at", kind="stable").reset_index(drop=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    png_path = output_dir / HISTORY_PNG
    png_path.write_bytes(_trend_png(runs))
    return png_path


def _plotted_metrics(runs: pd.DataFrame) -> list[str]:
    """Metric columns with at least one value; interval bounds go with their metric."""
    measured = runs.notna().any()
    columns = [c for c in runs.columns if str(c).startswith(METRIC_COLUMN_PREFIX) and measured[c]]
    bounds = {f"{column}{bound}" for column in columns for bound in _BOUNDS}
    return [column for column in columns if column not in bounds]


def alerted_runs(runs: pd.DataFrame, column: str) -> np.ndarray:
    """Which of ``runs`` (from ``read_monitoring_runs``) raised an alert about the metric in
    ``column`` (``metric_accuracy``, ...): none for one no alert is about (``reference_rows``)."""
    metric = column.removeprefix(METRIC_COLUMN_PREFIX)
    return np.array(
        [
            any(_is_about(alert, metric, value) for alert in alerts)
            for alerts, value in zip(runs["alerts"], runs[column], strict=True)
        ],
        dtype=bool,
    )


def _is_about(alert: Mapping[str, Any], metric: str, value: float) -> bool:
    if alert.get("kind") == _PREDICTION_DRIFT:
        # One alert per drifted column; it holds that column's score, not its name.
        return metric.startswith(f"{_PREDICTION_DRIFT}_") and math.isclose(alert["value"], value)
    return _ALERT_METRICS.get(str(alert.get("kind"))) == metric


def _trend_png(runs: pd.DataFrame) -> bytes:
    # A bare Figure on the Agg canvas, not pyplot: no global registry, no display, any thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    metrics = _plotted_metrics(runs)
    columns = min(_PLOTS_PER_ROW, max(len(metrics), 1))
    rows = max(math.ceil(len(metrics) / columns), 1)
    figure = Figure(figsize=(4.2 * columns, 2.6 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    # Naive UTC for matplotlib's date axis; the title says the zone.
    times = runs["started_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    first = figure.add_subplot(rows, columns, 1)
    # Shared axes share one ticker: set on the first, it dates them all.
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    first.xaxis.set_major_locator(locator)
    first.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if not metrics:
        first.text(0.5, 0.5, "no metrics recorded", ha="center", va="center")
    for index, column in enumerate(metrics):
        axes = first if index == 0 else figure.add_subplot(rows, columns, index + 1, sharex=first)
        values = runs[column]
        lower, upper = (f"{column}{bound}" for bound in _BOUNDS)
        if lower in runs.columns and upper in runs.columns:
            axes.fill_between(times, runs[lower], runs[upper], alpha=0.2)
        axes.plot(times, values, marker="o", markersize=3, linewidth=1)
        alerted = alerted_runs(runs, column)
        axes.scatter(times[alerted], values[alerted], color="red", marker="x", zorder=3, s=40)
        axes.set_title(column.removeprefix(METRIC_COLUMN_PREFIX), fontsize=9)
        axes.tick_params(labelsize=7)
    # Short enough for a figure of one plot.
    figure.suptitle("Monitoring runs (UTC); red x: an alert on the metric", fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def prune_reports(folder: Path, keep: int, *, spare: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` run folders (``monitoring-<time>``) in ``folder``,
    never ``spare``; a failure is logged and skipped. Returns the deleted folders, oldest first."""
    if not folder.is_dir():
        return []
    runs = sorted(
        path
        for path in folder.iterdir()
        if _RUN_FOLDER.fullmatch(path.name) and path.is_dir() and not path.is_symlink()
    )
    removed = []
    for path in runs[: max(len(runs) - keep, 0)]:
        if spare is not None and path.resolve() == spare.resolve():
            continue
        try:
            shutil.rmtree(path)
        except OSError as error:
            log.warning("could not delete the old monitoring report %s: %s", path, error)
            continue
        removed.append(path)
    if removed:
        log.info("deleted %d old monitoring report folders in %s", len(removed), folder)
    return removed
