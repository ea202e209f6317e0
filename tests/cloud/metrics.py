"""Reading CloudWatch back in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3


def metric_sum(name: str, *, component: str, model_version: str) -> float:
    """The sum of a SentimentOps metric over the last and the next five minutes."""
    now = datetime.now(UTC)
    datapoints = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="SentimentOps",
        MetricName=name,
        Dimensions=[
            {"Name": "Component", "Value": component},
            {"Name": "ModelVersion", "Value": model_version},
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=600,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in datapoints))
