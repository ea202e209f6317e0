"""The flows on their schedules, as Prefect deployments that ``pipeline serve`` serves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentimentops.config import Settings
from sentimentops.errors import ConfigError
from sentimentops.pipelines.flows import flow_named

__all__ = ["ScheduledFlow", "build_deployments", "scheduled_flows", "serve_flows"]

FLOW_NAMES = ("training", "batch", "monitoring", "retraining")


@dataclass(frozen=True)
class ScheduledFlow:
    """A flow's schedule and its next runs."""

    flow: str
    cron: str
    timezone: str
    next_runs: list[datetime]


def scheduled_flows(settings: Settings, *, upcoming: int = 3) -> list[ScheduledFlow]:
    """The flows with a schedule in ``pipeline.schedules`` and their next ``upcoming`` runs;
    ConfigError for a cron expression or time zone Prefect does not accept."""
    from prefect.server.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    schedules = settings.pipeline.schedules
    planned = []
    for name in FLOW_NAMES:
        cron = getattr(schedules, name)
        if cron is None:
            continue
        try:
            schedule = CronSchedule(cron=cron, timezone=schedules.timezone)
        except ValidationError as error:
            problem = error.errors()[0]["msg"]
            raise ConfigError(
                f"pipeline.schedules.{name} {cron!r} (time zone {schedules.timezone!r}) is not "
                f"a valid schedule: {problem}. Use a five-field cron expression such as "
                f"'0 * * * *' (SENTIMENTOPS_PIPELINE__SCHEDULES__{name.upper()})."
            ) from None
        next_runs = asyncio.run(schedule.get_dates(n=upcoming))
        planned.append(ScheduledFlow(name, cron, schedules.timezone, list(next_runs)))
    return planned


def build_deployments(settings: Settings) -> list[Any]:
    """One Prefect deployment per scheduled flow, ``sentimentops-<flow>``; ConfigError when
    none has a schedule or one is invalid."""
    from prefect.schedules import Cron

    planned = scheduled_flows(settings)
    if not planned:
        raise ConfigError(
            "No flow has a schedule: set pipeline.schedules.<flow> to a cron expression."
        )
    return [
        flow_named(item.flow, settings).to_deployment(
            name=f"sentimentops-{item.flow}",
            schedule=Cron(item.cron, timezone=item.timezone),
            tags=["sentimentops"],
        )
        for item in planned
    ]


def serve_flows(settings: Settings) -> None:
    """Serve every scheduled flow until interrupted (Ctrl-C pauses their schedules)."""
    from prefect import serve

    serve(*build_deployments(settings))
