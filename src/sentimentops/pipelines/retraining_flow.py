"""The ``retraining`` flow: monitoring → (drift, or accuracy below the floor) → training → the
gate → a notification. In online mode a challenger on trial is judged first on live traffic."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sentimentops.config import ModelFamily, Settings, get_settings
from sentimentops.monitoring.delivery import send_notification, webhook_of
from sentimentops.pipelines.monitoring_flow import MonitoringFlowResult, monitoring_flow
from sentimentops.pipelines.runtime import io_task_options, log_window
from sentimentops.pipelines.training_flow import run_training_flow
from sentimentops.training.data import labelled_feedback
from sentimentops.training.job import TrainingSummary, champion_version

__all__ = [
    "RETRAINING_TRIGGERS",
    "RetrainingFlowResult",
    "retraining_flow",
    "retraining_reasons",
    "trial_holds_retraining",
]

# Alerts a new model can answer; volume and reject-rate alerts are the input pipeline's.
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
    training: TrainingSummary | None = None
    message: str = ""
    delivery_problems: list[str] = field(default_factory=list)
    online: dict[str, Any] | None = None  # the online promotion's decision, in online mode

    @property
    def promoted(self) -> bool:
        if self.online is not None and self.online["act"]:
            return True
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


def trial_holds_retraining(
    online: dict[str, Any] | None, monitoring: MonitoringFlowResult, shadow_share: float
) -> bool:
    """Whether the challenger on trial ends this run without training: promoted, or still
    gathering evidence (only with shadow on, and unless the champion's accuracy alerted)."""
    if online is None:
        return False
    if online["act"]:
        return True
    accuracy_alert = bool({"accuracy", "estimated_accuracy"} & monitoring.alert_kinds())
    return bool(online["waiting"]) and shadow_share > 0 and not accuracy_alert


@task(name="collect-feedback", cache_policy=NO_CACHE)
def collect_feedback(settings: Settings) -> str | None:
    return labelled_feedback(settings, progress=get_run_logger().info)


@task(name="online-promotion", cache_policy=NO_CACHE)
def online_promotion(settings: Settings, hours: float | None) -> dict[str, Any] | None:
    """The online decision on the challenger on trial (promoted if not worse); None without one."""
    from sentimentops.monitoring.rollout import pending_challenger, promote_online

    if (challenger := pending_challenger(settings)) is None:
        return None
    until = datetime.now(UTC)
    since = until - log_window(hours, settings.pipeline.monitoring_window_hours)
    decision = promote_online(settings, since, until)
    get_run_logger().info(
        "online promotion: %s",
        ("promoted: " if decision.act else "not promoted: ") + decision.reason,
    )
    return decision.to_dict() | {"challenger": challenger}


def online_refusal(online: dict[str, Any] | None) -> str:
    """The online gate's refusal as a sentence for the flow's summary ("" when it did not
    refuse): a task's log line alone went unseen."""
    if online is None or online["act"]:
        return ""
    return f" Challenger version {online['challenger']} not promoted: {online['reason']}."


@task(name="champion-version", cache_policy=NO_CACHE)
def find_champion(settings: Settings) -> str | None:
    return champion_version(settings)


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
    before = find_champion.with_options(**io)(settings)
    monitoring = monitoring_flow(
        current=current, scored_input=scored_input, id_column=id_column, hours=hours
    )
    online = None
    if settings.registry.promotion == "online":
        online = online_promotion.with_options(**io)(settings, hours)
        if trial_holds_retraining(online, monitoring, settings.serving.shadow_share):
            assert online is not None
            after = find_champion.with_options(**io)(settings)
            verb = "promoted on online evidence" if online["act"] else "still on trial"
            message = f"Challenger {verb}: {online['reason']}"
            logger.info(message)
            return RetrainingFlowResult(
                False, [], monitoring, before, after, message=message, online=online
            )
    reasons = retraining_reasons(monitoring) or (["forced"] if force else [])
    if not reasons:
        message = (
            f"No retraining: monitoring of {monitoring.source} found no drift and no accuracy "
            f"below the floor (verdict {monitoring.verdict}); champion stays version {before}."
        ) + online_refusal(online)
        logger.info(message)
        return RetrainingFlowResult(
            False, [], monitoring, before, before, message=message, online=online
        )

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
    message = training.describe(before) + online_refusal(online)
    notice = {"reasons": reasons, **training.notification(before)}
    notice["monitoring_report"] = monitoring.report or monitoring.summary
    problems = send_notification("retraining", message, notice, **webhook_of(settings.monitoring))
    for problem in problems:
        logger.warning(problem)
    after = training.champion
    return RetrainingFlowResult(
        True, reasons, monitoring, before, after, training, message, problems, online
    )
