"""The model a monitoring run judges, with what it was trained against: its test accuracy and
its reference sample (held-out test reviews with labels and the model's scores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from sentimentops.tracking.loading import load_version

__all__ = ["MonitoredModel", "load_monitored_model"]


@dataclass(frozen=True)
class MonitoredModel:
    pipeline: Any  # a SentimentPipeline
    name: str
    version: str
    test_accuracy: float | None
    reference: pd.DataFrame | None  # review, sentiment, label, score; None for a bare folder


def load_monitored_model(uri: str) -> MonitoredModel:
    """``models:/name@alias`` or ``models:/name/version`` from the configured registry (with
    the reference sample logged at training), or a local model folder (no reference: pass
    ``--reference``).

    Raises:
        ModelNotFoundError: nothing at ``uri``.
    """
    from sentimentops.tracking.runs import load_reference_sample

    loaded = load_version(uri)
    return MonitoredModel(
        pipeline=loaded.pipeline,
        name=loaded.name,
        version=loaded.version,
        test_accuracy=loaded.test_metrics.get("test_accuracy"),
        reference=load_reference_sample(loaded.run_id) if loaded.run_id else None,
    )
