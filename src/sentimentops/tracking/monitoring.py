"""Monitoring runs as MLflow runs: the trend of every metric sits beside the training runs."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sentimentops.config import Settings
from sentimentops.tracking.store import connect

__all__ = ["MONITORING_TAG", "connect_ahead", "log_monitoring_run"]

MONITORING_TAG = "sentimentops.kind"  # "monitoring" on these runs: filter them in the UI


def connect_ahead(settings: Settings) -> None:
    """Import MLflow and open its store now, ahead of :func:`log_monitoring_run`, which reports
    what fails here when it connects again."""
    with contextlib.suppress(Exception):
        connect(settings)


def log_monitoring_run(
    settings: Settings,
    *,
    run_name: str,
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: list[Path],
) -> str:
    """Log one monitoring run in the configured experiment; returns its run id."""
    import mlflow

    connect(settings)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({MONITORING_TAG: "monitoring", **tags})
        mlflow.log_metrics(metrics)
        for artifact in artifacts:
            if artifact.exists():
                mlflow.log_artifact(str(artifact), "monitoring")
    return str(run.info.run_id)
