"""The flows by name, for the CLI and the schedules (the flows themselves import runtime)."""

from __future__ import annotations

import importlib
from typing import Any

from sentimentops.config import Settings

__all__ = ["flow_named"]


def flow_named(name: str, settings: Settings) -> Any:
    """The flow ``name`` (main, training, batch, monitoring, retraining), ready to call; the
    training flow with the task runner ``settings`` call for."""
    if name == "training":
        from sentimentops.pipelines.training_flow import configured_training_flow

        return configured_training_flow(settings)
    return getattr(importlib.import_module(f"sentimentops.pipelines.{name}_flow"), f"{name}_flow")
