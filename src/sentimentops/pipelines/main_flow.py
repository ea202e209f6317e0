"""The main job (``make run``): train, batch-score the test split with the champion, monitor the
batch. Run again, only monitoring works: the rest is found registered or scored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow

from sentimentops.config import ModelFamily, get_settings
from sentimentops.pipelines.batch_flow import BatchFlowResult, batch_flow
from sentimentops.pipelines.monitoring_flow import MonitoringFlowResult, monitoring_flow
from sentimentops.pipelines.runtime import Laps, champion_uri
from sentimentops.pipelines.training_flow import run_training_flow
from sentimentops.tracking.store import mlflow_ui_command
from sentimentops.training.job import TrainingSummary

__all__ = ["MainRunResult", "main_flow"]

# The vendored data's review id, carried into the predictions to join them back to the texts.
ID_COLUMN = "review_id"


@dataclass(frozen=True)
class MainRunResult:
    """The three flows' results, and the wall seconds of every step."""

    training: TrainingSummary
    batch: BatchFlowResult
    monitoring: MonitoringFlowResult
    seconds: dict[str, float]  # wall seconds per step, training's steps first

    @property
    def mlflow_ui_command(self) -> str:
        """The command that browses the training's tracking store."""
        return mlflow_ui_command(self.training.tracking_uri)

    def to_dict(self) -> dict[str, Any]:
        """Every result, as JSON-ready values."""
        return {
            "training": self.training.to_dict(),
            "batch": self.batch.to_dict(),
            "monitoring": self.monitoring.to_dict(),
            "seconds": self.seconds,
            "mlflow_ui_command": self.mlflow_ui_command,
        }


@flow(name="main")
def main_flow(
    split: str = "official",
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    force: bool = False,
) -> MainRunResult:
    """Training → batch scoring of the held-out test split → monitoring of that batch."""
    settings = get_settings()
    training = run_training_flow(settings, split=split, sample=sample, models=models, force=force)
    laps = Laps()
    batch = batch_flow(input=training.test_split, model=champion_uri(settings), id_column=ID_COLUMN)
    laps.lap("batch scoring")
    scored = batch.scored[0]
    monitoring = monitoring_flow(
        current=scored["output"], scored_input=scored["input"], id_column=ID_COLUMN
    )
    laps.lap("monitoring")
    return MainRunResult(training, batch, monitoring, training.seconds | laps.seconds)
