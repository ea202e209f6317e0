"""The model a monitoring run judges, with its reference sample: held-out test reviews with
labels and the model's scores, logged at training."""

from __future__ import annotations

import dataclasses

from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = ["load_monitored_model"]


def load_monitored_model(uri: str) -> LoadedModel:
    """``models:/...`` from the configured registry with its reference sample, or a local
    model folder (no reference: pass ``--reference``).

    Raises:
        ModelNotFoundError: nothing at ``uri``.
    """
    from sentimentops.tracking.runs import load_reference_sample

    model = load_version(uri)
    reference = load_reference_sample(model.run_id) if model.run_id else None
    return dataclasses.replace(model, reference=reference)
