"""Custom CloudWatch metrics, one namespace for everything sentimentops measures.

Dimensions: ``Component`` and ``ModelVersion``. Metrics by component:

- ``worker``: ``Predictions``, ``Rejected`` (Count), ``RejectRate`` (None), ``ScoringSeconds``;
- ``lambda``: ``Predictions`` (Count), ``LatencyMs`` (Milliseconds);
- ``monitoring``: ``MonitoredRows``, ``DriftAlerts`` (Count), ``TextDriftScore``, ``Accuracy``,
  ``EstimatedAccuracy``, ``RejectRate`` (None; each only when it was measured).

The Terraform alarm on drift watches ``DriftAlerts`` of ``monitoring``.

A metric that cannot be sent is logged, never raised: a scoring job must not fail because its
telemetry did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["NAMESPACE", "Metric", "put_metrics"]

NAMESPACE = "SentimentOps"
Metric = tuple[float, str]  # value, CloudWatch unit ("Count", "Seconds", "None", ...)

log = logging.getLogger(__name__)


def put_metrics(
    metrics: Mapping[str, Metric | None],
    *,
    component: str,
    model_version: str,
    namespace: str = NAMESPACE,
    client: Any = None,
) -> bool:
    """Send ``metrics`` (None values are skipped); True when CloudWatch accepted them."""
    dimensions = [
        {"Name": "Component", "Value": component},
        {"Name": "ModelVersion", "Value": str(model_version)},
    ]
    data = [
        {"MetricName": name, "Value": float(metric[0]), "Unit": metric[1], "Dimensions": dimensions}
        for name, metric in metrics.items()
        if metric is not None
    ]
    if not data:
        return True
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        cloudwatch = client or boto3.client("cloudwatch")
        for start in range(0, len(data), 1000):  # the API's limit per call
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
    except (BotoCoreError, ClientError) as error:
        log.error("could not send %d metrics to CloudWatch: %s", len(data), error)
        return False
    return True
