"""Monitoring reports published to S3 (a moto server) when reports_dir is an s3:// prefix."""

from __future__ import annotations

from pathlib import Path

import boto3
import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.monitoring.job import monitor_and_record
from sentimentops.monitoring.run_store import read_monitoring_runs
from sentimentops.prediction_log import open_store
from sentimentops.training.job import run_training
from tests.servers import moto_s3


def test_reports_go_to_s3_and_the_history_points_there(
    fast_config: Path,
    reference_reviews: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_training(get_settings(), sample=1500, models=["logreg"])
    current = tmp_path / "current.csv"
    test = reference_reviews[reference_reviews["split"] == "test"]
    test.sample(300, random_state=1)[["review", "sentiment"]].to_csv(current, index=False)
    with moto_s3(monkeypatch):
        boto3.client("s3").create_bucket(Bucket="reports")
        monkeypatch.setenv("SENTIMENTOPS_MONITORING__REPORTS_DIR", "s3://reports/monitoring")
        get_settings.cache_clear()

        outcome = monitor_and_record(
            get_settings(),
            model_uri="models:/imdb-sentiment@champion",
            current_location=str(current),
        )
        keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="reports")["Contents"]}

    assert outcome.published is not None
    assert outcome.published.startswith("s3://reports/monitoring/monitoring-")
    folder = outcome.published.removeprefix("s3://reports/")
    assert {f"{folder}/report.html", f"{folder}/summary.json"} <= keys
    assert outcome.report_location == f"{outcome.published}/report.html"
    store = open_store(get_settings())
    try:
        history = read_monitoring_runs(store)
    finally:
        store.dispose()
    assert history["report_path"].tolist() == [outcome.report_location]
