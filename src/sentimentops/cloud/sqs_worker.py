"""The SQS batch worker: each message ``{"input", "output", "model"?}`` is a batch job, deleted
once done; a failed job stays for the redrive policy, an outage is backed off (docs/cloud.md)."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import tenacity

from sentimentops.batch.job import BatchPredictor
from sentimentops.batch.sink import BatchSummary, already_scored
from sentimentops.cloud.cloudwatch import NAMESPACE, put_metrics
from sentimentops.errors import (
    BadInputError,
    ConfigError,
    SentimentOpsError,
    StorageUnavailableError,
    TrackingUnavailableError,
    UnsafeLocationError,
)
from sentimentops.storage import Location, object_store_misconfiguration, storage_errors
from sentimentops.tracking.loading import LoadedModel, load_version, resolve_location

__all__ = ["BatchJob", "SqsWorker", "WorkerStats"]

log = logging.getLogger(__name__)

# Failures of a service the job needs, not of the job: worth waiting out, not the DLQ's business.
OUTAGES = (StorageUnavailableError, TrackingUnavailableError)
MAX_ERRORS_KEPT = 100


@dataclass(frozen=True)
class BatchJob:
    input: str
    output: str
    model: str | None = None

    @classmethod
    def from_message(cls, body: str) -> BatchJob:
        """The job in a message body.

        Raises:
            BadInputError: not a JSON object with string ``input`` and ``output``.
            UnsafeLocationError: ``input`` or ``output`` is not an object URI.
        """
        try:
            content = json.loads(body)
        except json.JSONDecodeError as error:
            raise BadInputError(f"The message is not JSON ({error}).") from None
        if not isinstance(content, dict):
            raise BadInputError("The message must be a JSON object with input and output.")
        source, target, model = (content.get(key) for key in ("input", "output", "model"))
        if not isinstance(source, str) or not isinstance(target, str):
            raise BadInputError(
                'The message needs "input" and "output" locations as strings, e.g. '
                '{"input": "s3://bucket/in.csv", "output": "s3://bucket/out.csv"}.'
            )
        if model is not None and not isinstance(model, str):
            raise BadInputError('"model" must be a model URI string when given.')
        for name, location in (("input", source), ("output", target)):
            if not Location(location).remote:
                raise UnsafeLocationError(
                    f'The job\'s "{name}" is {location!r}, not an object URI: a job names '
                    "objects in object storage (s3://bucket/key), never a path on the worker's "
                    "disk."
                )
        return cls(source, target, model)


@dataclass
class WorkerStats:
    received: int = 0
    scored: int = 0
    already_done: int = 0
    failed: int = 0  # jobs that did not complete, outages included
    outages: int = 0  # of them, failed because S3 or MLflow did not answer: backed off
    sqs_errors: int = 0  # receives and deletes SQS failed
    rows: int = 0
    # The latest failures, for the CLI's report: bounded, a worker runs for months.
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_ERRORS_KEPT))


def _sqs_client() -> Any:
    import boto3
    from botocore.exceptions import NoRegionError

    try:
        return boto3.client("sqs")
    except NoRegionError:  # boto3 does not read it from the queue URL
        raise ConfigError(
            "No AWS region is set for SQS. Set AWS_DEFAULT_REGION to the queue's region (the "
            "one in its URL, such as us-east-1; with LocalStack or moto any region works), or "
            "name a profile with a region in AWS_PROFILE."
        ) from None


class _BackOffError(Exception):
    """A service failed: wait before receiving again; ``receipt``'s message comes back then."""

    def __init__(self, receipt: str | None = None) -> None:
        super().__init__(receipt)
        self.receipt = receipt


class SqsWorker:
    """Receives batch jobs from ``queue_url`` one at a time and scores them; after an outage
    it waits ``backoff_seconds``, doubling up to ``max_backoff_seconds`` until a job ends."""

    def __init__(
        self,
        queue_url: str,
        *,
        default_model: str,
        visibility_timeout: int = 300,
        wait_seconds: int = 10,
        metrics: bool = False,
        namespace: str = NAMESPACE,
        client: Any = None,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
    ) -> None:
        self.queue_url = queue_url
        self.default_model = default_model
        self.visibility_timeout = visibility_timeout
        self.wait_seconds = wait_seconds
        self.metrics = metrics
        self.namespace = namespace
        self.sqs = client or _sqs_client()
        self._stop = threading.Event()
        self._received_once = False
        self._models: dict[str, LoadedModel] = {}
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_BackOffError),
            wait=tenacity.wait_exponential(multiplier=backoff_seconds, max=max_backoff_seconds),
            sleep=self._sleep,
            before_sleep=self._release,
        )

    def request_stop(self) -> None:
        """Finish the message in hand, then return from :meth:`run`."""
        self._stop.set()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)  # request_stop ends a backoff at once

    def run(self, *, once: bool = False, max_messages: int | None = None) -> WorkerStats:
        """Process messages until stopped, ``max_messages`` received, or (``once``) the queue
        gives nothing within one wait."""
        stats = WorkerStats()
        while self._retrying(self._take, stats, once=once, max_messages=max_messages):
            pass  # each call is a fresh backoff: a job that ended resets it
        return stats

    def _take(self, stats: WorkerStats, *, once: bool, max_messages: int | None) -> bool:
        """Receive and process one message; False when the run is over."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._stop.is_set() or (max_messages is not None and stats.received >= max_messages):
            return False
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as error:
            # None at the first receive: a setup no backoff mends. Once received, credentials
            # that lapse (an instance role's refresh failing) are waited out as an outage.
            if not self._received_once and object_store_misconfiguration(error) is not None:
                with storage_errors(f"receiving from {self.queue_url}", then="start it again"):
                    raise
            stats.sqs_errors += 1
            stats.errors.append(f"receiving from {self.queue_url}: {error}")
            log.error("could not receive from %s (is the queue there?): %s", self.queue_url, error)
            if once:
                return False
            raise _BackOffError from error
        self._received_once = True
        messages = answer.get("Messages", [])
        if not messages:
            return not once
        stats.received += 1
        self._process(messages[0], stats)
        return True

    def _process(self, message: dict[str, Any], stats: WorkerStats) -> None:
        """Score the message's job and delete the message; _BackOffError on an outage."""
        from botocore.exceptions import BotoCoreError, ClientError

        receipt, name = message["ReceiptHandle"], message["MessageId"]
        try:
            job = BatchJob.from_message(message["Body"])
            with self._heartbeat(receipt):
                summary = self._score(job)
        except Exception as error:  # left on the queue, for its redrive policy (the DLQ)
            stats.failed += 1
            stats.errors.append(f"{name}: {error}")
            if isinstance(error, OUTAGES):
                stats.outages += 1  # every receive counts towards maxReceiveCount: docs/cloud.md
                log.error("job %s postponed: a service it needs failed: %s", name, error)
                raise _BackOffError(receipt) from error
            kind = "rejected" if isinstance(error, SentimentOpsError) else "failed"
            log.error("job %s %s (left on the queue for its redrive policy): %s", name, kind, error)
            return
        if summary is None:
            stats.already_done += 1
            log.info("job %s was already done; acknowledging it", name)
        else:
            stats.scored += 1
            stats.rows += summary.rows_in
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        except (BotoCoreError, ClientError) as error:
            # Redelivered after the visibility timeout, and then found already done.
            stats.sqs_errors += 1
            stats.errors.append(f"{name}: deleting the message: {error}")
            log.error("job %s done, but its message could not be deleted: %s", name, error)
            raise _BackOffError from error

    def _release(self, state: tenacity.RetryCallState) -> None:
        """Before a backoff: make the failed job's message visible again when it ends."""
        delay = state.next_action.sleep if state.next_action else 0.0
        failure = state.outcome.exception() if state.outcome else None
        log.info("backing off %.1f s before receiving again", delay)
        if isinstance(failure, _BackOffError) and failure.receipt is not None:
            self._set_visibility(failure.receipt, math.ceil(delay))

    def _set_visibility(self, receipt: str, seconds: int) -> None:
        """Make the message visible again in ``seconds``; a failure is only logged."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )
        except Exception as error:
            log.warning("could not change the message's visibility: %s", error)

    def _score(self, job: BatchJob) -> BatchSummary | None:
        """The job's summary; None when its output is already scored (a message delivered twice)."""
        model = self._model(job.model or self.default_model)
        doing = f"checking whether {job.output} is already scored"
        then = "the job runs again when its message comes back (it stays on the queue)"
        with storage_errors(doing, then=then):
            if already_scored(job.input, job.output, model):
                return None
        summary = BatchPredictor(model).run(job.input, job.output)
        if self.metrics:
            put_metrics(
                {
                    "Predictions": (summary.predicted, "Count"),
                    "Rejected": (summary.rejected, "Count"),
                    "RejectRate": (summary.rejected / max(summary.rows_in, 1), "None"),
                    "ScoringSeconds": (summary.seconds, "Seconds"),
                },
                component="worker",
                model_version=model.version,
                namespace=self.namespace,
            )
        return summary

    def _model(self, uri: str) -> LoadedModel:
        """Loaded once per version; the alias is resolved at every job, so a promotion applies at
        the next message."""
        key = resolve_location(uri)
        if key not in self._models:
            self._models = {key: load_version(key)}  # keep one: models are large
        return self._models[key]

    @contextmanager
    def _heartbeat(self, receipt: str) -> Iterator[None]:
        """Extend the message's invisibility every half timeout while the job runs."""
        finished = threading.Event()

        def beat() -> None:
            while not finished.wait(self.visibility_timeout / 2):
                self._set_visibility(receipt, self.visibility_timeout)

        thread = threading.Thread(target=beat, name="sqs-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            finished.set()
            thread.join()
