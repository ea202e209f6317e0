"""The request mix of the reliability load run.

Shared by ``locustfile.py``, which sends it, and ``bench_reliability.py``, which counts the
predictions it must then find in the prediction log. This module imports nothing from locust:
importing locust monkey-patches the whole process with gevent, which the harness must not be.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestKind:
    """One kind of request in the mix."""

    name: str  # locust's name for it, and the endpoint the prediction log records for its rows
    weight: int  # how often locust picks it, relative to the others
    texts: int  # review texts per request, so predictions (log rows) per answered request


SINGLE = RequestKind("/v1/predict", weight=6, texts=1)
BATCH = RequestKind("/v1/predict/batch", weight=2, texts=8)
V2_INFER = RequestKind("/v2/models/{name}/infer", weight=2, texts=4)
MIX = (SINGLE, BATCH, V2_INFER)
