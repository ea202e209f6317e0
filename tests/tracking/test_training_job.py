"""The training job against a real MLflow store: registry, gate, aliases, pyfunc, serving."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.errors import DataValidationError, TrackingUnavailableError
from sentimentops.tracking.store import resolve_tracking_uri
from sentimentops.training.job import run_training
from tests.conftest import FAST_TRAINING_CONFIG, REFERENCE_CHECKSUM, REFERENCE_DATA
from tests.servers import MLFLOW, free_port, running
from tests.user import clone_home

runner = CliRunner()
NAME = "imdb-sentiment"


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one training run (version 1, champion), trained once for the module."""
    home = tmp_path_factory.mktemp("trained") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTIMENTOPS_HOME", str(home))
        patch.setenv("SENTIMENTOPS_CONFIG", str(FAST_TRAINING_CONFIG))
        patch.setenv("SENTIMENTOPS_DATA__REFERENCE_PATH", str(REFERENCE_DATA))
        patch.setenv("SENTIMENTOPS_DATA__REFERENCE_SHA256_PATH", str(REFERENCE_CHECKSUM))
        get_settings.cache_clear()
        run_training(get_settings(), sample=1200)
        get_settings.cache_clear()
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # exported by mlflow itself
        os.environ.pop(name, None)
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")
    return home


@pytest.fixture
def trained_home(trained_once: Path, fast_config: Path, isolated_settings: Path) -> Path:
    """A home of this test's own holding version 1 as champion (a copy of ``trained_once``),
    with MLflow pointed at it as the training left it."""
    from sentimentops.tracking.store import connect

    home = clone_home(trained_once, isolated_settings)
    connect(get_settings())
    return home


def test_first_training_registers_a_champion_readable_by_plain_mlflow(trained_home: Path) -> None:
    client = MlflowClient(tracking_uri=resolve_tracking_uri(get_settings()))

    champion = client.get_model_version_by_alias(NAME, "champion")
    run = client.get_run(champion.run_id)

    assert str(champion.version) == "1"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "1"
    for metric in (
        "test_accuracy",
        "test_f1",
        "test_roc_auc",
        "test_log_loss",
        "val_accuracy",
        "cv_accuracy_mean",
        "cv_accuracy_std",
    ):
        assert metric in run.data.metrics
    assert run.data.tags["promotion_reason"] == "no champion yet"
    assert len(run.data.tags["config_hash"]) == 64
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {
        "imdb-train",
        "imdb-validation",
        "imdb-test",
    }
    nested = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert {r.data.params["family"] for r in nested} == {"logreg", "nb_logreg"}
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"plots", "evaluation", "reference", "model_card.md", "promotion", "data"} <= artifacts
    assert "Intended use" in champion.description


def test_pyfunc_predicts_label_and_score_on_raw_strings(trained_home: Path) -> None:
    mlflow.set_tracking_uri(resolve_tracking_uri(get_settings()))

    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    predictions = model.predict(["A wonderful, moving film.", "Dreadful and boring."])

    assert list(predictions.columns) == ["label", "score"]
    assert predictions["label"].tolist() == ["positive", "negative"]


def test_no_pickle_in_the_logged_model(trained_home: Path) -> None:
    files = [p.name for p in (trained_home / "mlartifacts").rglob("*") if p.is_file()]

    assert "model.skops" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle"))]


def test_second_identical_training_keeps_the_champion_and_says_why(trained_home: Path) -> None:
    outcome = run_training(get_settings(), sample=1200)
    client = MlflowClient(tracking_uri=resolve_tracking_uri(get_settings()))

    assert outcome.tracked.version == "2"  # type: ignore[attr-defined]
    assert not outcome.tracked.decision.promote  # type: ignore[attr-defined]
    assert outcome.tracked.decision.reason == "identical predictions to the champion"  # type: ignore[attr-defined]
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "2"

    promoted = runner.invoke(app, ["models", "promote", "2"])
    listing = runner.invoke(app, ["models", "list"])
    rolled_back = runner.invoke(app, ["models", "rollback"])

    assert promoted.exit_code == 0, promoted.output
    assert listing.exit_code == 0, listing.output
    assert "champion" in listing.output
    assert "challenger" in listing.output
    assert rolled_back.exit_code == 0, rolled_back.output
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    shown = runner.invoke(app, ["models", "show"])
    assert "Model card: imdb-sentiment version 1" in shown.output


def test_cli_train_prints_the_candidate_table(fast_config: Path) -> None:
    result = runner.invoke(app, ["train", "--sample", "1000", "--models", "logreg"])

    assert result.exit_code == 0, result.output
    assert "Candidates" in result.output
    assert "promoted to champion: no champion yet" in " ".join(result.output.split())


def test_data_failing_validation_stops_training(fast_config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        {
            "review": ["good film"] * 50 + ["bad film"] * 50,
            "sentiment": ["positive"] * 50 + ["?"] * 50,
        }
    ).to_csv(bad, index=False)

    with pytest.raises(DataValidationError, match="50 of 100 rows quarantined"):
        run_training(get_settings(), data=str(bad))
    result = runner.invoke(app, ["train", "--data", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.timeout(60)
def test_unreachable_tracking_server_fails_fast(
    fast_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    with pytest.raises(TrackingUnavailableError, match=uri):
        run_training(get_settings(), sample=500)


def test_mlflow_models_serve_scores_the_champion(trained_home: Path, tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "MLFLOW_TRACKING_URI": resolve_tracking_uri(get_settings()),
        # mlflow runs `uvicorn` from PATH: the project's environment, as under `uv run`.
        "PATH": f"{Path(MLFLOW).parent}{os.pathsep}{os.environ['PATH']}",
    }
    command = [
        MLFLOW,
        "models",
        "serve",
        "-m",
        f"models:/{NAME}@champion",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]

    with running(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", env):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps(
                {"inputs": ["A superb film, I loved it.", "Awful, boring rubbish."]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())

    labels = [row["label"] for row in body["predictions"]]
    assert labels == ["positive", "negative"]
    assert all(0 <= row["score"] <= 1 for row in body["predictions"])


def test_predict_with_the_registry_champion(trained_home: Path, tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": ["a", "b"], "review": ["A superb film.", "Awful and boring."]}).to_csv(
        source, index=False
    )
    output = tmp_path / "scored.parquet"

    result = runner.invoke(app, ["predict", str(source), str(output)])

    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(output)
    assert scored["id"].tolist() == ["a", "b"]
    assert set(scored["model_name"]) == {NAME}
    assert set(scored["model_version"]) == {"1"}


def test_a_version_is_found_again_by_its_training_fingerprint(trained_home: Path) -> None:
    from sentimentops.tracking import registry
    from sentimentops.tracking.runs import FINGERPRINT_TAG

    fingerprint = registry.version_info(NAME, "1").tags[FINGERPRINT_TAG]

    assert len(fingerprint) == 64
    assert registry.find_version(NAME, FINGERPRINT_TAG, fingerprint) == "1"
    assert registry.find_version(NAME, FINGERPRINT_TAG, "0" * 64) is None
    assert registry.find_version("no-such-model", FINGERPRINT_TAG, fingerprint) is None


def test_a_model_file_changed_after_registration_is_refused(trained_home: Path) -> None:
    from sentimentops.errors import ModelIntegrityError
    from sentimentops.tracking import registry
    from sentimentops.tracking.flavor import CHECKSUM_KEY
    from sentimentops.tracking.loading import load_version

    recorded = registry.version_info(NAME, "1").tags[CHECKSUM_KEY]
    assert len(recorded) == 64
    assert load_version(f"models:/{NAME}@champion").pipeline is not None  # intact: loads
    # Tamper with the stored artifact: the same size, one byte different.
    (stored,) = (trained_home / "mlartifacts").rglob("model.skops")
    content = bytearray(stored.read_bytes())
    content[len(content) // 2] ^= 0xFF
    stored.write_bytes(bytes(content))

    with pytest.raises(ModelIntegrityError, match="was changed or corrupted"):
        load_version(f"models:/{NAME}@champion")
    (trained_home / "in.csv").write_text("id,review\n1,A fine film.\n")
    result = runner.invoke(
        app, ["predict", str(trained_home / "in.csv"), str(trained_home / "out.csv")]
    )
    assert result.exit_code == 2
    assert "was changed or corrupted" in result.output


def test_a_model_folder_carries_its_checksum(model_folder: Path, tmp_path: Path) -> None:
    import shutil

    from sentimentops.errors import ModelIntegrityError
    from sentimentops.tracking.flavor import load_pipeline

    copy = tmp_path / "model"
    shutil.copytree(model_folder, copy)
    assert load_pipeline(str(copy)) is not None
    with (copy / "model.skops").open("ab") as stream:
        stream.write(b"\0")

    with pytest.raises(ModelIntegrityError):
        load_pipeline(str(copy))


def test_a_version_records_the_texts_it_was_trained_on(trained_home: Path) -> None:
    from sentimentops.data.version import text_fingerprints
    from sentimentops.tracking import registry
    from sentimentops.tracking.runs import load_trained_texts
    from sentimentops.training.data import prepare_training_data

    splits = prepare_training_data(get_settings(), sample=1200).splits

    recorded = load_trained_texts(registry.version_info(NAME, "1").run_id)

    trained = pd.concat([splits.train, splits.validation])["review"]
    assert recorded is not None
    assert sorted(recorded.tolist()) == sorted(text_fingerprints(trained).tolist())
    assert not set(text_fingerprints(splits.test["review"]).tolist()) & set(recorded.tolist())


def test_a_champion_without_a_record_of_its_training_texts_is_not_compared(
    trained_home: Path,
) -> None:
    from sentimentops.tracking import registry

    (record,) = (trained_home / "mlartifacts").rglob("trained_texts.parquet")
    record.unlink()  # as for a version registered before versions kept this record

    outcome = run_training(get_settings(), sample=1500)

    decision = outcome.tracked.decision  # type: ignore[attr-defined]
    assert not decision.promote
    assert decision.reason.startswith(
        "champion version 1 has no record of the reviews it was trained on"
    )
    assert decision.champion_accuracy is None
    assert registry.champion_version(NAME) == "1"
