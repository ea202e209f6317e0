"""Custom CloudWatch metrics (docs/cloud.md lists them). A metric that cannot be sent is logged,
never raised: a job must not fail because its telemetry did."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = ["DRIFT_ALERTS", "NAMESPACE", "Metric", "put_metrics"]

NAMESPACE = "SentimentOps"
DRIFT_ALERTS = "DriftAlerts"  # the metric deploy/terraform's drift alarm watches
Metric = tuple[float, str]  # value, CloudWatch unit ("Count", "Seconds", "None", ...)

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _client(endpoint: str | None, region: str | None) -> Any:
    # A client takes tens of milliseconds to build; the arguments only key the cache (boto3
    # reads the same environment itself).
    import boto3

    return boto3.client("cloudwatch")


def put_metrics(
    metrics: Mapping[str, Metric | None],
    *,
    component: str,
    model_version: str,
    namespace: str = NAMESPACE,
    client: Any = None,
) -> bool:
    """Send ``metrics`` (None values are skipped); True when CloudWatch accepted them."""
    by_component = [{"Name": "Component", "Value": component}]
    by_version = [*by_component, {"Name": "ModelVersion", "Value": str(model_version)}]
    data = [
        {"MetricName": name, "Value": float(metric[0]), "Unit": metric[1], "Dimensions": dims}
        for name, metric in metrics.items()
        if metric is not None
        # Each metric per model version and rolled up per component: an alarm names exact
        # dimensions, and must not need changing at every new model version.
        for dims in (by_version, by_component)
    ]
    if not data:
        return True
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        cloudwatch = client or _client(
            os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION")
        )
        for start in range(0, len(data), 1000):  # the API's limit per call
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])
    except (BotoCoreError, ClientError) as error:
        log.error("could not send %d metrics to CloudWatch: %s", len(data), error)
        return False
    return True
