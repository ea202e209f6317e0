"""The Evidently workspace: one project per model, its dashboard, a snapshot per run holding each
measurement by model version and each alert limit, in a folder or a remote Evidently UI;
``monitor ui`` refuses what it cannot serve.
(The dashboard as a browser shows it: test_browser.py.)"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.monitoring.workspace import (
    PANELS,
    record_snapshot,
    serve_workspace,
    workspace_location,
)
from tests.servers import free_port, running
from tests.user import SCRIPT, user_env

START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def record(index: int, version: str, metrics: dict[str, float]) -> str:
    return record_snapshot(
        get_settings(),
        metrics=metrics,
        alerts=index,
        model_name="imdb-sentiment",
        model_version=version,
        started_at=START + timedelta(hours=index),
        verdict="alert" if index else "ok",
        source=f"log:run-{index}",
    )


def points(snapshot: Any) -> dict[tuple[str, str, str | None], float]:
    """The snapshot's values by (kind, column, model version; None for run-wide values)."""
    found = {}
    for result in snapshot.metric_results.values():
        params = result.metric_value_location.metric.params
        kind = params["type"].rsplit(":", 1)[-1]
        found[kind, params["column"], params.get("model_version")] = result.value
    return found


def test_each_run_is_a_snapshot_of_the_models_project_with_versions_and_limits(
    isolated_settings: Path,
) -> None:
    with warnings.catch_warnings():  # Evidently imports numpy.core: not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently.ui.workspace import Workspace

    first = record(0, "1", {"rows": 800.0, "accuracy": 0.9, "text_drift_auc": 0.52})
    second = record(1, "2", {"rows": 40.0, "text_drift_auc": 0.61})

    assert workspace_location(get_settings()) == str(isolated_settings / "workspace")
    workspace = Workspace(str(isolated_settings / "workspace"))
    (project,) = workspace.search_project("imdb-sentiment")
    assert {str(run) for run in workspace.list_runs(project.id)} == {first, second}
    newest = workspace.get_run(project.id, second)
    assert newest.timestamp == datetime(2026, 11, 1, 7, 0)
    assert newest.metadata["model_version"] == "2"
    assert set(newest.tags) == {"alert", "version 2"}
    values = points(newest)
    assert values["PanelValue", "rows", "2"] == 40.0
    assert values["PanelValue", "text_drift_auc", "2"] == 0.61
    assert values["LatestValue", "rows", None] == 40.0
    assert values["LatestValue", "alerts", None] == 1.0
    assert values["AlertLimit", "limit:min_rows", None] == 100.0
    assert values["AlertLimit", "limit:min_accuracy", None] == 0.85
    assert values["AlertLimit", "limit:text_drift_auc", None] == 0.55
    # Not measured: no point, no false zero.
    assert ("PanelValue", "accuracy", "2") not in values
    assert points(workspace.get_run(project.id, first))["PanelValue", "accuracy", "1"] == 0.9

    dashboard = workspace.get_dashboard(project.id)
    titles = [panel.title for panel in dashboard.panels]
    assert titles == ["Latest run", *(panel.title for panel in PANELS)]
    for panel in dashboard.panels[1:]:
        assert [value.legend for value in panel.values] == [
            "{{column}} (v{{model_version}})",
            "alert limit",
        ]


def test_first_runs_at_once_share_one_project(isolated_settings: Path) -> None:
    """A scheduled run and a manual one starting together on an empty workspace."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently.ui.workspace import Workspace
    record(0, "1", {"rows": 1.0})  # imports Evidently before the race, so the threads do race
    shutil.rmtree(isolated_settings / "workspace")
    start = threading.Barrier(4)

    def first_run(index: int) -> None:
        start.wait()
        record(index, "1", {"rows": 800.0})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(first_run, range(4)))

    workspace = Workspace(str(isolated_settings / "workspace"))
    (project,) = workspace.search_project("imdb-sentiment")
    assert len(workspace.list_runs(project.id)) == 4


def test_a_workspace_folder_can_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__WORKSPACE_DIR", str(tmp_path / "shared"))
    get_settings.cache_clear()

    record(0, "1", {"rows": 800.0})

    assert list((tmp_path / "shared").iterdir())  # the project's folder


def test_the_ui_refuses_a_remote_workspace_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__WORKSPACE_URL", "http://evidently:8000")
    get_settings.cache_clear()

    with pytest.raises(BadInputError, match="http://evidently:8000"):
        serve_workspace(get_settings(), host="127.0.0.1", port=8000)
    result = CliRunner().invoke(app, ["monitor", "ui", "--port", "8000"])
    assert result.exit_code == 2
    assert "remote Evidently workspace" in result.output
    assert "Monitoring dashboard" not in result.output  # refused before it names an address


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_the_ui_refuses_a_port_out_of_range_before_its_banner(port: str) -> None:
    """Before the fix: "Monitoring dashboard … on http://127.0.0.1:70000/", then the error."""
    result = CliRunner().invoke(app, ["monitor", "ui", "--port", port])

    assert result.exit_code == 2
    assert f"--port {port} is not a TCP port" in result.output
    assert "Monitoring dashboard" not in result.output


def test_runs_go_to_a_remote_workspace_when_its_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Evidently UI (``monitor ui`` on another home) stands in for the team's server."""
    port = free_port()
    server_home = tmp_path / "server-home"
    base = f"http://127.0.0.1:{port}"
    command = [str(SCRIPT), "monitor", "ui", "--port", str(port)]
    with running(command, f"{base}/api/projects", tmp_path / "ui.log", user_env(server_home)):
        monkeypatch.setenv("SENTIMENTOPS_MONITORING__WORKSPACE_URL", base)
        get_settings.cache_clear()

        first = record(0, "1", {"rows": 800.0, "accuracy": 0.9})
        second = record(1, "1", {"rows": 700.0})

        with urllib.request.urlopen(f"{base}/api/projects") as response:
            (project,) = json.loads(response.read())
        with urllib.request.urlopen(f"{base}/api/v2/dashboards/{project['id']}") as response:
            titles = [panel["title"] for panel in json.loads(response.read())["panels"]]

    assert project["name"] == "imdb-sentiment"
    assert titles == ["Latest run", *(panel.title for panel in PANELS)]
    snapshots = server_home / "workspace" / project["id"] / "snapshots"
    assert {path.stem for path in snapshots.iterdir()} == {first, second}
    assert not (tmp_path / "home" / "workspace").exists()  # nothing written locally


def test_monitor_ui_on_a_taken_port_exits_2_saying_what_to_do(isolated_settings: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(app, ["monitor", "ui", "--port", str(port)])

    assert result.exit_code == 2  # not 3, which says an alert fired
    assert f"Port {port} is already in use on 127.0.0.1, so the dashboard cannot serve" in (
        " ".join(result.output.split())
    )


def test_a_silent_remote_workspace_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection and never answers: Evidently's client would wait
    for ever, and the monitoring run with it (its verdict, exit code and MLflow record)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("SENTIMENTOPS_MONITORING__WORKSPACE_URL", url)
        monkeypatch.setenv("SENTIMENTOPS_MONITORING__WORKSPACE_TIMEOUT_SECONDS", "1")
        get_settings.cache_clear()

        with pytest.raises(TimeoutError, match=f"workspace {url} did not answer within 1 s"):
            record_snapshot(
                get_settings(), metrics={"rows": 10.0}, alerts=0, model_name="imdb-sentiment",
                model_version="1", started_at=datetime.now(UTC), verdict="ok", source="x.csv",
            )  # fmt: skip


@pytest.mark.parametrize("runs", [0, 1])
def test_monitor_ui_says_when_no_run_is_recorded_yet(
    isolated_settings: Path, tmp_path: Path, runs: int
) -> None:
    """Evidently's page for an empty workspace says only "no projects": the terminal says how
    runs get there. A workspace with a run has its project, and no such line."""
    for index in range(runs):
        record(index, "1", {"rows": 800.0})
    port = free_port()
    projects_url = f"http://127.0.0.1:{port}/api/projects"
    log = tmp_path / "ui.log"
    command = [str(SCRIPT), "monitor", "ui", "--port", str(port)]

    served = running(command, projects_url, log, user_env(isolated_settings))
    with served, urllib.request.urlopen(projects_url) as response:
        projects = json.loads(response.read())

    said = " ".join(log.read_text().split())
    assert len(projects) == runs
    assert ("No monitoring run is recorded there yet" in said) == (runs == 0), said
    assert f"Monitoring dashboard of {isolated_settings / 'workspace'}" in said
