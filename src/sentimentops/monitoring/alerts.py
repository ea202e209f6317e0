"""Alert rules: which limits a monitoring run crossed, as pure functions of its metrics (delivery
is monitoring/delivery.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sentimentops.config import AlertSettings
from sentimentops.monitoring.results import Alert, MonitoringMetrics

__all__ = ["evaluate_alerts"]

Rule = Callable[[MonitoringMetrics, AlertSettings], Iterator[Alert]]


def evaluate_alerts(metrics: MonitoringMetrics, settings: AlertSettings) -> list[Alert]:
    """The alerts ``metrics`` raise under ``settings``: at most one per kind, but one
    ``prediction_drift`` per drifted distribution; an unmeasured (None) metric raises nothing."""
    return [alert for rule in RULES for alert in rule(metrics, settings)]


def _text_drift(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    result = metrics.text_drift
    if result is not None and result.detected and settings.on_text_drift:
        message = (
            f"The review text drifted: a classifier tells current reviews from the reference "
            f"ones with {result.method} {result.score:.3f}, above the threshold of "
            f"{result.threshold:.3f}. Check the report for the words and descriptors that "
            "changed (new topics, language, length) and whether the input source changed."
        )
        yield Alert("text_drift", result.score, result.threshold, message)


def _descriptor_drift(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    results, limit = metrics.descriptor_drift, settings.descriptor_drift_share
    drifted = [result.column for result in results if result.detected]
    if results and (share := len(drifted) / len(results)) >= limit:
        message = (
            f"{len(drifted)} of {len(results)} text descriptors drifted ({share:.0%}, at or "
            f"above the limit of {limit:.0%}): {', '.join(drifted)}. Check their "
            "distributions in the report and what changed in the reviews' origin."
        )
        yield Alert("descriptor_drift", share, limit, message)


def _prediction_drift(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    for result in metrics.prediction_drift if settings.on_prediction_drift else []:
        if result.detected:
            message = (
                f"The model's {result.column} distribution drifted ({result.method} "
                f"{result.score:.3g} against the threshold {result.threshold:.3g}). Check "
                "whether the share of positive reviews really changed or the model is "
                "misjudging new input; compare with the text drift in the report."
            )
            yield Alert("prediction_drift", result.score, result.threshold, message)


def _accuracy(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    accuracy, limit, reference = metrics.accuracy, settings.min_accuracy, ""
    if metrics.reference_accuracy is not None:
        reference = f" (its test accuracy was {metrics.reference_accuracy:.3f})"
    if accuracy is not None and accuracy < limit:
        message = (
            f"Accuracy on the labelled rows is {accuracy:.3f}, below the minimum of "
            f"{limit:.3f}{reference}. Check the drift sections of the report and the quality "
            "of the feedback labels, then consider retraining on recent reviews."
        )
        yield Alert("accuracy", accuracy, limit, message)


def _estimated_accuracy(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    estimate, limit = metrics.estimated_accuracy, settings.min_estimated_accuracy
    if estimate is not None and estimate.accuracy < limit:
        message = (
            f"Estimated accuracy (from the model's confidence, no labels) is "
            f"{estimate.accuracy:.3f}, below the minimum of {limit:.3f}; the "
            f"{estimate.confidence_level:.0%} interval is [{estimate.lower:.3f}, "
            f"{estimate.upper:.3f}] over {estimate.rows} rows. Check the text drift in the "
            "report and collect labels for a sample of these reviews to confirm before "
            "retraining."
        )
        yield Alert("estimated_accuracy", estimate.accuracy, limit, message)


def _reject_rate(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    rate, limit = metrics.reject_rate, settings.max_reject_rate
    if rate is not None and rate > limit:
        message = (
            f"{rate:.1%} of the input rows were rejected, above the maximum of {limit:.1%}. "
            "Check the batch's rejects file for the reasons (empty or unreadable text, wrong "
            "columns) and the producer of the input."
        )
        yield Alert("reject_rate", rate, limit, message)


def _volume(metrics: MonitoringMetrics, settings: AlertSettings) -> Iterator[Alert]:
    if metrics.rows < settings.min_rows:
        message = (
            f"Only {metrics.rows} rows were monitored, fewer than the minimum of "
            f"{settings.min_rows}, so the other measurements are unreliable. Check that the "
            "API is logging predictions and that the window or input file is the intended one."
        )
        yield Alert("volume", float(metrics.rows), float(settings.min_rows), message)


RULES: tuple[Rule, ...] = (
    _text_drift,
    _descriptor_drift,
    _prediction_drift,
    _accuracy,
    _estimated_accuracy,
    _reject_rate,
    _volume,
)
