"""Automatic rollback, end to end, as a team sees it: `sentimentops serve` answers with
champion version 1, a deliberately bad version 2 (trained on flipped labels) is promoted, its
answers get feedback, one run of `sentimentops monitor --from-log` alerts on accuracy, finds
that version 1 was better on the same window's feedback and moves the alias back; the API
reloads by itself and a client sees version 1 answer again. The webhook says why."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import REFERENCE_DATA, Webhook
from tests.servers import eventually, free_port, stop, wait_for
from tests.user import FAST_TRAINING_CONFIG, SCRIPT, clone_home, run_cli, user_env

LABELLED = 80  # per version: above monitoring.alerts.min_labelled_rows (50)


@pytest.fixture
def bad_promoted_home(user_champion_home: Path, tmp_path: Path) -> Path:
    """Champion version 1 (trained by the CLI) and version 2, trained on flipped labels and
    registered (not promoted: online mode keeps it challenger) for the test to promote."""
    home = clone_home(user_champion_home, tmp_path / "home")
    reviews = pd.read_parquet(REFERENCE_DATA).sample(3000, random_state=5)
    flipped = reviews.assign(
        sentiment=reviews["sentiment"].map({"positive": "negative", "negative": "positive"})
    )
    data = tmp_path / "flipped.parquet"
    flipped.to_parquet(data, index=False)
    trained = run_cli(
        "--config", str(FAST_TRAINING_CONFIG), "train", "--data", str(data),
        "--models", "logreg",
        home=home,
        SENTIMENTOPS_REGISTRY__PROMOTION="online",
        SENTIMENTOPS_REGISTRY__TOLERANCE="0.99",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "Registered imdb-sentiment version 2" in trained.stdout
    return home


@pytest.fixture
def api(bad_promoted_home: Path, tmp_path: Path) -> Iterator[str]:
    """`sentimentops serve` on a free port, reloading the champion alias every half second."""
    port = free_port()
    env = user_env(
        bad_promoted_home,
        SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS="0.5",
        SENTIMENTOPS_PREDICTION_LOG__FLUSH_SECONDS="0.05",
    )
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(f"{url}/health/ready", process)
            yield url
        finally:
            stop(process)


def answer_with_feedback(client: httpx.Client, reviews: pd.DataFrame) -> list[str]:
    """POST each review, then its true label as feedback; the versions that answered."""
    versions = []
    for review, truth in zip(reviews["review"], reviews["sentiment"], strict=True):
        answer = client.post("/v1/predict", json={"text": review})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        versions.append(body["model"]["version"])
        feedback = client.post(
            "/v1/feedback", json={"request_id": body["request_id"], "label": truth}
        )
        assert feedback.status_code == 202, feedback.text
    return versions


def version_answering(client: httpx.Client) -> str:
    answer = client.post("/v1/predict", json={"text": "A fine film."})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"]["version"])


def test_a_bad_promotion_is_rolled_back_within_one_monitoring_run(
    api: str, bad_promoted_home: Path, webhook: Webhook
) -> None:
    home = bad_promoted_home
    test = pd.read_parquet(REFERENCE_DATA).query("split == 'test'")
    before, after = test.iloc[:LABELLED], test.iloc[LABELLED : 2 * LABELLED]
    with httpx.Client(base_url=api, timeout=30) as client:
        assert set(answer_with_feedback(client, before)) == {"1"}

        promoted = run_cli("models", "promote", "2", home=home)
        assert promoted.returncode == 0, promoted.stderr
        eventually(lambda: version_answering(client) == "2", what="version 2 answering")
        assert set(answer_with_feedback(client, after)) == {"2"}
        time.sleep(0.5)  # the log writer flushes every 0.05 s

        monitored = run_cli(
            "monitor", "--from-log", "--since", "1h",
            home=home,
            SENTIMENTOPS_MONITORING__WEBHOOK_URL=webhook.url,
            SENTIMENTOPS_MONITORING__ALERTS__MIN_ACCURACY="0.6",
        )  # fmt: skip

        assert monitored.returncode == 3, monitored.stdout + monitored.stderr
        assert "champion version 2 rolled back: the previous champion was better" in (
            " ".join(monitored.stdout.split())
        )
        # The API reloads the alias by itself: the client sees version 1 answer again.
        eventually(lambda: version_answering(client) == "1", what="version 1 answering again")

    # The run's own report and summary say so too (they were written before it was decided).
    (run,) = (home / "reports").glob("monitoring-*")
    said = "champion version 2 rolled back: the previous champion was better"
    assert any(said in note for note in json.loads((run / "summary.json").read_text())["notes"])
    assert said in (run / "report.html").read_text(encoding="utf-8")

    events = [json.loads(body) for _, body in webhook.received]
    (rollback,) = [event for event in events if event.get("event") == "rollback"]
    assert (
        "rolled back from version 2 to version 1 after the alert(s) accuracy"
        in (rollback["message"])
    )
    # Version 2 came in as the challenger: it is withdrawn, not left to return as a canary.
    assert "version 2 is no longer the challenger" in rollback["message"]
    listed = run_cli("models", "list", home=home)
    assert "challenger" not in listed.stdout, listed.stdout
    assert rollback["decision"]["act"] is True
    assert any(alert["kind"] == "accuracy" for event in events for alert in event.get("alerts", []))
