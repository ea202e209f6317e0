"""Prometheus metrics of the API, named ``sentimentops_*``, in a registry per app (several apps
in one process never collide); values other objects own are read at scrape time."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sentimentops.prediction_log import LogStatus

__all__ = ["ApiMetrics", "LogStatusReader", "ServedModelInfo", "ShadowStatus"]

# Seconds; dense below 50 ms where a healthy API answers.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
SCORE_BUCKETS = tuple(round(0.1 * step, 1) for step in range(1, 11))

LogStatusReader = Callable[[], LogStatus]
# (name, version, role) of each loaded model: the champion, and the challenger while it has a share.
ServedModelInfo = Callable[[], list[tuple[str, str, str]]]
ShadowStatus = Callable[[], tuple[int, int, int, int]]  # queue depth, scored, dropped, failed


class ApiMetrics:
    """The counters and histograms the app updates, plus collectors read at scrape time."""

    def __init__(
        self,
        log_status: LogStatusReader,
        served_model: ServedModelInfo,
        shadow_status: ShadowStatus = lambda: (0, 0, 0, 0),
    ) -> None:
        self.registry = CollectorRegistry()
        counter = partial(Counter, registry=self.registry)
        histogram = partial(Histogram, registry=self.registry)
        self.requests = counter(
            "sentimentops_requests",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
        )
        self.errors = counter(
            "sentimentops_errors",
            "HTTP responses with status >= 400, by endpoint and status code.",
            ["endpoint", "status"],
        )
        self.latency = histogram(
            "sentimentops_request_latency_seconds",
            "Time from request to response, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
        )
        self.predictions = counter(
            "sentimentops_predictions",
            "Predictions made, by label and role (champion and canary: answered; shadow: not).",
            ["label", "role"],
        )
        self.scores = histogram(
            "sentimentops_prediction_score",
            "Probability of positive of each prediction, by role.",
            ["role"],
            buckets=SCORE_BUCKETS,
        )
        self.scoring = histogram(
            "sentimentops_prediction_latency_seconds",
            "Time from a request's texts queued for scoring to their scores, by role (shadow: "
            "scoring time only, as it waits for idle moments by design).",
            ["role"],
            buckets=LATENCY_BUCKETS,
        )
        self.reloads = counter(
            "sentimentops_model_reloads",
            "Model reload attempts, by outcome (swapped, unchanged, failed).",
            ["outcome"],
        )
        self.registry.register(_LiveCollector(log_status, served_model, shadow_status))

    def observe_predictions(
        self, labels: Sequence[str], scores: Sequence[float], *, role: str, seconds: float
    ) -> None:
        """Record one request's predictions: counts by label and role, scores and ``seconds``."""
        for label, count in collections.Counter(labels).items():
            self.predictions.labels(label=label, role=role).inc(count)
        by_role = self.scores.labels(role=role)
        for score in scores:
            by_role.observe(score)
        self.scoring.labels(role=role).observe(seconds)


@dataclass(eq=False)  # a registry keys its collectors by identity
class _LiveCollector(Collector):
    """Values owned by other objects, read when Prometheus scrapes."""

    log_status: LogStatusReader
    served_model: ServedModelInfo
    shadow_status: ShadowStatus

    def collect(self) -> Iterator[Metric]:
        yield from _log_metrics(self.log_status())
        info = GaugeMetricFamily(
            "sentimentops_model_info",
            "The loaded models: 1 for each name, version and role (champion; challenger while "
            "a shadow or canary share is set).",
            labels=["name", "version", "role"],
        )
        for served in self.served_model():
            info.add_metric(list(served), 1)
        yield info
        depth, scored, dropped, failed = self.shadow_status()
        yield GaugeMetricFamily(
            "sentimentops_shadow_queue_depth",
            "Answered requests waiting to be scored by the challenger in shadow.",
            value=depth,
        )
        requests = CounterMetricFamily(
            "sentimentops_shadow_requests",
            "Requests sent to shadow scoring, by outcome: scored; dropped (the queue was full, "
            "the API too busy, or the challenger went); failed (the challenger raised).",
            labels=["outcome"],
        )
        for outcome, value in (("scored", scored), ("dropped", dropped), ("failed", failed)):
            requests.add_metric([outcome], value)
        yield requests


def _log_metrics(status: LogStatus) -> Iterator[Metric]:
    spool = status.spool
    oldest_age = 0.0 if spool.oldest is None else max(time.time() - spool.oldest.timestamp(), 0.0)
    gauges = {
        "queue_depth": (
            "Predictions waiting in memory to be written: queued, or in the batch being written.",
            status.in_memory,
        ),
        "spool_records": ("Predictions waiting in the spool for the database.", spool.records),
        "spool_bytes": ("Bytes the spool's records take on disk.", spool.bytes),
        "spool_max_bytes": ("The spool's limit: past it predictions are dropped.", spool.max_bytes),
        "spool_oldest_age_seconds": (
            "Age of the oldest prediction in the spool (0 when it is empty).",
            oldest_age,
        ),
    }
    counters = {
        "written": ("Predictions written to the prediction log database.", status.written),
        "replayed": ("Predictions delivered from the spool to the database.", status.replayed),
        "dropped": (
            "Predictions not logged: the spool was full (see the server log).",
            status.dropped,
        ),
        "rejected": (
            "Predictions the log database refused (a value it cannot store); see the server log.",
            status.rejected,
        ),
    }
    for name, (help_text, value) in gauges.items():
        yield GaugeMetricFamily(f"sentimentops_prediction_log_{name}", help_text, value=value)
    for name, (help_text, value) in counters.items():
        yield CounterMetricFamily(f"sentimentops_prediction_log_{name}", help_text, value=value)
