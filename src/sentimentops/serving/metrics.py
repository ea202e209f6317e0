"""Prometheus metrics of the API, all named ``sentimentops_*``.

Each app has its own registry (several apps in one process never collide); values other objects
own (the log queue, the served model) are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["ApiMetrics", "LogQueueStats", "ServedModelInfo"]

# Seconds; dense below 50 ms where a healthy API answers.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
SCORE_BUCKETS = tuple(round(0.1 * step, 1) for step in range(1, 11))

LogQueueStats = Callable[[], tuple[int, int, int, int]]  # depth, dropped, written, rejected
REJECTED_HELP = "the log database refused (a value it cannot store); see the server log"

ServedModelInfo = Callable[[], tuple[str, str] | None]  # (name, version) or None


class ApiMetrics:
    """The counters and histograms the app updates, plus collectors read at scrape time."""

    def __init__(self, log_queue: LogQueueStats, served_model: ServedModelInfo) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sentimentops_requests",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "sentimentops_errors",
            "HTTP responses with status >= 400, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sentimentops_request_latency_seconds",
            "Time from request to response, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "sentimentops_predictions",
            "Predictions served, by label.",
            ["label"],
            registry=self.registry,
        )
        self.scores = Histogram(
            "sentimentops_prediction_score",
            "Probability of positive of each prediction served.",
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self.reloads = Counter(
            "sentimentops_model_reloads",
            "Model reload attempts, by outcome (swapped, unchanged, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_LiveCollector(log_queue, served_model))

    def observe_predictions(self, labels: Sequence[str], scores: Sequence[float]) -> None:
        """Count served predictions by label and record their scores."""
        for label, score in zip(labels, scores, strict=True):
            self.predictions.labels(label=label).inc()
            self.scores.observe(score)


class _LiveCollector(Collector):
    """Values owned by other objects, read when Prometheus scrapes."""

    def __init__(self, log_queue: LogQueueStats, served_model: ServedModelInfo) -> None:
        self._log_queue = log_queue
        self._served_model = served_model

    def collect(self) -> Iterator[Metric]:
        depth, dropped, written, rejected = self._log_queue()
        yield GaugeMetricFamily(
            "sentimentops_prediction_log_queue_depth",
            "Predictions waiting to be written to the prediction log.",
            value=depth,
        )
        for kind, value, help_text in (
            ("dropped", dropped, "that could not be logged (queue full while the store was down)"),
            ("written", written, "written to the prediction log"),
            ("rejected", rejected, REJECTED_HELP),
        ):
            yield CounterMetricFamily(
                f"sentimentops_prediction_log_{kind}", f"Predictions {help_text}.", value=value
            )
        info = GaugeMetricFamily(
            "sentimentops_model_info",
            "The served model: 1 for the loaded name and version.",
            labels=["name", "version"],
        )
        if (served := self._served_model()) is not None:
            info.add_metric(list(served), 1)
        yield info
