"""The monitoring job as the CLI and the flows run it: what it leaves on disk and in MLflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sentimentops.config import get_settings
from sentimentops.monitoring.job import monitor_and_record


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
