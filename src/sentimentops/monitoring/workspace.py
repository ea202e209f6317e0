"""Each monitoring run as a snapshot in an Evidently workspace (a folder or a remote UI), one
project and dashboard per registered model; ``monitor ui`` serves the folder."""

from __future__ import annotations

import fcntl
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sentimentops.config import Settings
from sentimentops.errors import BadInputError

__all__ = [
    "PANELS",
    "Panel",
    "check_servable",
    "record_snapshot",
    "serve_workspace",
    "workspace_location",
]


@dataclass(frozen=True)
class Panel:
    """A line plot of ``measures`` (by model version) with the alert ``limit`` drawn."""

    key: str  # the label its values carry
    title: str
    measures: tuple[str, ...]  # names of flatten_metrics
    limit: str  # the setting judging them (AlertSettings, or monitoring's drift limits)
    description: str


PANELS: Final = (
    Panel(
        "accuracy",
        "Accuracy (labels)",
        ("accuracy",),
        "min_accuracy",
        "on rows whose label arrived",
    ),
    Panel(
        "estimated_accuracy",
        "Estimated accuracy (no labels)",
        ("estimated_accuracy", "estimated_accuracy_lower", "estimated_accuracy_upper"),
        "min_estimated_accuracy",
        "from calibrated confidence, with its interval",
    ),
    Panel(
        "text_drift",
        "Text drift (domain classifier ROC AUC)",
        ("text_drift_auc",),
        "text_drift_auc",
        "0.5: no drift",
    ),
    Panel(
        "descriptor_drift",
        "Descriptor drift share",
        ("drifted_descriptor_share",),
        "descriptor_drift_share",
        "share of text descriptors that drifted",
    ),
    Panel(
        "prediction_drift",
        "Prediction drift (p-value)",
        ("prediction_drift_score", "prediction_drift_label"),
        "drift_p_value",
        "score (K-S) and label share (chi-square); drifted below the limit",
    ),
    Panel(
        "reject_rate",
        "Reject rate",
        ("reject_rate",),
        "max_reject_rate",
        "batch outputs: rows rejected",
    ),
    Panel("volume", "Volume (rows)", ("rows",), "min_rows", "current rows judged"),
)
# The latest run at a glance: counters on top of the dashboard, (label, measure).
LATEST: Final = (
    ("alerts", "alerts"),
    ("accuracy", "accuracy"),
    ("estimated accuracy", "estimated_accuracy"),
    ("text drift AUC", "text_drift_auc"),
    ("descriptor drift share", "drifted_descriptor_share"),
    ("reject rate", "reject_rate"),
    ("rows", "rows"),
)
_LATEST_TITLE: Final = "Latest run"
_LIMIT: Final = "limit:"  # the column of an alert limit: limit:<setting>


def workspace_location(settings: Settings) -> str:
    """The remote workspace's URL when one is set, else the workspace folder."""
    config = settings.monitoring
    if config.workspace_url:
        return config.workspace_url
    return str(
        Path(config.workspace_dir) if config.workspace_dir else settings.state_path("workspace")
    )


def record_snapshot(settings: Settings, **run: Any) -> str:
    """Add one run (``metrics`` as ``flatten_metrics`` names them, ``alerts``, ``model_name``,
    ...) to its model's project, created when missing; returns the snapshot's id.

    Raises:
        TimeoutError: a remote workspace did not answer within
            ``monitoring.workspace_timeout_seconds`` (Evidently's client has no timeout).
    """
    url = settings.monitoring.workspace_url
    if not url:
        return _record_snapshot(settings, **run)
    answers: list[str | BaseException] = []

    def record() -> None:
        try:
            answers.append(_record_snapshot(settings, **run))
        except BaseException as error:  # raised in the caller's thread
            answers.append(error)

    # A daemon thread: one left hanging on a silent server does not hold the process's exit.
    recording = threading.Thread(target=record, daemon=True, name="evidently-workspace")
    recording.start()
    recording.join(settings.monitoring.workspace_timeout_seconds)
    if not answers:
        raise TimeoutError(
            f"the Evidently workspace {url} did not answer within "
            f"{settings.monitoring.workspace_timeout_seconds:g} s "
            "(monitoring.workspace_timeout_seconds)"
        )
    if isinstance(answers[0], BaseException):
        raise answers[0]
    return answers[0]


def _record_snapshot(
    settings: Settings,
    *,
    metrics: Mapping[str, float],
    alerts: int,
    model_name: str,
    model_version: str,
    started_at: datetime,
    verdict: str,
    source: str,
) -> str:
    import pandas as pd

    with _evidently():
        from evidently.core.datasets import DataDefinition, Dataset
        from evidently.core.report import Report

        from sentimentops.monitoring.run_values import AlertLimit, LatestValue, PanelValue

    values = {**metrics, "alerts": float(alerts)}
    values |= {_LIMIT + panel.limit: _limit(settings, panel.limit) for panel in PANELS}
    frame = pd.DataFrame([values])
    definition = DataDefinition(numerical_columns=list(values))
    # Only what the dashboard shows: every point costs the UI time at each page load.
    report = Report(
        [
            *(LatestValue(column=name, label=label) for label, name in LATEST if name in values),
            *(
                PanelValue(column=name, panel=panel.key, model_version=model_version)
                for panel in PANELS
                for name in panel.measures
                if name in metrics
            ),
            *(AlertLimit(column=_LIMIT + panel.limit, panel=panel.key) for panel in PANELS),
        ]
    )
    workspace = _open(settings)
    # A remote workspace cannot be locked from here: its server is the one place to do it.
    with workspace.exclusive() if isinstance(workspace, _LocalWorkspace) else nullcontext():
        project_id = _project(workspace, model_name)
    with _evidently():
        snapshot = report.run(
            Dataset.from_pandas(frame, data_definition=definition),
            None,
            timestamp=started_at.replace(tzinfo=None),  # the UI's axis: naive UTC
            tags=[verdict, f"version {model_version}"],
            metadata={"model_version": model_version, "source": source[:250]},
            name=f"{verdict.upper()} {model_name} v{model_version} {started_at:%Y-%m-%d %H:%M}",
        )
        added = workspace.add_run(project_id, snapshot)
    # A remote workspace answers with a reference to the snapshot, the folder with its id.
    return str(getattr(added, "id", added))


def check_servable(settings: Settings, port: int) -> None:
    """BadInputError for a remote workspace or a bad ``port``: what serve_workspace refuses,
    checked apart so a command can refuse before it says where it serves."""
    if settings.monitoring.workspace_url:
        raise BadInputError(
            f"Monitoring runs are recorded in the remote Evidently workspace "
            f"{settings.monitoring.workspace_url} (monitoring.workspace_url): open its UI "
            "there, or unset the URL to serve the local folder."
        )
    if not 0 < port < 65536:
        raise BadInputError(f"--port {port} is not a TCP port: pass one from 1 to 65535.")


def serve_workspace(settings: Settings, *, host: str, port: int) -> None:
    """Serve the workspace folder with Evidently's UI until interrupted. BadInputError for a
    remote workspace or a bad ``port``."""
    check_servable(settings, port)
    folder = Path(workspace_location(settings))
    folder.mkdir(parents=True, exist_ok=True)
    with _evidently():
        from evidently.ui.service.app import get_config, run

        config = get_config(host=host, port=port, workspace=str(folder))
    run(config)


@contextmanager
def _evidently() -> Iterator[None]:
    # Evidently's own deprecation and pandas warnings: not ours, and fatal under -W error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _limit(settings: Settings, name: str) -> float:
    """The alert limit ``name``, recorded with every run: a changed setting shows as a step."""
    if name in ("text_drift_auc", "drift_p_value"):
        return float(getattr(settings.monitoring, name))
    return float(getattr(settings.monitoring.alerts, name))


def _open(settings: Settings) -> Any:
    if settings.monitoring.workspace_url:
        with _evidently():
            from evidently.ui.workspace import RemoteWorkspace

        return RemoteWorkspace(settings.monitoring.workspace_url)
    return _LocalWorkspace(workspace_location(settings))


class _LocalWorkspace:
    """A workspace folder written through Evidently's ``LocalState``: ``Workspace`` itself reads
    every snapshot when built, seconds at hundreds of runs."""

    def __init__(self, path: str) -> None:
        with _evidently():
            from evidently.ui.storage.local.base import LocalState

        self.path = path
        self.state = LocalState(path)
        self.state.location.makedirs("")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held while a project is looked up and created, so two first runs make one project."""
        with (Path(self.path) / ".projects.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    def search_project(self, name: str) -> list[Any]:
        found = (self.state.read_project(project) for project in self.state.list_projects())
        return [project for project in found if project.name == name]

    def create_project(self, name: str, description: str) -> Any:
        with _evidently():
            from evidently.sdk.models import ProjectModel

        return self.state.write_project(ProjectModel(name=name, description=description))

    def save_dashboard(self, project_id: Any, dashboard: Any) -> None:
        self.state.write_dashboard(project_id, dashboard)

    def add_run(self, project_id: Any, snapshot: Any) -> str:
        with _evidently():
            from evidently.legacy.core import new_id

        snapshot_id = new_id()
        self.state.write_snapshot(project_id, snapshot_id, snapshot.to_snapshot_model())
        return str(snapshot_id)


def _project(workspace: Any, name: str) -> Any:
    found = workspace.search_project(name)
    if found:
        return found[0].id
    with _evidently():
        from evidently.sdk.models import DashboardModel, DashboardTabModel, PanelMetric
        from evidently.sdk.panels import counter_panel, line_plot_panel

    counters = counter_panel(
        _LATEST_TITLE,
        [PanelMetric(metric="LatestValue", legend="{{label}}")],
        # Evidently's counter shows 0 as "no value" (a falsy check in its UI): say so.
        description="each measurement's latest value; 'no value' is 0, or never measured",
    )
    panels = [counters]
    for panel in PANELS:
        values = [
            PanelMetric(
                metric="PanelValue",
                metric_labels={"panel": panel.key},
                legend="{{column}} (v{{model_version}})",
            ),
            PanelMetric(
                metric="AlertLimit", metric_labels={"panel": panel.key}, legend="alert limit"
            ),
        ]
        panels.append(line_plot_panel(panel.title, values, panel.description, size="half"))
    project = workspace.create_project(
        name, description="sentimentops monitoring runs of this registered model"
    )
    tab = DashboardTabModel(title="Monitoring", panels=[panel.id for panel in panels])
    workspace.save_dashboard(project.id, DashboardModel(tabs=[tab], panels=panels))
    return project.id
