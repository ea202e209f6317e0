"""The closed loop: drift → retraining → the gate promotes a better challenger, refuses a worse
one, and nothing is retrained when monitoring finds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.monitoring.results import Alert
from sentimentops.pipelines.monitoring_flow import MonitoringFlowResult
from sentimentops.pipelines.retraining_flow import (
    retraining_flow,
    retraining_reasons,
    trial_holds_retraining,
)
from sentimentops.pipelines.training_flow import run_training_flow
from sentimentops.tracking import registry
from tests.conftest import Webhook
from tests.pipelines.conftest import truncated_reviews

MODEL = "imdb-sentiment"


@pytest.fixture
def drifted(reference_reviews: pd.DataFrame, tmp_path: Path) -> str:
    path = tmp_path / "drifted.csv"
    truncated_reviews(reference_reviews, 400, seed=7).to_csv(path, index=False)
    return str(path)


def test_only_alerts_a_model_can_answer_call_for_retraining() -> None:
    alerts = [
        Alert("volume", 3, 100, "Only 3 rows."),
        Alert("reject_rate", 0.2, 0.05, "Many rejects."),
        Alert("estimated_accuracy", 0.7, 0.85, "Estimated accuracy fell."),
    ]
    monitoring = MonitoringFlowResult(
        "alert", [a.__dict__ for a in alerts], MODEL, "1", "x.csv", None, "s.json", {}, []
    )

    assert retraining_reasons(monitoring) == ["estimated_accuracy: Estimated accuracy fell."]


def test_a_challenger_on_trial_holds_retraining_only_while_it_can_gather_evidence() -> None:
    def monitored(*kinds: str) -> MonitoringFlowResult:
        alerts = [{"kind": kind, "message": kind} for kind in kinds]
        return MonitoringFlowResult("alert", alerts, MODEL, "1", "x.csv", None, "s.json", {}, [])

    waiting = {"act": False, "waiting": True}
    promoted = {"act": True, "waiting": False}
    refused = {"act": False, "waiting": False}

    assert trial_holds_retraining(promoted, monitored(), shadow_share=0.0)
    assert trial_holds_retraining(waiting, monitored("text_drift"), shadow_share=0.5)
    assert not trial_holds_retraining(None, monitored("text_drift"), shadow_share=0.5)
    assert not trial_holds_retraining(refused, monitored("text_drift"), shadow_share=0.5)
    # Shadow off: no request pairs the two versions, the trial would wait forever.
    assert not trial_holds_retraining(waiting, monitored("text_drift"), shadow_share=0.0)
    # The champion failing on accuracy does not wait for the trial's verdict.
    assert not trial_holds_retraining(waiting, monitored("accuracy"), shadow_share=0.5)
    assert not trial_holds_retraining(waiting, monitored("estimated_accuracy"), shadow_share=1.0)


def test_drift_retrains_and_a_better_challenger_is_promoted(
    drifted: str, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__WEBHOOK_URL", webhook.url)
    get_settings.cache_clear()
    # A weak champion: a small random forest (20 trees on 500 words) on 2,000 reviews.
    run_training_flow(get_settings(), sample=2000, models=["random_forest"])

    result = retraining_flow(current=drifted, sample=6000, models=["logreg"])

    assert result.retrained
    assert result.reasons
    assert (result.champion_before, result.champion_after) == ("1", "2")
    assert result.promoted
    assert registry.champion_version(MODEL) == "2"
    gate = result.training.decision if result.training else {}
    assert gate["challenger_accuracy"] > gate["champion_accuracy"]
    assert gate["p_value"] < 0.05
    assert result.message.startswith("Promoted")
    notice = json.loads(webhook.received[-1][1])
    assert notice["event"] == "retraining"
    assert (notice["champion_before"], notice["champion_after"]) == ("1", "2")
    assert notice["gate"]["champion_accuracy"] == pytest.approx(gate["champion_accuracy"])


def test_a_worse_challenger_is_refused_and_the_champion_stays(drifted: str) -> None:
    run_training_flow(get_settings(), sample=6000, models=["logreg"])  # a strong champion

    # The same 6,000 reviews, so the same test rows: a smaller sample would be mostly reviews
    # the champion was trained on (samples with one seed are nested), too few to judge on.
    result = retraining_flow(current=drifted, sample=6000, models=["random_forest"])

    assert result.retrained
    assert not result.promoted
    assert (result.champion_before, result.champion_after) == ("1", "1")
    assert registry.champion_version(MODEL) == "1"
    assert [info.version for info in registry.list_versions(MODEL)] == ["2", "1"]
    gate = result.training.decision if result.training else {}
    assert gate["challenger_accuracy"] < gate["champion_accuracy"]
    assert result.message.startswith("Champion kept (version 1)")
    assert result.training is not None
    assert result.training.reason in result.message


def test_no_alert_no_retraining(
    reference_reviews: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Floors this small model meets: a healthy window must not retrain.
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ACCURACY", "0.7")
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ESTIMATED_ACCURACY", "0.7")
    get_settings.cache_clear()
    training = run_training_flow(get_settings(), sample=3000, models=["logreg"])
    test = pd.read_parquet(training.test_split)
    current = tmp_path / "healthy.csv"
    test[["review", "sentiment"]].to_csv(current, index=False)

    result = retraining_flow(current=str(current))

    assert result.monitoring.verdict == "ok"
    assert not result.retrained
    assert result.training is None
    assert [info.version for info in registry.list_versions(MODEL)] == ["1"]
    assert "No retraining" in result.message


def test_labelled_feedback_joins_the_retraining_data(drifted: str) -> None:
    import mlflow

    from sentimentops.prediction_log import PredictionRecord, open_store

    run_training_flow(get_settings(), sample=1500, models=["logreg"])
    store = open_store(get_settings())
    try:
        store.write_predictions(
            [
                PredictionRecord.of(
                    f"Feedback review {i}: " + ("a joy to watch" if i % 2 else "a chore to sit"),
                    store_text=True,
                    request_id=f"r{i}",
                    endpoint="/v1/predict",
                    model_name=MODEL,
                    model_version="1",
                    label="positive",
                    score=0.6,
                    latency_ms=1.0,
                )
                for i in range(40)
            ]
        )
        for i in range(40):
            store.write_feedback(f"r{i}", "positive" if i % 2 else "negative")
    finally:
        store.dispose()

    result = retraining_flow(current=drifted, sample=1500, models=["logreg"], use_feedback=True)

    assert result.training is not None
    assert not result.training.reused  # new rows: a new training, not the registered one
    lineage = mlflow.artifacts.load_dict(f"runs:/{result.training.run_id}/data/lineage.json")
    assert "+ 40 labelled feedback rows" in lineage["source"]


def test_an_online_refusal_is_in_the_summary_not_only_in_a_task_log(
    reference_reviews: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shadow off, so the trial cannot hold retraining: the flow went on and its summary said
    nothing of the challenger the online gate had just refused."""
    monkeypatch.setenv("SENTIMENTOPS_REGISTRY__PROMOTION", "online")
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ACCURACY", "0.7")
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ESTIMATED_ACCURACY", "0.7")
    get_settings.cache_clear()
    training = run_training_flow(get_settings(), sample=3000, models=["logreg"])  # the champion
    run_training_flow(get_settings(), sample=2000, models=["logreg"])
    registry.set_challenger(MODEL, "2")  # on trial, with no traffic in the log to judge it by
    current = tmp_path / "healthy.csv"
    pd.read_parquet(training.test_split)[["review", "sentiment"]].to_csv(current, index=False)

    result = retraining_flow(current=str(current))

    assert not result.retrained
    assert result.online is not None
    assert not result.online["act"]
    assert "No retraining" in result.message
    assert f"Challenger version 2 not promoted: {result.online['reason']}" in result.message
    assert "no online evidence yet" in result.message
