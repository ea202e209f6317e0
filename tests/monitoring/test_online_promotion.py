"""``models promote --online``, run as a user does, on a home where training in online mode
left version 2 as challenger beside champion version 1, and a prediction log where version 2
scored the same requests in shadow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentimentops.prediction_log import PredictionLogStore
from tests.conftest import Webhook
from tests.monitoring.online_log import write_paired_log
from tests.user import FAST_TRAINING_CONFIG, clone_home, run_cli


@pytest.fixture(scope="module")
def challenger_home(user_champion_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Version 1 champion; version 2 trained with ``registry.promotion: online`` (a wide test
    tolerance, so it is tried whatever its test accuracy): challenger, not champion."""
    home = clone_home(user_champion_home, tmp_path_factory.mktemp("online") / "home")
    trained = run_cli(
        "--config", str(FAST_TRAINING_CONFIG), "train", "--sample", "1500", "--models", "logreg",
        home=home,
        SENTIMENTOPS_REGISTRY__PROMOTION="online",
        SENTIMENTOPS_REGISTRY__TOLERANCE="0.5",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "promotion waits for online evidence" in trained.stdout
    return home


@pytest.fixture
def home(challenger_home: Path, tmp_path: Path) -> Path:
    return clone_home(challenger_home, tmp_path / "home")


def write_log(home: Path, **counts: int) -> None:
    store = PredictionLogStore(f"sqlite:///{home.resolve() / 'prediction_log.db'}")
    store.migrate()
    try:
        write_paired_log(store, champion="1", challenger="2", requests=150, **counts)
    finally:
        store.dispose()


def aliases(home: Path) -> str:
    listed = run_cli("models", "list", home=home)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def test_training_in_online_mode_leaves_the_new_version_as_challenger(home: Path) -> None:
    listed = aliases(home).splitlines()

    assert any(line.split()[:2] == ["2", "challenger"] for line in listed), listed
    assert any(line.split()[:2] == ["1", "champion"] for line in listed), listed


def test_a_better_challenger_online_is_promoted_with_its_reason(
    home: Path, webhook: Webhook
) -> None:
    write_log(home, champion_right=100, challenger_right=140)

    promoted = run_cli(
        "models", "promote", "--online", "--since", "2h",
        home=home,
        SENTIMENTOPS_MONITORING__WEBHOOK_URL=webhook.url,
    )  # fmt: skip

    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "imdb-sentiment: promoted: version 2 is more accurate online" in promoted.stdout
    assert "0.9333 vs 0.6667 on 150 paired requests" in promoted.stdout
    assert "champion v1" in promoted.stdout  # the evidence's table
    (event,) = [json.loads(body) for _, body in webhook.received]
    assert event["event"] == "promotion"
    assert event["message"].startswith("imdb-sentiment version 2 promoted: version 2 is more")
    assert event["decision"]["comparison"]["paired_labelled"] == 150
    again = run_cli("models", "promote", "--online", "--since", "2h", home=home)
    assert again.returncode == 3
    assert "version 2 is the champion already" in again.stdout


def test_a_worse_challenger_online_is_refused_with_its_reason(home: Path) -> None:
    write_log(home, champion_right=140, challenger_right=100)

    refused = run_cli("models", "promote", "--online", "--since", "2h", home=home)

    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "not promoted: version 2 is worse online (0.6667 vs 0.9333" in refused.stdout
    assert "champion stays version 1" in refused.stdout
    listed = aliases(home).splitlines()
    assert any(line.split()[:2] == ["1", "champion"] for line in listed), listed


def test_a_challenger_without_traffic_waits(home: Path) -> None:
    refused = run_cli("models", "promote", "--online", home=home)

    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "not promoted: no online evidence yet" in refused.stdout
    assert "serving.shadow_share" in refused.stdout


def test_the_retraining_flow_in_online_mode_promotes_the_challenger_on_trial(home: Path) -> None:
    write_log(home, champion_right=100, challenger_right=140)

    completed = run_cli(
        "pipeline", "run", "retraining", "--hours", "2", "--json",
        home=home,
        SENTIMENTOPS_REGISTRY__PROMOTION="online",
    )  # fmt: skip

    assert completed.returncode in (0, 3), completed.stdout + completed.stderr
    result = json.loads(completed.stdout[completed.stdout.index("{") :])
    assert result["promoted"] is True
    assert result["retrained"] is False  # the challenger on trial was decided on, not replaced
    assert result["online"]["act"] is True
    assert (result["champion_before"], result["champion_after"]) == ("1", "2")
    message = result["message"]
    assert "Challenger promoted on online evidence: version 2 is more accurate" in message


def test_promoting_online_without_a_challenger_says_how_to_get_one(
    user_champion_home: Path, tmp_path: Path
) -> None:
    import mlflow

    home = clone_home(user_champion_home, tmp_path / "home")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home.resolve() / 'mlflow.db'}")
    # Training gave the champion the challenger alias too; a rollback, say, takes it away.
    client.delete_registered_model_alias("imdb-sentiment", "challenger")

    completed = run_cli("models", "promote", "--online", home=home)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    said = " ".join((completed.stdout + completed.stderr).split())
    assert "imdb-sentiment has no challenger to judge on live traffic" in said
    assert "SENTIMENTOPS_REGISTRY__PROMOTION=online" in said
