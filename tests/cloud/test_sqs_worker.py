"""The SQS batch worker against a moto server: jobs scored into S3, messages deleted only after
success, poisoned jobs to the dead-letter queue, duplicates scored once, metrics in CloudWatch,
a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.cloud.sqs_worker import MAX_ERRORS_KEPT, BatchJob, SqsWorker, WorkerStats
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from tests.cloud.metrics import metric_sum
from tests.servers import moto_s3, without_aws_credentials
from tests.user import run_cli

runner = CliRunner()
BUCKET = "worker-jobs"
CSV = b"id,review\n1,A wonderful and moving film.\n2,Dull and tedious.\n3,\n"


@dataclass
class Aws:
    s3: Any
    sqs: Any
    queue_url: str
    dlq_url: str

    def send(self, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)

    def waiting(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A bucket with an input, a job queue whose redrive policy sends a message to the
    dead-letter queue after two failed receives."""
    with moto_s3(monkeypatch):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="in/reviews.csv", Body=CSV)
        sqs = boto3.client("sqs")
        dlq_url = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
        queue_url = sqs.create_queue(
            QueueName="jobs", Attributes={"RedrivePolicy": json.dumps(redrive)}
        )["QueueUrl"]
        yield Aws(s3, sqs, queue_url, dlq_url)


def _job(model_folder: Path, output: str = "out/scored.csv") -> dict[str, str]:
    return {
        "input": f"s3://{BUCKET}/in/reviews.csv",
        "output": f"s3://{BUCKET}/{output}",
        "model": str(model_folder),
    }


def test_a_job_is_scored_into_s3_and_its_message_deleted(
    aws: Aws, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_CLOUD__CLOUDWATCH_METRICS", "true")
    monkeypatch.setenv("SENTIMENTOPS_CLOUD__WAIT_SECONDS", "1")
    get_settings.cache_clear()
    aws.send(_job(model_folder))

    result = runner.invoke(app, ["worker", "--queue-url", aws.queue_url, "--once"])

    assert result.exit_code == 0, result.output
    assert "1 scored (3 rows)" in result.output
    scored = pd.read_csv(aws.s3.get_object(Bucket=BUCKET, Key="out/scored.csv")["Body"])
    assert list(scored["label"]) == ["positive", "negative"]
    summary = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key="out/scored.csv.summary.json")["Body"].read()
    )
    assert (summary["predicted"], summary["rejected"]) == (2, 1)
    assert aws.waiting() == 0  # deleted after success

    cloudwatch = boto3.client("cloudwatch")
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="SentimentOps")["Metrics"]}
    assert {"Predictions", "Rejected", "RejectRate", "ScoringSeconds"} <= names
    assert metric_sum("Predictions", component="worker", model_version="local") == 2


def test_the_worker_scores_with_the_champion_of_the_default_store(
    aws: Aws, user_champion_home: Path
) -> None:
    """As a user runs it: SENTIMENTOPS_HOME and the AWS variables set, nothing else of ours."""
    aws.send({"input": f"s3://{BUCKET}/in/reviews.csv", "output": f"s3://{BUCKET}/out/champ.csv"})

    completed = run_cli(
        "worker", "--queue-url", aws.queue_url, "--once", home=user_champion_home,
        SENTIMENTOPS_CLOUD__WAIT_SECONDS="1",
    )  # fmt: skip

    output = " ".join(completed.stdout.split())
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 received: 1 scored (3 rows)" in output
    scored = pd.read_csv(aws.s3.get_object(Bucket=BUCKET, Key="out/champ.csv")["Body"])
    assert set(scored["model_name"]) == {"imdb-sentiment"}
    assert set(scored["model_version"].astype(str)) == {"1"}
    assert aws.waiting() == 0


def test_a_message_delivered_twice_is_scored_once(aws: Aws, model_folder: Path) -> None:
    aws.send(_job(model_folder))
    aws.send(_job(model_folder))  # the same job again, as SQS may deliver it
    worker = SqsWorker(aws.queue_url, default_model="unused", wait_seconds=1)

    stats = worker.run(once=True)

    assert (stats.received, stats.scored, stats.already_done, stats.failed) == (2, 1, 1, 0)
    assert aws.waiting() == 0


def test_an_input_rewritten_under_the_same_key_is_scored_again(
    aws: Aws, model_folder: Path
) -> None:
    """A producer rewrites s3://.../in/reviews.csv and sends the same message: the new rows are
    scored, not acknowledged as already done because the name and model match."""
    worker = SqsWorker(aws.queue_url, default_model="unused", wait_seconds=1)
    aws.send(_job(model_folder))
    first = worker.run(once=True)
    aws.s3.put_object(Bucket=BUCKET, Key="in/reviews.csv", Body=b"id,review\n7,Superb acting.\n")
    aws.send(_job(model_folder))

    second = worker.run(once=True)

    assert (first.scored, second.scored, second.already_done) == (1, 1, 0)
    scored = pd.read_csv(aws.s3.get_object(Bucket=BUCKET, Key="out/scored.csv")["Body"])
    assert scored["id"].tolist() == [7]
    summary = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key="out/scored.csv.summary.json")["Body"].read()
    )
    etag = aws.s3.head_object(Bucket=BUCKET, Key="in/reviews.csv")["ETag"].strip('"')
    assert (summary["rows_in"], summary["input_fingerprint"]) == (1, etag)
    assert aws.waiting() == 0


def test_a_summary_without_a_fingerprint_is_not_trusted(aws: Aws, model_folder: Path) -> None:
    """An output scored before summaries recorded the input's fingerprint is scored again: it
    cannot tell which content of the input it holds."""
    worker = SqsWorker(aws.queue_url, default_model="unused", wait_seconds=1)
    aws.send(_job(model_folder))
    worker.run(once=True)
    key = "out/scored.csv.summary.json"
    old = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    del old["input_fingerprint"]
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(old).encode())
    aws.send(_job(model_folder))

    stats = worker.run(once=True)

    assert (stats.scored, stats.already_done) == (1, 0)
    rewritten = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert rewritten["input_fingerprint"]


def test_poisoned_jobs_reach_the_dead_letter_queue_after_two_attempts(
    aws: Aws, model_folder: Path
) -> None:
    aws.send({**_job(model_folder), "input": f"s3://{BUCKET}/in/missing.csv"})
    aws.send("this is not a job")
    worker = SqsWorker(aws.queue_url, default_model="unused", visibility_timeout=1, wait_seconds=2)

    stats = worker.run(once=True)

    assert stats.scored == 0
    assert stats.failed == 4  # each message twice, then the redrive policy takes it
    assert any("missing.csv" in error for error in stats.errors)
    assert any("not JSON" in error for error in stats.errors)
    assert aws.waiting() == 0
    assert aws.waiting(aws.dlq_url) == 2


def test_a_job_whose_output_bucket_is_malformed_is_rejected_not_an_outage(
    aws: Aws, model_folder: Path
) -> None:
    """The worker's first S3 call (is the output already scored?) is refused by the client: a
    rejected job saying to fix the URI, not "the object store failed"; it stays for the DLQ."""
    aws.send({**_job(model_folder), "output": "s3://Bad_Bucket!/out/scored.csv"})
    worker = SqsWorker(aws.queue_url, default_model="unused", visibility_timeout=1, wait_seconds=2)

    stats = worker.run(once=True)

    assert (stats.scored, stats.failed) == (0, 2)
    for error in stats.errors:
        assert "refused a request while checking whether s3://Bad_Bucket!/out/scored.csv" in error
        assert "not a valid S3 URI" in error
        assert "The object store failed" not in error
    assert aws.waiting(aws.dlq_url) == 1


def test_a_long_running_worker_keeps_only_its_latest_errors() -> None:
    stats = WorkerStats()
    for number in range(MAX_ERRORS_KEPT + 50):
        stats.errors.append(f"job {number}: failed")

    assert len(stats.errors) == MAX_ERRORS_KEPT
    assert stats.errors[0] == "job 50: failed"
    assert stats.errors[-1] == f"job {MAX_ERRORS_KEPT + 49}: failed"


def test_job_messages_are_validated() -> None:
    job = '{"input": "s3://b/in/a.csv", "output": "s3://b/out/a.csv"}'
    assert BatchJob.from_message(job) == BatchJob("s3://b/in/a.csv", "s3://b/out/a.csv")
    for body in (
        "[]",
        '{"input": "s3://b/a.csv"}',
        '{"input": "s3://b/a", "output": "s3://b/b", "model": 3}',
        '{"input": "a.csv", "output": "s3://b/b.csv"}',  # the worker's disk: refused
        '{"input": "s3://b/a.csv", "output": "s3://b/out/../billing/b.csv"}',
    ):
        with pytest.raises(BadInputError):
            BatchJob.from_message(body)


def test_sigterm_finishes_the_job_in_hand_then_stops(
    aws: Aws, model_folder: Path, reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    big = reference_reviews[["review"]].head(30_000).rename_axis("id").reset_index()
    local = tmp_path / "big.csv"
    big.to_csv(local, index=False)
    aws.s3.upload_file(str(local), BUCKET, "in/big.csv")
    aws.send({**_job(model_folder, "out/big.csv"), "input": f"s3://{BUCKET}/in/big.csv"})
    aws.send(_job(model_folder, "out/second.csv"))
    command = [str(Path(sys.executable).parent / "sentimentops"), "worker"]
    worker = subprocess.Popen(
        [*command, "--queue-url", aws.queue_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _in_flight(aws) == 0:  # wait until the worker holds the first job
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=120)
    finally:
        worker.kill()

    assert worker.returncode == 0, output
    assert "1 scored (30,000 rows)" in output
    keys = {item["Key"] for item in aws.s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "out/big.csv" in keys
    assert "out/second.csv" not in keys  # no new job after the signal
    assert aws.waiting() == 1  # the second job waits for the next worker


def _in_flight(aws: Aws) -> int:
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_no_aws_region_is_a_configuration_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """boto3 raised NoRegionError from the worker's start: exit 1 and 80 lines of traceback."""
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    result = runner.invoke(app, ["worker", "--queue-url", "http://127.0.0.1:1/q", "--once"])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "No AWS region is set for SQS. Set AWS_DEFAULT_REGION" in " ".join(result.output.split())


def test_no_aws_credentials_is_exit_2_at_once_not_retried_for_ever(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without credentials the worker backed off and retried for ever (exit 1 with --once)."""
    without_aws_credentials(monkeypatch, tmp_path)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the fixture's holds its credentials

    result = runner.invoke(app, ["worker", "--queue-url", aws.queue_url, "--once"])

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"No usable AWS credentials while receiving from {aws.queue_url}" in message
    assert "Set AWS_ACCESS_KEY_ID" in message


@pytest.mark.parametrize("url", ["foo", "sqs.us-east-1.amazonaws.com/123456789012/jobs"])
def test_a_queue_url_that_is_no_url_is_exit_2_naming_the_form(url: str) -> None:
    """boto3 asked its default endpoint instead, and reported a connection error."""
    result = runner.invoke(app, ["worker", "--queue-url", url, "--once"])

    assert result.exit_code == 2, result.output
    assert f"{url} is not a queue URL: give one such as https://" in " ".join(result.output.split())


class _CredentialsLapsing:
    """An SQS client whose credentials lapse after its first answer, as an instance role's
    refresh can fail for a while (the metadata service briefly silent); it stops the worker
    at its fourth call."""

    def __init__(self) -> None:
        self.calls = 0
        self.worker: SqsWorker | None = None

    def receive_message(self, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import NoCredentialsError

        self.calls += 1
        if self.calls == 4 and self.worker is not None:
            self.worker.request_stop()
        if self.calls == 1:
            return {}
        raise NoCredentialsError


def test_credentials_that_lapse_once_received_are_an_outage_backed_off_not_an_exit() -> None:
    client = _CredentialsLapsing()
    worker = SqsWorker(
        "http://127.0.0.1:1/000000000000/jobs", default_model="models:/m@champion",
        client=client, backoff_seconds=0.001, max_backoff_seconds=0.001,
    )  # fmt: skip
    client.worker = worker

    stats = worker.run()

    assert client.calls == 4
    assert stats.sqs_errors == 3
    assert "Unable to locate credentials" in stats.errors[-1]
