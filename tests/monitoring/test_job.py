"""The monitoring job as the CLI and the flows run it: only the monitored version's rows are
judged, and what it leaves on disk and in MLflow."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.monitoring import job
from sentimentops.monitoring.job import monitor_and_record
from sentimentops.monitoring.run import MonitoringOutcome
from sentimentops.tracking.loading import LoadedModel


@pytest.fixture
def version_2(monitored_model: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """The champion is version 2 of imdb-logreg (the real small model under that version)."""
    promoted = dataclasses.replace(monitored_model, version="2")
    monkeypatch.setattr(job, "load_version", lambda uri, **_: promoted)


def predictions_file(path: Path, model: LoadedModel, texts: list[str], versions: list[str]) -> Path:
    scores = model.pipeline.positive_scores(texts)
    pd.DataFrame(
        {
            "id": [str(i) for i in range(len(texts))],
            "label": np.where(scores >= 0.5, "positive", "negative"),
            "score": scores,
            "model_name": model.name,
            "model_version": versions,
        }
    ).to_csv(path, index=False)
    return path


def monitor_champion(current: Path, report: Path) -> MonitoringOutcome:
    """The monitoring job on the file ``current`` against imdb-logreg's champion."""
    return monitor_and_record(
        get_settings(),
        model_uri="models:/imdb-logreg@champion",
        current_location=str(current),
        output_dir=report,
    )


def test_predictions_of_an_earlier_version_only_are_refused_naming_the_versions(
    version_2: None, monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    texts = held_out["review"].head(150).tolist()
    old = predictions_file(tmp_path / "old.csv", monitored_model, texts, ["1"] * 150)

    with pytest.raises(BadInputError) as raised:
        monitor_and_record(
            get_settings(), model_uri="models:/imdb-logreg@champion", current_location=str(old)
        )

    message = str(raised.value)
    assert "model version(s) 1, none by imdb-logreg version 2" in message
    assert "--model models:/imdb-logreg/<version>" in message


def test_a_batch_output_with_every_row_rejected_gets_the_volume_and_reject_alerts(
    version_2: None, monitored_model: LoadedModel, tmp_path: Path
) -> None:
    """No row names a version: that is not another version's output, it is a batch gone wrong."""
    output = predictions_file(tmp_path / "scored.csv", monitored_model, [], [])
    (tmp_path / "scored.csv.summary.json").write_text(json.dumps({"rows_in": 40, "rejected": 40}))

    outcome = monitor_champion(output, tmp_path / "report")

    assert outcome.metrics.rows == 0
    assert {"volume", "reject_rate"} <= {alert.kind for alert in outcome.alerts}


def test_a_file_mixing_versions_is_judged_on_the_monitored_one_saying_what_was_left_out(
    version_2: None, monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    texts = held_out["review"].head(300).tolist()
    mixed = predictions_file(
        tmp_path / "mixed.csv", monitored_model, texts, ["1"] * 100 + ["2"] * 200
    )

    outcome = monitor_champion(mixed, tmp_path / "report")

    assert outcome.metrics.rows == 200
    note = "left out 100 of 300 rows predicted by other model versions than 2"
    assert any(note in n for n in outcome.notes), outcome.notes
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert any(note in n for n in summary["notes"])


def test_only_the_newest_report_folders_are_kept_and_mlflow_keeps_every_run(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__KEEP_REPORTS", "2")
    get_settings.cache_clear()
    settings = get_settings()
    reports = settings.state_path("reports")
    (reports / "history").mkdir(parents=True)  # `monitor history` writes here: not a run
    now = datetime.now(UTC)

    folders = [
        monitor_and_record(
            settings, model_uri=str(model_folder), log_window=(now - timedelta(hours=1), now)
        ).output_dir
        for _ in range(3)
    ]

    assert sorted(path.name for path in reports.iterdir()) == sorted(
        ["history", folders[1].name, folders[2].name]
    )
    assert (folders[2] / "summary.json").is_file()
    import mlflow

    runs = mlflow.search_runs(filter_string="tags.`sentimentops.kind` = 'monitoring'")
    assert len(runs) == 3
