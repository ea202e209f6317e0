"""Team mode end to end: docker-compose.yml's services started as local processes (see
team_stack.py), then the README's "Run it as a team" steps: train through the `jobs` service,
score through the API and through the queue, monitor the prediction log, promote a new
champion and watch the API hot-reload it. PostgreSQL throughout: no SQLite anywhere."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import sqlalchemy
from botocore.exceptions import ClientError
from mlflow import MlflowClient

from tests.deploy.team_stack import TeamStack, get_json, post_json, team_stack
from tests.servers import POSTGRES, eventually, moto_s3, postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.stack]

FAST_TRAINING = Path(__file__).resolve().parents[1] / "fast_training.yaml"
# `docker compose run -e ...` options of the test's training runs: small grids, so CI stays fast.
FAST = {"SENTIMENTOPS_CONFIG": str(FAST_TRAINING)}
MODEL = "imdb-sentiment"
# Polling the stack: servers and objects that do not answer yet count as "not yet".
SLOW = {"timeout": 120.0, "interval": 1.0, "not_yet": (OSError, ClientError)}


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TeamStack]:
    with contextlib.ExitStack() as resources:
        endpoint = resources.enter_context(moto_s3(monkeypatch))
        databases = {
            name: resources.enter_context(postgres_database(f"team_{name}")).rsplit("/", 1)[1]
            for name in ("mlflow", "prefect", "predictions")
        }
        stack = resources.enter_context(
            team_stack(databases, endpoint, tmp_path, RELOAD_INTERVAL_SECONDS="1")
        )
        _localstack_ready_hook(stack.env_file)
        for service in ("mlflow", "prefect", "api", "worker", "scheduler"):  # depends_on order
            stack.up(service)
        yield stack


def _localstack_ready_hook(env: dict[str, str]) -> None:
    """What deploy/compose/localstack/ready.sh does at LocalStack's start: the bucket, the job
    queue and its dead-letter queue."""
    boto3.client("s3").create_bucket(Bucket=env["BUCKET"])
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{env['JOB_QUEUE']}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": "3"}
    sqs.create_queue(QueueName=env["JOB_QUEUE"], Attributes={"RedrivePolicy": json.dumps(redrive)})


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def champion_version(team: TeamStack) -> str:
    client = MlflowClient(tracking_uri=team.url("mlflow"))
    return str(client.get_model_version_by_alias(MODEL, "champion").version)


def served_version(team: TeamStack, key: dict[str, str]) -> str:
    return str(get_json(team.url("api", "/v1/model"), key)["version"])


def train(team: TeamStack, *options: str) -> dict[str, Any]:
    """``jobs pipeline run training --json``: what the flow reports (version, promoted, ...)."""
    trained = team.run(
        "jobs", "pipeline", "run", "training", "--sample", "2000", "--json", *options, env=FAST
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    report: dict[str, Any] = json.loads(trained.stdout[trained.stdout.index("{") :])
    return report


def test_the_compose_stack_works_as_a_team(
    team: TeamStack, reference_reviews: pd.DataFrame
) -> None:
    key = {"X-API-Key": team.env_file["SENTIMENTOPS_API_KEY"]}
    bucket = team.env_file["BUCKET"]
    reviews = reference_reviews.sample(200, random_state=7)["review"].tolist()

    # No champion yet: the API is live, not ready, and waits for one.
    assert http_status(team.url("api", "/health/live")) == 200
    assert http_status(team.url("api", "/health/ready")) == 503

    # docker compose run --rm jobs pipeline run training
    train(team)
    first = champion_version(team)
    eventually(
        lambda: http_status(team.url("api", "/health/ready")) == 200, **SLOW, what="API ready"
    )
    assert served_version(team, key) == first

    # Through the API (the key is required): one review, then two batches.
    with pytest.raises(urllib.error.HTTPError) as refused:
        post_json(team.url("api", "/v1/predict"), {"text": reviews[0]})
    assert refused.value.code == 401
    single = post_json(team.url("api", "/v1/predict"), {"text": reviews[0]}, key)
    assert single["label"] in ("positive", "negative")
    assert single["model"] == {"name": MODEL, "version": first}
    for start in (0, 64):
        batch = post_json(
            team.url("api", "/v1/predict/batch"), {"texts": reviews[start : start + 64]}, key
        )
        assert len(batch["predictions"]) == 64
    log = sqlalchemy.create_engine(f"{POSTGRES}/{team.databases['predictions']}")
    with log.connect() as connection:
        count = sqlalchemy.text("SELECT count(*) FROM predictions")
        eventually(lambda: connection.execute(count).scalar() == 129, **SLOW, what="129 rows")
    log.dispose()

    # Through the queue: a CSV on S3 and a job message; the worker writes the scores beside.
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    inbox = pd.DataFrame({"id": range(20), "review": reviews[100:120]})
    s3.put_object(Bucket=bucket, Key="inbox/reviews.csv", Body=inbox.to_csv(index=False))
    queue_url = sqs.get_queue_url(QueueName=team.env_file["JOB_QUEUE"])["QueueUrl"]
    job = {"input": f"s3://{bucket}/inbox/reviews.csv", "output": f"s3://{bucket}/out/reviews.csv"}
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))
    scored_object = eventually(
        lambda: s3.get_object(Bucket=bucket, Key="out/reviews.csv"), **SLOW, what="the output"
    )
    scored = pd.read_csv(io.BytesIO(scored_object["Body"].read()))
    assert scored["id"].tolist() == list(range(20))
    assert set(scored["model_version"].astype(str)) == {first}
    eventually(lambda: _queue_is_empty(sqs, queue_url), **SLOW, what="the job deleted")

    # docker compose run --rm jobs pipeline run monitoring --hours 1: the prediction log's window.
    monitored = team.run("jobs", "pipeline", "run", "monitoring", "--hours", "1")
    assert monitored.returncode in (0, 3), monitored.stdout[-3000:] + monitored.stderr[-3000:]
    reports = s3.list_objects_v2(Bucket=bucket, Prefix="reports/").get("Contents", [])
    assert any(item["Key"].endswith("report.html") for item in reports)

    # A new champion: trained again, promoted by hand, and hot-reloaded by the running API.
    retrained = train(team, "--force")
    second = str(retrained["version"])
    assert second != first, retrained
    promoted = team.run("jobs", "models", "promote", second)
    assert promoted.returncode == 0, promoted.stderr
    eventually(lambda: served_version(team, key) == second, **SLOW, what="hot reload")
    after = post_json(team.url("api", "/v1/predict"), {"text": reviews[1]}, key)
    assert after["model"]["version"] == second

    # The scheduler registered the cron deployments on the Prefect server, where the one-off
    # runs were recorded too; the worker and the scheduler are still up.
    deployments = post_json(team.url("prefect", "/api/deployments/filter"), {})
    assert {d["name"] for d in deployments} == {
        "sentimentops-batch",
        "sentimentops-monitoring",
        "sentimentops-retraining",
    }
    flows = {
        flow["id"]: flow["name"] for flow in post_json(team.url("prefect", "/api/flows/filter"), {})
    }
    runs = post_json(team.url("prefect", "/api/flow_runs/filter"), {})
    completed = sorted(flows[run["flow_id"]] for run in runs if run["state_type"] == "COMPLETED")
    assert completed == ["monitoring", "training", "training"]
    assert team.running("worker")
    assert team.running("scheduler")

    # PostgreSQL throughout: no service fell back to a SQLite file.
    assert sorted(team.state.rglob("*.db")) == []


def _queue_is_empty(sqs: Any, queue_url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(int(value) == 0 for value in attributes.values())
