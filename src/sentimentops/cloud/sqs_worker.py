"""The SQS batch worker: each message is a batch job, scored with the batch predictor.

A message is ``{"input": "s3://...", "output": "s3://...", "model": "optional URI"}``. The
worker keeps the message invisible to other workers while it scores (extending its visibility
on a heartbeat), deletes it only after the output and its summary are written, and leaves a
failed message on the queue: its redrive policy moves it to the dead-letter queue after the
configured number of receives. A job whose output already holds this model's predictions of
the same input, unchanged since (a message delivered twice), is acknowledged without scoring
again; an input rewritten under the same key is scored again.

An outage is not the job's fault: when S3 (:class:`StorageUnavailableError`) or MLflow
(:class:`TrackingUnavailableError`) fails during a job, or SQS itself fails to receive or delete,
the worker backs off (1 s doubling to 60 s by default, reset by a job that completes) before it
receives again, and a job's message comes back after that delay rather than after the whole
visibility timeout. SQS still counts every receive against the redrive policy's
``maxReceiveCount`` (there is no receive that does not count), so that count must cover the
longest outage to ride out: with the default backoff (1, 2, 4 ... 32 s, then 60 s) ``n``
receives span about ``n - 5`` minutes from ``n = 6`` on: 3 ride out some 7 s, 21 about a
quarter of an hour; see docs/cloud.md.

On SIGTERM (``request_stop``) the worker finishes the message in hand and takes no other; it
also ends a backoff at once.
"""

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

from sentimentops.batch.job import score_file
from sentimentops.batch.model import load_for_scoring
from sentimentops.batch.predictor import LoadedModel, already_scored
from sentimentops.cloud.cloudwatch import NAMESPACE, put_metrics
from sentimentops.errors import (
    BadInputError,
    SentimentOpsError,
    StorageUnavailableError,
    TrackingUnavailableError,
    UnsafeLocationError,
)
from sentimentops.storage import checked_key, is_remote, object_store_errors
from sentimentops.tracking.loading import resolve_location

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
    def parse(cls, body: str) -> BatchJob:
        """The job in a message body.

        Raises:
            BadInputError: not JSON, not an object, or without string ``input`` and ``output``.
            UnsafeLocationError: ``input`` or ``output`` is a local path or a key with ``..``.
        """
        try:
            content = json.loads(body)
        except json.JSONDecodeError as error:
            raise BadInputError(f"The message is not JSON ({error}).") from None
        if not isinstance(content, dict):
            raise BadInputError("The message must be a JSON object with input and output.")
        fields = {key: content.get(key) for key in ("input", "output", "model")}
        if not isinstance(fields["input"], str) or not isinstance(fields["output"], str):
            raise BadInputError(
                'The message needs "input" and "output" locations as strings, e.g. '
                '{"input": "s3://bucket/in.csv", "output": "s3://bucket/out.csv"}.'
            )
        if fields["model"] is not None and not isinstance(fields["model"], str):
            raise BadInputError('"model" must be a model URI string when given.')
        for name in ("input", "output"):
            _check_job_location(name, fields[name])  # type: ignore[arg-type]
        return cls(**fields)  # type: ignore[arg-type]


def _check_job_location(name: str, location: str) -> None:
    """A job's input and output are objects in object storage, named by plain keys.

    Whoever can send to the queue is not the worker's operator: a local path would let them read
    the worker's files (the rejects file echoes the first 200 characters of each bad row) or
    write over them, and a ``..`` key could land outside the prefix the job was meant for.

    Raises:
        UnsafeLocationError: a local path, or a key with ``.``/``..`` segments.
    """
    if not is_remote(location):
        raise UnsafeLocationError(
            f'The job\'s "{name}" is {location!r}, not an object URI: a job names objects in '
            "object storage (s3://bucket/key), never a path on the worker's disk."
        )
    checked_key(location)


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


class SqsWorker:
    """Receives batch jobs from ``queue_url`` one at a time and scores them."""

    def __init__(
        self,
        queue_url: str,
        *,
        default_model: str,
        visibility_timeout: int = 300,
        wait_seconds: int = 10,
        max_text_chars: int = 100_000,
        metrics: bool = False,
        namespace: str = NAMESPACE,
        client: Any = None,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
    ) -> None:
        import boto3

        self.queue_url = queue_url
        self.default_model = default_model
        self.visibility_timeout = visibility_timeout
        self.wait_seconds = wait_seconds
        self.max_text_chars = max_text_chars
        self.metrics = metrics
        self.namespace = namespace
        self.sqs = client or boto3.client("sqs")
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._delay = backoff_seconds  # the next backoff; doubles per outage, reset by a job done
        self._stop = threading.Event()
        self._models: dict[str, LoadedModel] = {}

    def request_stop(self) -> None:
        """Finish the message in hand, then return from :meth:`run`."""
        self._stop.set()

    def run(self, *, once: bool = False, max_messages: int | None = None) -> WorkerStats:
        """Process messages until stopped, until ``max_messages`` were received, or (``once``)
        until the queue has nothing to give within one wait (or SQS fails to say)."""
        from botocore.exceptions import BotoCoreError, ClientError

        stats = WorkerStats()
        while not self._stop.is_set():
            if max_messages is not None and stats.received >= max_messages:
                break
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=self.wait_seconds,
                    VisibilityTimeout=self.visibility_timeout,
                    MessageAttributeNames=["All"],
                )
            except (BotoCoreError, ClientError) as error:
                stats.sqs_errors += 1
                stats.errors.append(f"receiving from {self.queue_url}: {error}")
                log.error(
                    "could not receive from %s (%s); check that SQS answers and the queue "
                    "exists with receive permission; retrying after a backoff",
                    self.queue_url,
                    error,
                )
                if once:
                    break
                self._back_off()
                continue
            messages = answer.get("Messages", [])
            if not messages:
                if once:
                    break
                continue
            stats.received += 1
            if not self._process(messages[0], stats):
                self._back_off()
        return stats

    def _back_off(self) -> None:
        """Wait the current delay (at once ended by :meth:`request_stop`), then double it."""
        delay = self._delay
        self._delay = min(self._delay * 2, self.max_backoff_seconds)
        log.info("backing off %.1f s before receiving again", delay)
        self._stop.wait(delay)

    def _process(self, message: dict[str, Any], stats: WorkerStats) -> bool:
        """Score the message's job; False when an outage (or SQS) says to back off."""
        from botocore.exceptions import BotoCoreError, ClientError

        receipt = message["ReceiptHandle"]
        try:
            job = BatchJob.parse(message["Body"])
            with self._heartbeat(receipt):
                done = self._score(job)
        except OUTAGES as error:
            # Not the job's fault: it comes back once the backoff is over, not after the whole
            # visibility timeout. The receive still counts towards maxReceiveCount.
            stats.failed += 1
            stats.outages += 1
            stats.errors.append(f"{message['MessageId']}: {error}")
            log.error(
                "job %s postponed: a service it needs failed; back on the queue in %.0f s (this "
                "receive counts towards the redrive policy's maxReceiveCount): %s",
                message["MessageId"],
                self._delay,
                error,
            )
            self._release(receipt, math.ceil(self._delay))
            return False
        except Exception as error:  # every other failure goes back to the queue, and its DLQ
            stats.failed += 1
            kind = "rejected" if isinstance(error, SentimentOpsError) else "failed"
            stats.errors.append(f"{message['MessageId']}: {error}")
            log.error(
                "job %s %s (left on the queue for its redrive policy): %s",
                message["MessageId"],
                kind,
                error,
            )
            self._delay = self.backoff_seconds  # S3 and MLflow answered: the job itself failed
            return True
        self._delay = self.backoff_seconds
        if done is None:
            stats.already_done += 1
            log.info("job %s was already done; acknowledging it", message["MessageId"])
        else:
            stats.scored += 1
            stats.rows += int(done["rows_in"])
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        except (BotoCoreError, ClientError) as error:
            # The job is done but its message stays: it is delivered again after the visibility
            # timeout, and the duplicate check (same input, fingerprint and model version in the
            # output's summary) acknowledges it then without scoring again.
            stats.sqs_errors += 1
            stats.errors.append(f"{message['MessageId']}: deleting the message: {error}")
            log.error(
                "job %s done, but its message could not be deleted (%s); it will be redelivered "
                "and skipped as already done",
                message["MessageId"],
                error,
            )
            return False
        return True

    def _release(self, receipt: str, delay: int) -> None:
        """Make the message visible again after ``delay`` seconds instead of the timeout."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=delay
            )
        except Exception as error:  # it comes back after the visibility timeout instead
            log.warning("could not shorten the message's visibility: %s", error)

    def _score(self, job: BatchJob) -> dict[str, Any] | None:
        """The job's summary, or None when its output already holds this model's predictions."""
        model = self._model(job.model or self.default_model)
        if _already_scored(job, model):
            return None
        summary = score_file(
            job.input,
            job.output,
            model_uri=model.location,
            loaded=model,
            max_text_chars=self.max_text_chars,
        ).to_dict()
        if self.metrics:
            rows = max(int(summary["rows_in"]), 1)
            put_metrics(
                {
                    "Predictions": (summary["predicted"], "Count"),
                    "Rejected": (summary["rejected"], "Count"),
                    "RejectRate": (summary["rejected"] / rows, "None"),
                    "ScoringSeconds": (summary["seconds"], "Seconds"),
                },
                component="worker",
                model_version=model.version,
                namespace=self.namespace,
            )
        return summary

    def _model(self, uri: str) -> LoadedModel:
        """Loaded once per version: the champion alias is resolved on every job (in the
        configured registry), so a promotion takes effect at the next message without a
        restart."""
        key = resolve_location(uri)
        if key not in self._models:
            self._models = {key: load_for_scoring(key)}  # keep one: models are large
        return self._models[key]

    @contextmanager
    def _heartbeat(self, receipt: str) -> Iterator[None]:
        """Extend the message's invisibility every half timeout while the job runs."""
        finished = threading.Event()

        def beat() -> None:
            while not finished.wait(self.visibility_timeout / 2):
                try:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=receipt,
                        VisibilityTimeout=self.visibility_timeout,
                    )
                except Exception as error:  # the job goes on; at worst it is redelivered
                    log.warning("could not extend the message's visibility: %s", error)

        thread = threading.Thread(target=beat, name="sqs-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            finished.set()
            thread.join()


def _already_scored(job: BatchJob, model: LoadedModel) -> bool:
    """Whether the job's output already holds this model's predictions of its input as it is
    now (:func:`~sentimentops.batch.predictor.already_scored`: same name, model version and
    input fingerprint, so an input rewritten under the same key is scored again).

    Raises:
        StorageUnavailableError: S3 failed to say (after its retries): the job cannot start.
        BadInputError: S3 refused to say: no such bucket, access denied, a malformed bucket.
        ConfigError: no AWS credentials to ask S3 with.
    """
    action = f"checking whether {job.output} is already scored"
    then = "the job runs again when its message comes back (it stays on the queue)"
    with object_store_errors(action, then=then):
        return already_scored(job.input, job.output, model)
