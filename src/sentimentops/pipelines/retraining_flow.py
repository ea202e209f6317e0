"""The ``retraining`` flow, the closed loop: monitoring → (drift, or accuracy below the floor)
→ training on the configured data, plus labelled feedback when configured → the promotion gate
→ a notification with the champion's and the challenger's numbers.

The gate decides, not this flow: a challenger that is not better leaves the champion in place,
and the notification says why.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sentimentops.config import ModelFamily, Settings, get_settings
from sentimentops.monitoring.delivery import send_notification
from sentimentops.pipelines.monitoring_flow import MonitoringFlowResult, monitoring_flow
from sentimentops.pipelines.runtime import io_task_options
from sentimentops.pipelines.training_flow import TrainingFlowResult, run_training_flow

__all__ = ["RETRAINING_TRIGGERS", "RetrainingFlowResult", "retraining_flow", "retraining_reasons"]

# Alerts that a new model can answer. Volume and reject-rate alerts are about the input
# pipeline, not the model: retraining would not fix them.
RETRAINING_TRIGGERS = frozenset(
    {"text_drift", "descriptor_drift", "prediction_drift", "accuracy", "estimated_accuracy"}
)


@dataclass(frozen=True)
class RetrainingFlowResult:
    retrained: bool
    reasons: list[str]  # the alerts that called for it (or "forced")
    monitoring: MonitoringFlowResult
    champion_before: str | None
    champion_after: str | None
    training: TrainingFlowResult | None = None
    message: str = ""
    delivery_problems: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return self.training is not None and self.training.promoted and not self.training.reused

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"promoted": self.promoted}


def retraining_reasons(monitoring: MonitoringFlowResult) -> list[str]:
    """The alerts of a monitoring run that call for a new model, as sentences."""
    return [
        f"{alert['kind']}: {alert['message']}"
        for alert in monitoring.alerts
        if alert["kind"] in RETRAINING_TRIGGERS
    ]


@task(name="collect-feedback", cache_policy=NO_CACHE)
def collect_feedback(settings: Settings) -> str | None:
    """Labelled feedback from the prediction log, written as Parquet for the training flow
    (passed by path); None when there is none."""
    from sentimentops.prediction_log import open_store

    store = open_store(settings)
    try:
        rows = store.labelled_texts()
    finally:
        store.dispose()
    logger = get_run_logger()
    if rows.empty:
        logger.info("no labelled feedback in the prediction log")
        return None
    folder = settings.state_path("feedback")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"feedback-{datetime.now():%Y%m%d-%H%M%S-%f}.parquet"
    rows.to_parquet(path, index=False)
    logger.info("%d labelled feedback rows join the training data", len(rows))
    return str(path)


@task(name="champion-version", cache_policy=NO_CACHE)
def champion_version(settings: Settings) -> str | None:
    from sentimentops.tracking import registry
    from sentimentops.tracking.store import connect

    connect(settings)
    return registry.champion_version(settings.registry.model_name)


@flow(name="retraining")
def retraining_flow(
    current: str | None = None,
    scored_input: str | None = None,
    id_column: str = "id",
    hours: float | None = None,
    data: str | None = None,
    sample: int | None = None,
    models: list[ModelFamily] | None = None,
    use_feedback: bool | None = None,
    force: bool = False,
) -> RetrainingFlowResult:
    """Monitor the champion; retrain when monitoring calls for it (or ``force``).

    Args:
        current, scored_input, id_column, hours: what to monitor (see the monitoring flow).
        data: training data (default ``pipeline.retraining_data``, else the vendored data).
        sample: train on a stratified sample (default ``pipeline.retraining_sample``).
        models: families to search (default: all configured).
        use_feedback: add labelled feedback (default ``pipeline.retraining_use_feedback``).
        force: retrain even when monitoring finds nothing.
    """
    settings = get_settings()
    logger = get_run_logger()
    io = io_task_options(settings)
    before = champion_version.with_options(**io)(settings)
    monitoring = monitoring_flow(
        current=current, scored_input=scored_input, id_column=id_column, hours=hours
    )
    reasons = retraining_reasons(monitoring) or (["forced"] if force else [])
    if not reasons:
        message = (
            f"No retraining: monitoring of {monitoring.source} found no drift and no accuracy "
            f"below the floor (verdict {monitoring.verdict}); champion stays version {before}."
        )
        logger.info(message)
        return RetrainingFlowResult(False, [], monitoring, before, before, message=message)

    logger.info("retraining because %s", "; ".join(reasons))
    feedback = None
    if settings.pipeline.retraining_use_feedback if use_feedback is None else use_feedback:
        feedback = collect_feedback.with_options(**io)(settings)
    training = run_training_flow(
        settings,
        data=data or settings.pipeline.retraining_data,
        sample=sample or settings.pipeline.retraining_sample,
        models=models,
        extra_rows=feedback,
    )
    after = training.champion
    message = _describe(training, before, after)
    problems = send_notification(
        "retraining",
        message,
        {
            "reasons": reasons,
            "champion_before": before,
            "champion_after": after,
            "challenger": {
                "version": training.version,
                "family": training.family,
                "test_metrics": training.test_metrics,
            },
            "gate": training.decision,
            "monitoring_report": monitoring.report or monitoring.summary,
        },
        webhook_url=settings.monitoring.webhook_url,
        timeout=settings.monitoring.webhook_timeout_seconds,
    )
    for problem in problems:
        logger.warning(problem)
    return RetrainingFlowResult(
        True, reasons, monitoring, before, after, training, message, delivery_problems=problems
    )


def _describe(training: TrainingFlowResult, before: str | None, after: str | None) -> str:
    if training.reused:
        return (
            f"Retraining found version {training.version} already trained on the same data and "
            f"settings; champion stays version {after}. Add new labelled data (feedback, "
            "pipeline.retraining_data) for a different model."
        )
    gate = training.decision
    numbers = f"challenger version {training.version} accuracy {gate['challenger_accuracy']:.4f}"
    if gate.get("champion_accuracy") is not None:
        compared = gate["compared_rows"]
        numbers += (
            f" vs champion version {before} {gate['champion_accuracy']:.4f} on {compared:,} "
            f"test rows ({gate['left_out_rows']:,} left out: the champion was trained on them)"
        )
    if after != before:
        return f"Promoted: {numbers}; {training.reason}. Champion is now version {after}."
    return f"Champion kept (version {before}): {numbers}; {training.reason}."
