"""The model a monitoring run judges, with what it was trained against: its test accuracy and
its reference sample (held-out test reviews with labels and the model's scores)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentimentops.errors import ModelNotFoundError

__all__ = ["MonitoredModel", "load_monitored_model"]


@dataclass(frozen=True)
class MonitoredModel:
    pipeline: Any  # a SentimentPipeline
    name: str
    version: str
    test_accuracy: float | None
    reference: pd.DataFrame | None  # review, sentiment, label, score; None for a bare folder

    def scores(self, texts: list[str]) -> Any:
        return self.pipeline.positive_scores(texts)


def load_monitored_model(uri: str) -> MonitoredModel:
    """``models:/name@alias`` or ``models:/name/version`` from the configured registry (with
    the reference sample logged at training), or a local model folder (no reference: pass
    ``--reference``).

    Raises:
        ModelNotFoundError: nothing at ``uri``.
    """
    if not uri.startswith("models:/"):
        if not (Path(uri) / "model.skops").is_file():
            raise ModelNotFoundError(
                f"{uri} is neither a models:/ URI nor a folder with an MLflow model (MLmodel "
                "and model.skops)."
            )
        from sentimentops.tracking.flavor import load_pipeline

        return MonitoredModel(load_pipeline(uri), Path(uri).name, "local", None, None)

    from sentimentops.config import get_settings
    from sentimentops.tracking.registry import load_model, resolve_version, version_info
    from sentimentops.tracking.runs import load_reference_sample
    from sentimentops.tracking.store import connect

    connect(get_settings())
    name, version = resolve_version(uri)
    info = version_info(name, version)
    return MonitoredModel(
        pipeline=load_model(f"models:/{name}/{version}"),
        name=name,
        version=version,
        test_accuracy=info.metrics.get("test_accuracy"),
        reference=load_reference_sample(info.run_id),
    )
