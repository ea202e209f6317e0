"""S3 faults injected for real: an HTTP proxy in front of a moto server answers S3 requests with
503 SlowDown (throttling) or 500 InternalError, as S3 does under load or in an incident.

moto has no switch to fail requests, so the fault sits on the wire: every S3 call the code
makes (s3fs for data, boto3 elsewhere) goes through the proxy, which counts them. SQS talks to
moto directly, so the queue keeps working while S3 fails.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.cloud.sqs_worker import SqsWorker
from tests.servers import free_port, moto_s3, without_aws_credentials

runner = CliRunner()
BUCKET = "fault-data"
INPUT_KEY = "in/reviews.csv"
CSV = b"id,review\n1,A wonderful and moving film.\n2,Dull and tedious.\n3,Superb acting.\n"

ERROR_BODIES = {
    503: b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    500: b"<Error><Code>InternalError</Code><Message>We encountered an internal error. "
    b"Please try again.</Message></Error>",
    403: b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
}
# Hop-by-hop headers: the proxy reframes bodies, so these are its own business.
HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}


@dataclass
class FaultyS3:
    """What the proxy does and saw: ``fail_next`` requests answered with ``status``, or every
    request while ``failing``; ``seen`` holds (monotonic time, method, path, status) of each."""

    url: str = ""
    status: int = 503
    fail_next: int = 0
    failing: bool = False
    methods: set[str] = field(default_factory=lambda: {"GET", "HEAD", "PUT", "POST", "DELETE"})
    seen: list[tuple[float, str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, method: str) -> bool:
        with self.lock:
            if method not in self.methods:
                return False
            if self.failing:
                return True
            if self.fail_next > 0:
                self.fail_next -= 1
                return True
            return False

    def faults(self) -> list[tuple[float, str, str, int]]:
        return [entry for entry in self.seen if entry[3] == self.status]


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while size := int(handler.rfile.readline().split(b";")[0].strip(), 16):
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        handler.rfile.readline()  # the empty line after the last chunk
        return b"".join(chunks)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


@pytest.fixture
def faulty_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyS3]:
    """moto behind a fault-injecting proxy: S3 (``AWS_ENDPOINT_URL_S3``) goes through the proxy,
    every other service (SQS) straight to moto."""
    with moto_s3(monkeypatch) as moto_endpoint:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("s3").put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=CSV)
        upstream = urlsplit(moto_endpoint)
        fault = FaultyS3()

        class Proxy(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            _upstream_length = "0"

            def _relay(self) -> None:
                body = _read_body(self)
                if fault.take_fault(self.command):
                    self._answer(fault.status, ERROR_BODIES[fault.status], {})
                    return
                connection = http.client.HTTPConnection("127.0.0.1", upstream.port)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    content = response.read()
                    self._upstream_length = response.getheader("Content-Length") or "0"
                    passed = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                    self._answer(response.status, content, passed)
                finally:
                    connection.close()

            def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                with fault.lock:
                    fault.seen.append((time.monotonic(), self.command, self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if self.command == "HEAD" and status < 400:
                    # A HEAD answer has no body but tells the object's size: keep moto's.
                    self.send_header("Content-Length", self._upstream_length)
                else:
                    self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test reads ``seen`` instead

        server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        fault.url = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fault.url)
        try:
            yield fault
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _predict(output: str, model_folder: Path) -> Any:
    return runner.invoke(
        app, ["predict", f"s3://{BUCKET}/{INPUT_KEY}", output, "--model", str(model_folder)]
    )


def _attempt_gaps(attempts: list[tuple[float, str, str, int]]) -> list[float]:
    return [later[0] - earlier[0] for earlier, later in itertools.pairwise(attempts)]


def _backed_off(gaps: list[float]) -> bool:
    """Whether the client waited between attempts. botocore's backoff is jittered: the n-th
    wait is random in [0, 2**n) s, so one wait may be near zero, but not all of them (the
    chance that two waits add up to under 10 ms is about 1 in 40,000)."""
    return sum(gaps) > 0.01


def test_throttling_is_retried_with_backoff_and_the_job_completes(
    faulty_s3: FaultyS3, model_folder: Path
) -> None:
    faulty_s3.fail_next = 3  # S3 throttles the first three requests, then recovers
    output = f"s3://{BUCKET}/out/scored.csv"

    started = time.monotonic()
    result = _predict(output, model_folder)
    seconds = time.monotonic() - started

    assert result.exit_code == 0, result.output
    throttled = faulty_s3.faults()
    assert len(throttled) == 3
    first_success = next(entry for entry in faulty_s3.seen if entry[3] < 400)
    # The same request, sent again until it went through: retried, not given up.
    assert {entry[1:3] for entry in throttled} == {first_success[1:3]}
    assert _backed_off(_attempt_gaps([*throttled, first_success]))
    scored = pd.read_csv(boto3.client("s3").get_object(Bucket=BUCKET, Key="out/scored.csv")["Body"])
    assert scored["id"].tolist() == [1, 2, 3]
    assert seconds < 30
    gaps = ", ".join(f"{gap:.2f}" for gap in _attempt_gaps([*throttled, first_success]))
    print(f"throttled x3, retried after {gaps} s; job done in {seconds:.1f} s")


def test_s3_failing_on_every_upload_is_a_clear_error_and_nothing_appears(
    faulty_s3: FaultyS3, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")  # the AWS knob; keeps the test short
    faulty_s3.status = 500
    faulty_s3.methods = {"PUT", "POST"}  # reads work; every upload fails
    faulty_s3.failing = True

    started = time.monotonic()
    result = _predict(f"s3://{BUCKET}/out/scored.csv", model_folder)
    seconds = time.monotonic() - started

    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "The object store failed while scoring" in message
    assert "reached max retries: 2" in message  # three attempts of the upload, then given up
    assert "Traceback" not in result.output
    uploads = faulty_s3.faults()
    assert len(uploads) == 3
    assert len({entry[1:3] for entry in uploads}) == 1  # one upload, tried three times
    assert _backed_off(_attempt_gaps(uploads))
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert listed["KeyCount"] == 0  # no object presented as an output
    assert seconds < 30
    gaps = ", ".join(f"{gap:.2f}" for gap in _attempt_gaps(uploads))
    print(f"upload 500 x3, retried after {gaps} s; exit 1 after {seconds:.1f} s")

    faulty_s3.failing = False  # S3 recovers: the same command, resumed, completes
    resumed = runner.invoke(
        app,
        ["predict", f"s3://{BUCKET}/{INPUT_KEY}", f"s3://{BUCKET}/out/scored.csv",
         "--model", str(model_folder), "--resume"],
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/")["KeyCount"] == 3


def test_a_writer_that_may_not_list_the_output_bucket_still_writes_to_it(
    faulty_s3: FaultyS3, model_folder: Path, tmp_path: Path
) -> None:
    """The check for a missing output bucket lists it; a writer without s3:ListBucket is
    refused the listing (403), and the job must still run and upload."""
    faulty_s3.status = 403
    faulty_s3.methods = {"GET"}  # reading is refused; writing is allowed
    faulty_s3.failing = True
    source = tmp_path / "in.csv"
    source.write_bytes(CSV)

    result = runner.invoke(
        app,
        ["predict", str(source), f"s3://{BUCKET}/out/scored.csv", "--model", str(model_folder)],
    )

    assert result.exit_code == 0, result.output
    refused = faulty_s3.faults()
    assert [entry[1] for entry in refused] == ["GET"]  # the listing, refused once, not retried
    assert f"/{BUCKET}" in refused[0][2]
    faulty_s3.failing = False  # the test reads the output back through the same proxy
    scored = pd.read_csv(boto3.client("s3").get_object(Bucket=BUCKET, Key="out/scored.csv")["Body"])
    assert scored["id"].tolist() == [1, 2, 3]


def test_a_job_whose_input_s3_keeps_failing_reaches_the_dead_letter_queue(
    faulty_s3: FaultyS3, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    sqs = boto3.client("sqs")  # straight to moto: the queue works while S3 fails
    dlq_url = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
    queue_url = sqs.create_queue(
        QueueName="jobs", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    job = {"input": f"s3://{BUCKET}/{INPUT_KEY}", "output": f"s3://{BUCKET}/out/job.csv",
           "model": str(model_folder)}  # fmt: skip
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
    faulty_s3.status = 500
    faulty_s3.failing = True
    worker = SqsWorker(queue_url, default_model="unused", wait_seconds=2, backoff_seconds=0.1)

    stats = worker.run(once=True)

    # Received, failed, back on the queue after the backoff; failed again; then the redrive
    # policy moved it to the dead-letter queue: every receive counts, outage or not.
    assert (stats.received, stats.failed, stats.outages, stats.scored) == (2, 2, 2, 0)
    # The worker's first S3 call (is this output already scored?) is the one that fails.
    assert all("The object store failed while checking" in error for error in stats.errors)
    assert all("Internal Server Error" in error for error in stats.errors)
    assert _messages(sqs, queue_url) == 0
    assert _messages(sqs, dlq_url) == 1
    faulty_s3.failing = False
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/")["KeyCount"] == 0
    print(f"job: {stats.received} receives, {stats.failed} failures, then the DLQ")


def _job_queue(sqs: Any, max_receive_count: int) -> tuple[str, str]:
    """(job queue, dead-letter queue): the job queue redrives after ``max_receive_count``."""
    dlq_url = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    attributes = {"RedrivePolicy": json.dumps(redrive)}
    return sqs.create_queue(QueueName="jobs", Attributes=attributes)["QueueUrl"], dlq_url


def test_an_s3_outage_during_a_job_leaves_it_queued_and_the_worker_goes_on(
    faulty_s3: FaultyS3, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage is not the job's fault: its message is neither deleted nor dead-lettered after
    one failure, it comes back after the worker's backoff, and is scored once S3 answers."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    sqs = boto3.client("sqs")  # straight to moto: the queue works while S3 fails
    queue_url, dlq_url = _job_queue(sqs, max_receive_count=3)
    job = {"input": f"s3://{BUCKET}/{INPUT_KEY}", "output": f"s3://{BUCKET}/out/job.csv",
           "model": str(model_folder)}  # fmt: skip
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
    worker = SqsWorker(queue_url, default_model="unused", wait_seconds=2, backoff_seconds=0.1)
    faulty_s3.status = 503
    faulty_s3.failing = True

    during = worker.run(max_messages=1)

    assert (during.received, during.outages, during.scored) == (1, 1, 0)
    assert "The object store failed" in during.errors[0]
    assert (_messages(sqs, queue_url), _messages(sqs, dlq_url)) == (1, 0)  # still queued

    faulty_s3.failing = False
    after = worker.run(once=True)  # the message is back once its short delay is over

    assert (after.received, after.scored, after.failed) == (1, 1, 0)
    assert (_messages(sqs, queue_url), _messages(sqs, dlq_url)) == (0, 0)
    scored = pd.read_csv(boto3.client("s3").get_object(Bucket=BUCKET, Key="out/job.csv")["Body"])
    assert scored["id"].tolist() == [1, 2, 3]


def test_sqs_failing_to_receive_is_logged_not_a_crash(
    faulty_s3: FaultyS3, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS itself answering 500 (here through the same fault proxy): the worker reports it and
    backs off instead of dying with a traceback, and takes the job once SQS answers again."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    queue_url, _ = _job_queue(boto3.client("sqs"), max_receive_count=3)
    job = {"input": f"s3://{BUCKET}/{INPUT_KEY}", "output": f"s3://{BUCKET}/out/job.csv",
           "model": str(model_folder)}  # fmt: skip
    boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
    through_proxy = boto3.client("sqs", endpoint_url=faulty_s3.url)
    worker = SqsWorker(
        queue_url, default_model="unused", wait_seconds=1, client=through_proxy,
        backoff_seconds=0.1,
    )  # fmt: skip
    faulty_s3.status = 500
    faulty_s3.failing = True

    failing = worker.run(once=True)

    assert (failing.received, failing.sqs_errors) == (0, 1)
    assert f"receiving from {queue_url}" in failing.errors[0]
    faulty_s3.failing = False
    answered = worker.run(once=True)
    assert (answered.received, answered.scored, answered.sqs_errors) == (1, 1, 0)


def _messages(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def test_an_unreachable_s3_endpoint_is_a_clear_error(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moto_s3(monkeypatch):
        # Nothing listens there: S3 is down (a stopped LocalStack, a wrong endpoint).
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")

        started = time.monotonic()
        result = _predict(str(tmp_path / "out.csv"), model_folder)
        seconds = time.monotonic() - started

    assert result.exit_code == 1
    message = " ".join(result.output.split())
    # Found by the input's check, before any model is loaded.
    assert f"The object store failed while checking s3://{BUCKET}/{INPUT_KEY} before scoring" in (
        message
    )
    assert "Could not connect to the endpoint URL" in message
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()
    assert seconds < 30
    print(f"unreachable endpoint: exit 1 after {seconds:.1f} s")


@pytest.mark.parametrize("failing", ["HEAD", "GET"])
def test_reading_a_dataset_while_s3_fails_is_an_outage_not_bad_input(
    faulty_s3: FaultyS3, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 (worth retrying), not 2 (fix your input): the dataset may be fine. HEAD fails
    the existence check, GET the read itself."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    faulty_s3.methods = {failing}
    faulty_s3.failing = True

    result = runner.invoke(app, ["data", "validate", f"s3://{BUCKET}/{INPUT_KEY}"])

    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert f"The object store failed while reading s3://{BUCKET}/{INPUT_KEY}" in message
    assert "reached max retries: 1" in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize("failing", ["HEAD", "GET"])
def test_reading_a_dataset_s3_refuses_is_bad_input_not_an_outage(
    faulty_s3: FaultyS3, failing: str
) -> None:
    """Access denied (403) is exit 2 (fix the permissions), not 1 (retry) nor a traceback: HEAD
    is the existence check (before the fix: a raw PermissionError), GET the read itself."""
    faulty_s3.status = 403
    faulty_s3.methods = {failing}
    faulty_s3.failing = True
    uri = f"s3://{BUCKET}/{INPUT_KEY}"

    result = runner.invoke(app, ["data", "validate", uri])

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"The object store refused a request while reading {uri}" in message
    assert "Forbidden" in message if failing == "HEAD" else "Access Denied" in message
    assert "Retrying will not help" in message
    assert "permissions of the credentials in use" in message
    assert "Traceback" not in result.output
    assert len(faulty_s3.faults()) == 1  # a refusal is not retried


@pytest.mark.parametrize(
    "arguments",
    [
        ["data", "validate", "s3://Bad_Bucket!/in/reviews.csv"],
        ["predict", "s3://Bad_Bucket!/in/reviews.csv", "out.csv"],
        ["predict", f"s3://{BUCKET}/{INPUT_KEY}", "s3://Bad_Bucket!/out/scored.csv"],
    ],
    ids=["validate input", "predict input", "predict output"],
)
def test_a_malformed_bucket_name_is_bad_input_not_an_outage(
    faulty_s3: FaultyS3,
    model_folder: Path,
    tmp_path: Path,
    arguments: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 2 naming the URI (before the fix: exit 1, "the object store failed ... retry")."""
    monkeypatch.chdir(tmp_path)
    if arguments[0] == "predict":
        arguments = [*arguments, "--model", str(model_folder)]

    result = runner.invoke(app, arguments)

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "s3://Bad_Bucket!/" in message
    assert 'Invalid bucket name "Bad_Bucket!"' in message
    assert "not a valid S3 URI" in message
    assert "The object store failed" not in message
    assert "Traceback" not in result.output
    # Refused by the client before any request for it was sent.
    assert not [entry for entry in faulty_s3.seen if "Bad_Bucket" in entry[2]]
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "command", ["validate", "predict to S3", "predict from S3"], ids=lambda command: command
)
def test_s3_without_credentials_is_a_config_error(
    model_folder: Path, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 2 naming the variables to set (before the fix: exit 1, "the object store failed ...
    retry", which never helps)."""
    source = tmp_path / "in.csv"
    source.write_bytes(CSV)
    with moto_s3(monkeypatch) as endpoint:
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("s3").put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=CSV)
        without_aws_credentials(monkeypatch, tmp_path)
        model = ["--model", str(model_folder)]
        arguments = {
            "validate": ["data", "validate", f"s3://{BUCKET}/{INPUT_KEY}"],
            "predict to S3": ["predict", str(source), f"s3://{BUCKET}/out/scored.csv", *model],
            "predict from S3": ["predict", f"s3://{BUCKET}/{INPUT_KEY}", "out.csv", *model],
        }[command]
        monkeypatch.chdir(tmp_path)

        result = runner.invoke(app, arguments)

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "No usable AWS credentials while" in message
    assert "Unable to locate credentials" in message
    assert "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in message
    assert "AWS_PROFILE" in message
    assert f"AWS_ENDPOINT_URL must name the endpoint (endpoint {endpoint}" in message
    assert "The object store failed" not in message
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()
