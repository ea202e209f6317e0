"""Monitoring history: runs in the prediction log's SQL store, its migration, and trend pages."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from sentimentops.errors import BadInputError, PredictionLogUnavailableError
from sentimentops.monitoring.history import (
    alerted_runs,
    build_run_record,
    flatten_metrics,
    prune_reports,
    render_history,
)
from sentimentops.monitoring.results import (
    AccuracyEstimate,
    Alert,
    DriftResult,
    MonitoringMetrics,
)
from sentimentops.monitoring.run_store import (
    METRIC_COLUMN_PREFIX,
    MONITORING_RUN_COLUMNS,
    MonitoringRunRecord,
    read_monitoring_runs,
    write_monitoring_run,
)
from sentimentops.prediction_log import PredictionLogStore
from sentimentops.prediction_log.database import MIGRATIONS_DIRECTORY, VERSION_TABLE
from tests.prediction_log.conftest import migrated_store
from tests.prediction_log.sample_records import sample_records

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

METRICS = MonitoringMetrics(
    rows=800,
    reference_rows=5000,
    text_drift=DriftResult("review", "roc_auc", 0.62, 0.55, detected=True),
    descriptor_drift=[
        DriftResult("length", "K-S p_value", 0.001, 0.01, detected=True),
        DriftResult("oov_share", "K-S p_value", 0.3, 0.01, detected=False),
    ],
    prediction_drift=[DriftResult("label", "chi-square p_value", 0.2, 0.01, detected=False)],
    accuracy=None,
    estimated_accuracy=AccuracyEstimate(0.84, 0.81, 0.87, 0.95, 800),
    reference_accuracy=0.9,
)
ALERT = Alert("text_drift", 0.62, 0.55, "The review text drifted <badly>.")


def test_flatten_metrics_names_every_measured_number() -> None:
    assert flatten_metrics(METRICS) == {
        "rows": 800.0,
        "reference_rows": 5000.0,
        "text_drift_auc": 0.62,
        "drifted_descriptor_share": 0.5,
        "prediction_drift_label": 0.2,
        "reference_accuracy": 0.9,
        "estimated_accuracy": 0.84,
        "estimated_accuracy_lower": 0.81,
        "estimated_accuracy_upper": 0.87,
    }


def test_run_record_alerts_exactly_when_there_are_alerts() -> None:
    alerting = build_run_record(
        METRICS,
        [ALERT],
        started_at=START,
        source="log:a..b",
        model_name="m",
        model_version="1",
        report_path=Path("r.html"),
    )
    quiet = build_run_record(
        METRICS, [], started_at=START, source="x.csv", model_name="m", model_version="1"
    )

    assert (alerting.verdict, alerting.rows, alerting.report_path) == ("alert", 800, "r.html")
    assert alerting.alerts == [
        {"kind": "text_drift", "value": 0.62, "limit": 0.55, "message": ALERT.message}
    ]
    assert (quiet.verdict, quiet.alerts, quiet.report_path) == ("ok", [], None)


def test_run_records_refuse_naive_times_and_unknown_verdicts() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run(0, started_at=datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="verdict"):
        run(0, verdict="maybe")


# --- the SQL store ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the prediction log supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'prediction_log.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionLogStore]:
    yield from migrated_store(database_url)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[PredictionLogStore]:
    """For tests of what is drawn from the runs, which does not depend on the database."""
    yield from migrated_store(f"sqlite:///{tmp_path / 'prediction_log.db'}")


def run(index: int, **changes: object) -> MonitoringRunRecord:
    """The ``index``-th daily run; odd runs alert and have no estimated accuracy."""
    alerting = index % 2 == 1
    metrics: dict[str, float] = {"rows": 100.0 + index, "text_drift_auc": 0.5 + index / 100}
    if not alerting:
        metrics["estimated_accuracy"] = 0.9 - index / 100
    fields: dict[str, object] = {
        "started_at": START + timedelta(days=index),
        "source": f"log:day-{index}",
        "model_name": "imdb-sentiment",
        "model_version": str(1 + index // 2),
        "rows": 100 + index,
        "verdict": "alert" if alerting else "ok",
        "alerts": [asdict(ALERT)] if alerting else [],
        "metrics": metrics,
        "report_path": f"/reports/{index}.html" if alerting else None,
    }
    return MonitoringRunRecord(**(fields | changes))  # type: ignore[arg-type]


def test_runs_round_trip_oldest_first_with_metrics_as_columns(store: PredictionLogStore) -> None:
    paris = timezone(timedelta(hours=1))
    later = run(1, started_at=(START + timedelta(days=1)).astimezone(paris))
    ids = [write_monitoring_run(store, later), write_monitoring_run(store, run(0))]

    runs = read_monitoring_runs(store)

    assert list(runs.columns) == [
        *MONITORING_RUN_COLUMNS,
        "metric.estimated_accuracy",
        "metric.rows",
        "metric.text_drift_auc",
    ]
    assert runs["id"].tolist() == ids[::-1]
    assert str(runs["started_at"].dtype) == "datetime64[ns, UTC]"
    assert runs["started_at"].tolist() == [START, START + timedelta(days=1)]
    assert runs["verdict"].tolist() == ["ok", "alert"]
    assert runs["rows"].tolist() == [100, 101]
    assert runs["alerts"].tolist() == [[], [asdict(ALERT)]]
    assert runs["report_path"].tolist() == [None, "/reports/1.html"]
    assert runs["metric.text_drift_auc"].tolist() == [0.5, 0.51]
    assert runs["metric.estimated_accuracy"].iloc[0] == 0.9
    assert math.isnan(runs["metric.estimated_accuracy"].iloc[1])


def test_since_keeps_runs_started_at_or_after_it(store: PredictionLogStore) -> None:
    for index in range(4):
        write_monitoring_run(store, run(index))

    runs = read_monitoring_runs(store, since=START + timedelta(days=2))

    assert runs["source"].tolist() == ["log:day-2", "log:day-3"]


def test_no_runs_is_an_empty_frame_with_the_columns(store: PredictionLogStore) -> None:
    runs = read_monitoring_runs(store)

    assert runs.empty
    assert list(runs.columns) == list(MONITORING_RUN_COLUMNS)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_a_0001_database_is_upgraded_keeping_its_predictions(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0001")
    store = PredictionLogStore(database_url)
    try:
        # Rows as the 0001 schema holds them: the current writer also writes later columns.
        rows = [
            {name: value for name, value in vars(record).items() if name != "role"}
            for record in sample_records(3)
        ]
        with store.engine.begin() as connection:
            columns = list(rows[0])
            connection.execute(
                sa.text(
                    f"INSERT INTO predictions ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + name for name in columns)})"
                ),
                rows,
            )
        with pytest.raises(PredictionLogUnavailableError, match="migrated"):
            read_monitoring_runs(store)

        store.migrate()
        write_monitoring_run(store, run(0))

        with store.engine.connect() as connection:
            version = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            assert version.scalar_one() == "0003"
        assert store.count_predictions() == 3
        assert len(read_monitoring_runs(store)) == 1
    finally:
        store.dispose()


def test_downgrade_to_0001_drops_only_the_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prediction_log.db'}"
    command.upgrade(alembic_config(url), "head")

    command.downgrade(alembic_config(url), "0001")

    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == {"predictions", "feedback", VERSION_TABLE}


# --- trend plots ------------------------------------------------------------------------------


def test_history_is_a_png_of_the_runs(sqlite_store: PredictionLogStore, tmp_path: Path) -> None:
    store = sqlite_store
    for index in range(5):
        write_monitoring_run(store, run(index, source=f"s3://bucket/day-{index}<x>.csv"))

    png_path = render_history(read_monitoring_runs(store), tmp_path / "history")

    png = png_path.read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5_000
    assert list(png_path.parent.iterdir()) == [png_path]  # the dashboard is the workspace's


def test_a_single_run_still_draws(sqlite_store: PredictionLogStore, tmp_path: Path) -> None:
    write_monitoring_run(sqlite_store, run(0))

    png_path = render_history(read_monitoring_runs(sqlite_store), tmp_path)

    assert png_path.read_bytes().startswith(PNG_SIGNATURE)


def test_no_runs_to_draw_says_what_to_run(sqlite_store: PredictionLogStore, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="sentimentops monitor"):
        render_history(read_monitoring_runs(sqlite_store), tmp_path)


def test_pruning_keeps_the_newest_run_folders_and_nothing_else_is_touched(tmp_path: Path) -> None:
    runs = [f"monitoring-20260101-0{hour}0000-000000" for hour in range(5)]
    for name in runs:
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.html").write_text("<html></html>")
    others = ["history", "monitoring-notes", "monitoring-20260101-000000-000000.bak"]
    for name in others:
        (tmp_path / name).mkdir()
    (tmp_path / "monitoring-20260101-000000-000001").write_text("a file, not a run folder")
    spared = tmp_path / runs[0]  # the run just written, whatever its name sorts as

    removed = prune_reports(tmp_path, 2, spare=spared)

    assert removed == [tmp_path / name for name in runs[1:3]]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([runs[0], *runs[3:], *others, "monitoring-20260101-000000-000001"])
    assert prune_reports(tmp_path / "absent", 2) == []


def red_pixels(png_path: Path) -> int:
    """The pixels of the alerts' red x in a history PNG."""
    from matplotlib.image import imread

    rgb = imread(png_path)[..., :3]
    return int(((rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.2) & (rgb[..., 2] < 0.2)).sum())


@pytest.mark.parametrize(
    ("alert", "marked"),
    [
        (Alert("accuracy", 0.7, 0.8, "Accuracy fell."), "accuracy"),
        (Alert("prediction_drift", 0.001, 0.01, "Labels drifted."), "prediction_drift_label"),
        (Alert("volume", 10.0, 50.0, "Few rows."), "rows"),
    ],
)
def test_a_runs_alert_is_marked_on_its_metric_only(
    sqlite_store: PredictionLogStore, tmp_path: Path, alert: Alert, marked: str
) -> None:
    """reference_accuracy and reference_rows, say, are no alert's: a red x on them misled."""
    metrics = {
        "rows": 10.0,
        "reference_rows": 5000.0,
        "accuracy": 0.7,
        "reference_accuracy": 0.9,
        "prediction_drift_label": 0.001,
        "prediction_drift_score": 0.3,
    }
    write_monitoring_run(sqlite_store, run(1, alerts=[asdict(alert)], metrics=metrics))
    write_monitoring_run(sqlite_store, run(2, metrics=metrics))
    runs = read_monitoring_runs(sqlite_store)

    for column in [c for c in runs.columns if c.startswith(METRIC_COLUMN_PREFIX)]:
        expected = [True, False] if column == f"{METRIC_COLUMN_PREFIX}{marked}" else [False] * 2
        assert alerted_runs(runs, column).tolist() == expected, column
    # Drawn: none for a metric no alert is about, beside the alerting run's metric.
    only_references = runs.drop(columns=[f"{METRIC_COLUMN_PREFIX}{marked}"])
    assert red_pixels(render_history(only_references, tmp_path / "references")) == 0
    assert red_pixels(render_history(runs, tmp_path / "all")) > 0
