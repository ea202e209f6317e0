"""`sentimentops monitor` end to end on a registered champion: exit codes, reports, the
prediction-log window, the recorded history, the MLflow run and the webhook."""

from __future__ import annotations

import json
import shutil
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.cli.monitor import parse_moment
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.monitoring.run_store import read_monitoring_runs
from sentimentops.prediction_log import PredictionLogStore, PredictionRecord, open_store
from sentimentops.prediction_log.spool import Spool
from sentimentops.training.job import run_training
from tests.user import run_cli

runner = CliRunner()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "SENTIMENTOPS_MONITORING__WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook"
    )
    get_settings.cache_clear()
    yield received
    server.shutdown()
    server.server_close()


def test_monitor_exit_codes_reports_log_window_and_history(
    fast_config: Path,
    reference_reviews: pd.DataFrame,
    tmp_path: Path,
    webhook: list[dict[str, object]],
) -> None:
    run_training(get_settings(), sample=3000, models=["logreg"])
    test = reference_reviews[reference_reviews["split"] == "test"].sample(600, random_state=5)
    held_out = tmp_path / "held_out.csv"
    test[["review", "sentiment"]].to_csv(held_out, index=False)
    shifted = tmp_path / "products.jsonl"
    products = ["The battery died, the charger broke and support never answered."] * 300
    pd.DataFrame({"review": products}).to_json(shifted, orient="records", lines=True)

    quiet = runner.invoke(
        app, ["monitor", "--current", str(held_out), "--output-dir", str(tmp_path / "q")]
    )
    loud = runner.invoke(
        app, ["monitor", "--current", str(shifted), "--output-dir", str(tmp_path / "l")]
    )

    assert quiet.exit_code == 0, quiet.output
    assert "Monitoring: OK" in quiet.output
    assert (tmp_path / "q" / "report.html").stat().st_size > 10_000
    assert json.loads((tmp_path / "q" / "summary.json").read_text())["verdict"] == "ok"
    assert loud.exit_code == 3, loud.output
    assert "ALERT" in loud.output
    assert len(webhook) == 1  # one POST for the run that alerted, none for the quiet one
    assert {alert["kind"] for alert in webhook[0]["alerts"]} >= {"text_drift"}  # type: ignore[union-attr]

    store = open_store(get_settings())
    now = datetime.now(UTC)
    store.write_predictions(
        [
            PredictionRecord.of(
                text, store_text=True, request_id=f"r{i}", endpoint="/v1/predict",
                model_name="imdb-sentiment", model_version="1", label="positive",
                score=0.9, latency_ms=1.0, timestamp=now - timedelta(minutes=5),
            )
            for i, text in enumerate(test["review"].head(200))
        ]
    )  # fmt: skip
    store.dispose()
    from_log = runner.invoke(app, ["monitor", "--from-log", "--since", "1h"])
    assert from_log.exit_code in (0, 3), from_log.output
    assert (
        "log:"
        in json.loads(
            sorted(get_settings().state_path("reports").glob("monitoring-*/summary.json"))[
                -1
            ].read_text()
        )["source"]
    )

    history = runner.invoke(app, ["monitor", "history", "--output-dir", str(tmp_path / "h")])
    assert history.exit_code == 0, history.output
    assert "3 monitoring runs" in history.output
    assert (tmp_path / "h" / "monitoring_history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Each run is also a snapshot of the model's project in the Evidently workspace.
    with warnings.catch_warnings():  # Evidently imports numpy.core: not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        from evidently.ui.workspace import Workspace

    workspace = Workspace(str(get_settings().state_path("workspace")))
    (project,) = workspace.search_project("imdb-sentiment")
    snapshots = [workspace.get_run(project.id, run) for run in workspace.list_runs(project.id)]
    log_verdict = "ok" if from_log.exit_code == 0 else "alert"
    assert sorted(s.tags[0] for s in snapshots) == sorted(["ok", "alert", log_verdict])
    assert {snapshot.metadata["model_version"] for snapshot in snapshots} == {"1"}

    import mlflow

    runs = mlflow.search_runs(filter_string="tags.`sentimentops.kind` = 'monitoring'")
    assert len(runs) == 3
    assert set(runs["tags.verdict"]) == {"ok", "alert"}


def test_a_log_window_without_traffic_raises_the_volume_alert(
    model_folder: Path, webhook: list[dict[str, object]]
) -> None:
    """No prediction in the window (or only other versions') is what the volume alert is for:
    exit 3, the webhook told, the run recorded; drift and accuracy noted as not measurable."""
    arguments = ["monitor", "--from-log", "--since", "1h", "--model", str(model_folder)]

    idle = runner.invoke(app, arguments)

    assert idle.exit_code == 3, idle.output
    assert "Monitoring: ALERT" in idle.output
    assert "not measurable" in idle.output
    assert [alert["kind"] for alert in webhook[0]["alerts"]] == ["volume"]  # type: ignore[union-attr]
    summary_path = sorted(get_settings().state_path("reports").glob("monitoring-*/summary.json"))
    summary = json.loads(summary_path[-1].read_text())
    assert summary["metrics"]["rows"] == 0
    # The report is the summary alone: the verdict and the volume alert, no drift details.
    page = Path(summary["report"]).read_text()
    assert 'id="verdict">ALERT<' in page
    assert "volume</b>" in page
    assert "drift-details" not in page

    store = open_store(get_settings())
    store.write_predictions(
        [
            PredictionRecord.of(
                "A fine film.", store_text=True, request_id="r1", endpoint="/v1/predict",
                model_name="imdb-sentiment", model_version="7", label="positive",
                score=0.9, latency_ms=1.0, timestamp=datetime.now(UTC) - timedelta(minutes=5),
            )
        ]
    )  # fmt: skip
    try:
        assert len(read_monitoring_runs(store)) == 1
    finally:
        store.dispose()

    others_only = runner.invoke(app, arguments)

    assert others_only.exit_code == 3, others_only.output
    assert "none by imdb-logreg version local" in " ".join(others_only.output.split())
    assert [alert["kind"] for alert in webhook[1]["alerts"]] == ["volume"]  # type: ignore[union-attr]


def test_the_verdict_table_says_which_checks_drifted_as_summary_json_records_them(
    user_home: Path, reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    """Reviews twice as long drift in length while most descriptors do not: with the alert
    share at all four descriptors, the drifted ones read drift, not ok (nor ALERT)."""
    test = reference_reviews[reference_reviews["split"] == "test"].sample(600, random_state=2)
    doubled = tmp_path / "doubled.csv"
    pd.DataFrame(
        {"review": test["review"] + " " + test["review"], "sentiment": test["sentiment"]}
    ).to_csv(doubled, index=False)

    completed = run_cli(
        "monitor", "--current", str(doubled), "--output-dir", str(tmp_path / "out"),
        home=user_home, SENTIMENTOPS_MONITORING__ALERTS__DESCRIPTOR_DRIFT_SHARE="1",
    )  # fmt: skip

    assert completed.returncode in (0, 3), completed.stdout + completed.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    alerted = {alert["kind"] for alert in summary["alerts"]}
    table = verdict_rows(completed.stdout)
    descriptors = summary["metrics"]["descriptor_drift"]
    assert "descriptor_drift" not in alerted
    assert any(drift["detected"] for drift in descriptors)  # length, at least
    for drift in [*descriptors, summary["metrics"]["text_drift"]]:
        name = (
            "text drift (domain classifier AUC)"
            if drift["column"] == "review"
            else f"{drift['column']} drift (K-S p)"
        )
        kind = "text_drift" if drift["column"] == "review" else "descriptor_drift"
        expected = ("ALERT" if kind in alerted else "drift") if drift["detected"] else "ok"
        assert table[name][-1] == expected, (name, drift, table[name])
    assert table["rows"] == ["600", "< 100", "ok"]


def test_monitor_shows_each_step_while_it_works(
    user_home: Path, reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    """A run takes from seconds to minutes: a terminal shows which step it is in."""
    test = reference_reviews[reference_reviews["split"] == "test"].sample(300, random_state=3)
    current = tmp_path / "current.csv"
    test[["review", "sentiment"]].to_csv(current, index=False)

    completed = run_cli(
        "monitor", "--current", str(current), "--output-dir", str(tmp_path / "out"),
        home=user_home, TTY_COMPATIBLE="1", TTY_INTERACTIVE="1",  # as in a terminal
    )  # fmt: skip

    assert completed.returncode in (0, 3), completed.stdout + completed.stderr
    for step in (
        f"reading {current}",
        "loading the model models:/imdb-sentiment@champion",
        "scoring 300 current reviews",
        "computing drift of 300 current against",
        "measuring accuracy on 300 labelled rows",
        "estimating accuracy from the model's confidence",
        "recording the run",
    ):
        assert step in completed.stdout, step


def test_a_log_window_with_predictions_still_spooled_is_not_judged_unless_allowed(
    user_home: Path, reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    """An API whose log database was away holds predictions of the window in its spool: the
    window is refused (exit 2) saying how many, or judged with --allow-incomplete and noted."""
    texts = reference_reviews[reference_reviews["split"] == "test"]["review"].head(250).tolist()
    recent = datetime.now(UTC) - timedelta(minutes=5)
    records = [
        PredictionRecord.of(
            text, store_text=True, request_id=f"r{i}", endpoint="/v1/predict",
            model_name="imdb-sentiment", model_version="1", label="positive",
            score=0.9, latency_ms=1.0, timestamp=recent + timedelta(milliseconds=i),
        )
        for i, text in enumerate(texts)
    ]  # fmt: skip
    # The session's home may hold the log of servers other tests ran there: start empty.
    (user_home / "prediction_log.db").unlink(missing_ok=True)
    shutil.rmtree(user_home / "spool", ignore_errors=True)
    store = PredictionLogStore(f"sqlite:///{user_home / 'prediction_log.db'}")
    try:
        store.migrate()
        store.write_predictions(records[:200])
    finally:
        store.dispose()
    stopped_server = Spool(user_home / "spool", 2**20)  # the API spooled the last 50
    assert stopped_server.append(records[200:]) == 50
    stopped_server.close()

    refused = run_cli("monitor", "--from-log", "--since", "1h", home=user_home)
    allowed = run_cli(
        "monitor", "--from-log", "--since", "1h", "--allow-incomplete",
        "--output-dir", str(tmp_path / "out"), home=user_home,
    )  # fmt: skip

    refusal = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 2, refusal
    assert "50 predictions of the window" in refusal
    assert "still wait in the prediction log spool" in refusal
    assert "the 200 delivered so far" in refusal
    assert "--allow-incomplete" in refusal
    assert allowed.returncode in (0, 3), allowed.stdout + allowed.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metrics"]["rows"] == 200
    assert any("50 predictions of the window were still in" in n for n in summary["notes"])


def verdict_rows(output: str) -> dict[str, list[str]]:
    """The verdict table's rows by check name: value, flagged when, status."""
    cells = ([cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines())
    return {row[0]: row[1:] for row in cells if len(row) == 4}


def test_bad_input_exits_2_naming_the_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("review,sentiment\n")
    missing_column = tmp_path / "other.csv"
    missing_column.write_text("text\nhello\n")
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review,sentiment\nGreat.,positive\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for arguments, message in (
        (["monitor"], "exactly one of --current"),
        (["monitor", "--current", str(empty)], "no rows"),
        (["monitor", "--current", str(missing_column)], "no text column"),
        (["monitor", "--current", str(tmp_path / "absent.csv")], "does not exist"),
        (["monitor", "--from-log", "--since", "yesterday"], "is not a time"),
        (["monitor", "--from-log", "--since", "99999999999d"], "further back than a date can"),
        (["monitor", "--from-log", "--since", "700000w"], "further back than a date can"),
        (["monitor", "history", "--since", "99999999999d"], "further back than a date can"),
        # Options checked before the input is read, not after minutes of scoring and drift.
        (["monitor", "--current", str(tmp_path / "absent.csv"), "--output-dir", str(a_file)],
         "is a file"),
        (["monitor", "--current", str(reviews), "--output-dir", str(a_file / "sub")], "is a file"),
        (["monitor", "history", "--output-dir", str(a_file)], "is a file"),
        (["monitor", "--current", str(reviews), "--label-column", "foo"], "no label column 'foo'"),
        # A log window's options with a file were silently ignored.
        (["monitor", "--current", str(reviews), "--since", "7d"], "--since selects a window of"),
        (["monitor", "--current", str(reviews), "--until", "now", "--allow-incomplete"],
         "--until, --allow-incomplete select a window of the log: use with --from-log only"),
    ):  # fmt: skip
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert message in " ".join(result.output.split()), (arguments, result.output)
        assert "Traceback" not in result.output


def test_parse_moment() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_moment("now", now) == now
    assert parse_moment("24h", now) == now - timedelta(hours=24)
    assert parse_moment("7d", now) == now - timedelta(days=7)
    assert parse_moment("2026-11-27T10:00:00", now) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    with pytest.raises(BadInputError):
        parse_moment("yesterday", now)


@pytest.mark.parametrize(
    "command",
    [["monitor", "--from-log"], ["monitor", "history"], ["data", "split"]],
    ids=["monitor", "history", "split"],
)
def test_an_output_folder_that_cannot_be_made_is_bad_input_before_the_work(
    command: list[str],
) -> None:
    """monitor --output-dir /proc/nope computed its drift, then ended in a traceback, exit 1."""
    result = runner.invoke(app, [*command, "--output-dir", "/proc/sentimentops-nope"])

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "--output-dir /proc/sentimentops-nope cannot be made (No such file or directory)" in (
        message
    )


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "--from-log", "--since", "1h", "--until", "2h"],
        ["monitor", "--from-log", "--since", "2030-01-01"],
        ["monitor", "--from-log", "--since", "0h"],
        ["models", "compare", "--from-log", "--since", "2030-01-01"],
    ],
    ids=["backwards", "future", "empty", "compare"],
)
def test_a_window_without_a_moment_is_bad_input_not_a_volume_alert(command: list[str]) -> None:
    """It read as no traffic: the volume alert, exit 3, a run in the history and the webhook."""
    result = runner.invoke(app, command)

    assert result.exit_code == 2, result.output
    assert "the window holds no moment" in " ".join(result.output.split())
    assert read_monitoring_runs(open_store(get_settings())).empty
