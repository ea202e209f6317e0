"""Registry faults injected for real: the MLflow tracking server becomes unreachable.

A real ``mlflow server`` holds the registered champion; the API and the CLI reach it through a
TCP proxy, so stopping the proxy is the server going away (new connections refused, open ones
cut) and starting it again is the server coming back, without paying for a restart.
``tests/tracking/test_training_job.py::test_unreachable_tracking_server_fails_fast`` already
shows ``run_training`` refusing a closed port; here the CLI's exit code, message and time are
measured, for a refused port and for a server that accepts connections but never answers.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from tests.prediction_log.tcp_proxy import TcpProxy
from tests.servers import MLFLOW, free_port, mlflow_server_command, running
from tests.serving.conftest import ClientFactory

runner = CliRunner()
API_KEY = "reliability-admin-key"
CHAMPION = "models:/imdb-sentiment@champion"


@pytest.fixture
def registry(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TcpProxy]:
    """A real MLflow server whose registry has ``model_folder`` as imdb-sentiment version 1,
    alias champion; MLFLOW_TRACKING_URI points at the proxy in front of it, which is yielded."""
    port = free_port()
    server_uri = f"http://127.0.0.1:{port}"
    command = mlflow_server_command(
        f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts", port
    )
    env = os.environ | {"PATH": f"{Path(MLFLOW).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with running(command, f"{server_uri}/health", tmp_path / "server.log", env, new_session=True):
        _register_champion(server_uri, model_folder)
        with TcpProxy("127.0.0.1", port) as proxy:
            monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{proxy.port}")
            # What tracking.store.connect() exports for the process, set here so that they
            # are undone after the test instead of leaking into the next ones.
            monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
            monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
            yield proxy


def _register_champion(uri: str, model_folder: Path) -> None:
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("reliability")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(model_folder), "model")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "imdb-sentiment")
    MlflowClient(uri).set_registered_model_alias("imdb-sentiment", "champion", version.version)
    mlflow.set_tracking_uri("")


def _metric(metrics_text: str, line_start: str) -> float:
    found = re.search(rf"^{re.escape(line_start)} (\S+)$", metrics_text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.stack  # a real MLflow server and the API: make test-stack
def test_api_keeps_serving_when_the_registry_goes_away_and_reports_the_failed_reload(
    registry: TcpProxy, make_client: ClientFactory
) -> None:
    headers = {"X-API-Key": API_KEY}
    with make_client(serving__model_uri=CHAMPION, api_key=API_KEY) as client:
        served = client.post("/v1/predict", json={"text": "A wonderful film."}, headers=headers)
        assert served.json()["model"]["version"] == "1"

        registry.stop()  # the tracking server is gone
        answers = [
            client.post("/v1/predict", json={"text": f"Review {n}: superb."}, headers=headers)
            for n in range(20)
        ]
        started = time.monotonic()
        reload = client.post("/admin/reload", headers=headers)
        reload_seconds = time.monotonic() - started
        after = client.post("/v1/predict", json={"text": "Dull."}, headers=headers)
        ready = client.get("/health/ready")
        metrics = client.get("/metrics", headers=headers).text

        print(f"failed reload answered in {reload_seconds:.2f} s")  # for the reliability table
        registry.start()  # back: the next reload finds the same version
        recovered = client.post("/admin/reload", headers=headers)

    assert [answer.status_code for answer in answers] == [200] * 20
    assert {answer.json()["model"]["version"] for answer in answers} == {"1"}
    assert reload.status_code == 503
    error = reload.json()["error"]
    assert error["type"] == "unavailable"
    assert "still serving the previous model" in error["message"]
    assert "TrackingUnavailableError" in error["message"]  # the registry, not a missing model
    assert reload_seconds < 15, "a reload must fail in seconds, not minutes of retries"
    assert after.status_code == 200
    assert after.json()["model"]["version"] == "1"
    assert ready.status_code == 200
    assert _metric(metrics, 'sentimentops_model_reloads_total{outcome="failed"}') == 1.0
    assert recovered.status_code == 200
    assert recovered.json()["reloaded"] is False  # unchanged: version 1 is still the champion


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung server or a black-holed
    network path, where a client without a timeout would wait forever."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.parametrize("server", ["refused", "silent"])
def test_training_against_an_unreachable_tracking_server_fails_fast(
    server: str, silent_server: str, fast_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = silent_server if server == "silent" else f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SENTIMENTOPS_TRACKING__TIMEOUT_SECONDS", "2")
    # What connect() would set for the process: set here so that they end with the test.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    get_settings.cache_clear()
    # Import what `train` imports first, so the clock measures the failure, not the imports.
    importlib.import_module("sentimentops.training.job")

    started = time.monotonic()
    result = runner.invoke(app, ["train", "--sample", "500", "--models", "logreg"])
    seconds = time.monotonic() - started

    message = " ".join(result.output.split())
    assert result.exit_code == 1, message
    assert f"MLflow tracking server {uri} is unreachable" in message
    assert ("timed out" if server == "silent" else "Connection refused") in message
    assert "Traceback" not in message
    # Refused: at once; silent: the 2 s timeout. Before any data is read or model trained.
    assert seconds < (6 if server == "silent" else 4), f"took {seconds:.1f} s"
    print(f"{server}: failed in {seconds:.2f} s")  # for the reliability table
