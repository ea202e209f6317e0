"""The ``monitoring`` flow: judge a file, a batch output or the prediction log's last hours, record
the run, send the alerts. Never cached: each run observes the data as it is now."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from sentimentops.config import Settings, get_settings
from sentimentops.monitoring.current import check_scored_input, current_from_batch
from sentimentops.monitoring.job import monitor_and_record
from sentimentops.monitoring.run import MonitoringOutcome
from sentimentops.pipelines.runtime import champion_uri, io_task_options, log_window

__all__ = ["MonitoringFlowResult", "monitoring_flow"]


@dataclass(frozen=True)
class MonitoringFlowResult:
    """What a monitoring run found, for the summary and the flows that follow it."""

    verdict: str  # ok | alert
    alerts: list[dict[str, Any]]
    model_name: str
    model_version: str
    source: str
    report: str | None  # the Evidently HTML
    summary: str  # summary.json
    metrics: dict[str, Any]
    delivery_problems: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)  # a rollback decided, rows left out

    @classmethod
    def of(cls, outcome: MonitoringOutcome) -> MonitoringFlowResult:
        """The result of the monitoring job's ``outcome``."""
        return cls(
            verdict=outcome.verdict,
            alerts=[dataclasses.asdict(alert) for alert in outcome.alerts],
            model_name=outcome.model_name,
            model_version=outcome.model_version,
            source=outcome.source,
            report=outcome.report_location if outcome.report_path else None,
            summary=str(outcome.summary_path),
            metrics=outcome.metrics.to_dict(),
            delivery_problems=list(outcome.delivery_problems),
            notes=list(outcome.notes),
        )

    def alert_kinds(self) -> set[str]:
        """The kinds of the alerts raised."""
        return {str(alert["kind"]) for alert in self.alerts}

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON-ready values."""
        return dataclasses.asdict(self)


@task(name="monitor", cache_policy=NO_CACHE)
def monitor(
    settings: Settings,
    model: str,
    current: str | None,
    scored_input: str | None,
    id_column: str,
    since: datetime,
    until: datetime,
) -> MonitoringOutcome:
    if current is not None and scored_input is not None:
        joined = current_from_batch(scored_input, current, id_column=id_column)
        return monitor_and_record(settings, model_uri=model, current=joined)
    if current is not None:
        return monitor_and_record(settings, model_uri=model, current_location=current)
    return monitor_and_record(settings, model_uri=model, log_window=(since, until))


@flow(name="monitoring")
def monitoring_flow(
    current: str | None = None,
    scored_input: str | None = None,
    id_column: str = "id",
    model: str | None = None,
    hours: float | None = None,
) -> MonitoringFlowResult:
    """Monitor ``current`` (reviews, or a batch output joined to its ``scored_input`` on
    ``id_column``), or else the prediction log's last ``hours``; ``model`` default: champion."""
    check_scored_input(current, scored_input)
    settings = get_settings()
    until = datetime.now(UTC)
    since = until - log_window(hours, settings.pipeline.monitoring_window_hours)
    outcome = monitor.with_options(**io_task_options(settings))(
        settings, model or champion_uri(settings), current, scored_input, id_column, since, until
    )
    result = MonitoringFlowResult.of(outcome)
    _publish(result)
    if settings.cloud.cloudwatch_metrics:
        _put_cloudwatch_metrics(result, settings)
    return result


def _put_cloudwatch_metrics(result: MonitoringFlowResult, settings: Settings) -> None:
    from sentimentops.cloud.cloudwatch import DRIFT_ALERTS, put_metrics

    metrics = result.metrics
    drift = result.alert_kinds() & {"text_drift", "descriptor_drift", "prediction_drift"}
    ratios = {
        "TextDriftScore": (metrics.get("text_drift") or {}).get("score"),
        "Accuracy": metrics.get("accuracy"),
        "EstimatedAccuracy": (metrics.get("estimated_accuracy") or {}).get("accuracy"),
        "RejectRate": metrics.get("reject_rate"),
    }
    put_metrics(
        {"MonitoredRows": (metrics["rows"], "Count"), DRIFT_ALERTS: (len(drift), "Count")}
        | {name: None if value is None else (value, "None") for name, value in ratios.items()},
        component="monitoring",
        model_version=result.model_version,
        namespace=settings.cloud.cloudwatch_namespace,
    )


def _publish(result: MonitoringFlowResult) -> None:
    lines = [
        f"Monitoring of `{result.source}` with {result.model_name} version "
        f"{result.model_version}: **{result.verdict}**",
        "",
    ]
    lines += [f"- {alert['kind']}: {alert['message']}" for alert in result.alerts]
    lines += [f"- note: {note}" for note in result.notes]
    lines += ["", f"Report: {result.report or result.summary}"]
    create_markdown_artifact(
        markdown="\n".join(lines), key="monitoring-summary", description="Monitoring verdict"
    )
    get_run_logger().info(
        "monitoring verdict %s (%d alert(s)); report %s",
        result.verdict,
        len(result.alerts),
        result.report or result.summary,
    )
