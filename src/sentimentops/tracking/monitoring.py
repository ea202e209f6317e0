"""Monitoring runs as MLflow runs: the trend of every metric sits beside the training runs."""

from __future__ import annotations

from pathlib import Path

from sentimentops.config import Settings
from sentimentops.tracking.store import connect

__all__ = ["MONITORING_TAG", "log_monitoring_run"]

MONITORING_TAG = "sentimentops.kind"  # "monitoring" on these runs: filter them in the UI


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
