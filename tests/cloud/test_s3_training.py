"""Training with its data and its MLflow artifacts on S3 (a moto server), then batch scoring
S3 to S3 with the champion loaded back from those artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.training.job import run_training
from tests.servers import moto_s3

runner = CliRunner()


def test_train_on_s3_data_with_s3_artifacts_then_predict_s3_to_s3(
    fast_config: Path,
    reference_reviews: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        for bucket in ("data", "mlflow", "outputs"):
            s3.create_bucket(Bucket=bucket)
        sample = reference_reviews.sample(1500, random_state=4)
        local = tmp_path / "train.csv"
        sample[["review", "sentiment", "movie_id"]].to_csv(local, index=False)
        s3.upload_file(str(local), "data", "imdb/train.csv")
        sample.head(50).rename_axis("id").reset_index()[["id", "review"]].to_csv(
            tmp_path / "new.csv", index=False
        )
        s3.upload_file(str(tmp_path / "new.csv"), "data", "incoming/new.csv")
        monkeypatch.setenv("SENTIMENTOPS_TRACKING__ARTIFACT_LOCATION", "s3://mlflow/artifacts")
        get_settings.cache_clear()

        outcome = run_training(get_settings(), data="s3://data/imdb/train.csv", models=["logreg"])
        stored = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow")["Contents"]]
        result = runner.invoke(
            app, ["predict", "s3://data/incoming/new.csv", "s3://outputs/scored/new.csv"]
        )
        summary = json.loads(
            s3.get_object(Bucket="outputs", Key="scored/new.csv.summary.json")["Body"].read()
        )

    assert outcome.tracked.champion == "1"
    assert any(key.endswith("/MLmodel") for key in stored)  # the registered model itself
    assert any(key.endswith("reference/reference_sample.parquet") for key in stored)
    assert not (get_settings().home / "mlartifacts").exists()  # nothing went to local disk
    assert result.exit_code == 0, result.output
    assert summary["predicted"] == 50
    assert (summary["model_name"], summary["model_version"]) == ("imdb-sentiment", "1")
