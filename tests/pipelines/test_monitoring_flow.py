"""The monitoring flow on a batch joined with its input, on shifted data, and on an empty log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.pipelines.batch_flow import batch_flow
from sentimentops.pipelines.monitoring_flow import monitoring_flow
from sentimentops.pipelines.training_flow import run_training_flow
from tests.pipelines.conftest import truncated_reviews


def test_a_batch_of_held_out_reviews_is_judged_with_its_texts_and_labels() -> None:
    training = run_training_flow(get_settings(), sample=2000, models=["logreg"])
    batch = batch_flow(input=training.test_split, id_column="review_id")
    scored = batch.scored[0]

    result = monitoring_flow(
        current=scored["output"], scored_input=scored["input"], id_column="review_id"
    )

    assert result.model_version == "1"
    # The joined texts were judged for drift, the true labels gave the real accuracy: the
    # champion's own test rows, so exactly its test accuracy.
    assert result.metrics["text_drift"] is not None
    assert result.metrics["accuracy"] == pytest.approx(training.test_metrics["accuracy"])
    assert result.metrics["reject_rate"] == 0.0
    assert Path(result.report or "").is_file()


def test_truncated_reviews_raise_a_drift_alert(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    run_training_flow(get_settings(), sample=2000, models=["logreg"])
    current = tmp_path / "current.csv"
    truncated_reviews(reference_reviews, 400, seed=5).to_csv(current, index=False)

    result = monitoring_flow(current=str(current))

    assert result.verdict == "alert"
    assert {"text_drift", "descriptor_drift"} & result.alert_kinds()


def test_an_empty_prediction_log_raises_the_volume_alert_and_puts_its_rows_in_cloudwatch(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from tests.servers import moto_s3

    with moto_s3(monkeypatch):
        monkeypatch.setenv("SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS", "true")
        get_settings.cache_clear()

        result = monitoring_flow(hours=1, model=str(model_folder))

        listed = boto3.client("cloudwatch").list_metrics(Namespace="SentimentOps")["Metrics"]

    assert result.verdict == "alert"
    assert result.alert_kinds() == {"volume"}
    assert result.metrics["rows"] == 0
    assert "not measurable" in Path(result.summary).read_text()
    # Nothing measured: the report is its summary alone (the verdict and why), no drift part.
    assert result.report is not None
    page = Path(result.report).read_text()
    assert "ALERT" in page
    assert "not measurable" in page
    assert "Drift in column" not in page
    assert "MonitoredRows" in {metric["MetricName"] for metric in listed}


def test_monitoring_puts_its_figures_in_cloudwatch(
    reference_reviews: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from tests.servers import moto_s3

    run_training_flow(get_settings(), sample=2000, models=["logreg"])
    current = tmp_path / "current.csv"
    truncated_reviews(reference_reviews, 400, seed=5).to_csv(current, index=False)
    with moto_s3(monkeypatch):
        monkeypatch.setenv("SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS", "true")
        get_settings.cache_clear()

        monitoring_flow(current=str(current))

        listed = boto3.client("cloudwatch").list_metrics(Namespace="SentimentOps")["Metrics"]

    names = {metric["MetricName"] for metric in listed}
    assert {"MonitoredRows", "DriftAlerts", "TextDriftScore", "Accuracy"} <= names
    dimension_sets = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed]
    assert {"Component": "monitoring", "ModelVersion": "1"} in dimension_sets
    assert {"Component": "monitoring"} in dimension_sets  # the roll-up the drift alarm watches


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"hours": 0}, "--hours 0 is not a window"),
        ({"hours": -1.5}, "--hours -1.5 is not a window"),
        ({"hours": 1e30}, "further back than a date can"),
        ({"scored_input": "in.csv"}, "given without --current"),
    ],
)
def test_window_arguments_that_make_no_window_are_refused(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        monitoring_flow(**arguments)  # type: ignore[arg-type]
