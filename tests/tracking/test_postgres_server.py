"""Training against a real MLflow tracking server backed by PostgreSQL (team mode's store)."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import psycopg2
import pytest
from mlflow import MlflowClient

from sentimentops.config import get_settings
from sentimentops.training.job import run_training
from tests.servers import MLFLOW, free_port, mlflow_server_command, running


@pytest.mark.stack  # a real MLflow server on PostgreSQL and a training: make test-stack
def test_training_registers_through_a_postgres_backed_server(
    fast_config: Path,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    # postgres_url names psycopg2: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3.
    command = mlflow_server_command(postgres_url, tmp_path / "artifacts", port)
    env = os.environ | {"PATH": f"{Path(MLFLOW).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)

    with running(command, f"{uri}/health", tmp_path / "server.log", env):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        outcome = run_training(get_settings(), sample=1000, models=["logreg"])
        client = MlflowClient(tracking_uri=uri)
        champion = client.get_model_version_by_alias("imdb-sentiment", "champion")
        test_accuracy = client.get_run(champion.run_id).data.metrics["test_accuracy"]
        mlflow.set_tracking_uri(uri)
        predictions = mlflow.pyfunc.load_model("models:/imdb-sentiment@champion").predict(
            ["An excellent, heartfelt film.", "A dreadful, dull film."]
        )

    assert outcome.tracking_uri == uri
    assert str(champion.version) == "1"
    assert test_accuracy > 0.6
    assert predictions["label"].tolist() == ["positive", "negative"]
    # The runs live in PostgreSQL, not in a local file.
    libpq_url = postgres_url.replace("+psycopg2", "")
    with psycopg2.connect(libpq_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs")
        assert cursor.fetchone()[0] == 2  # the parent run and the one candidate run
    assert not (get_settings().home / "mlflow.db").exists()
