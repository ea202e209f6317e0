"""``sentimentops worker``: take batch jobs from an SQS queue and score them."""

from __future__ import annotations

import typer

from sentimentops.cli.output import console
from sentimentops.config import get_settings

__all__ = ["worker_command"]


def worker_command(
    queue_url: str | None = typer.Option(
        None, "--queue-url", help="The SQS queue of jobs (default: cloud.queue_url)."
    ),
    once: bool = typer.Option(
        False, "--once", help="Stop when the queue has nothing to give within one wait."
    ),
    max_messages: int | None = typer.Option(
        None, "--max-messages", min=1, help="Stop after receiving N messages."
    ),
    model: str | None = typer.Option(
        None, "--model", help="For jobs that name none (default: the champion)."
    ),
) -> None:
    """Score batch jobs from SQS: messages {"input": ..., "output": ..., "model": optional}.

    A message is deleted once its output is written; failures stay for the queue's redrive
    policy (dead-letter queue). When S3, MLflow or SQS fail, the worker backs off (1 s doubling to
    60 s). SIGTERM finishes the job in hand. Exit 1 when a job or an SQS call failed in a bounded
    run (--once or --max-messages).
    """
    import signal

    from sentimentops.cloud.sqs_worker import SqsWorker
    from sentimentops.errors import ConfigError

    settings = get_settings()
    url = queue_url or settings.cloud.queue_url
    if url is None:
        raise ConfigError("No queue: pass --queue-url or set cloud.queue_url.")
    if not url.startswith(("https://", "http://")):  # boto3 would ask its default endpoint
        raise ConfigError(
            f"{url} is not a queue URL: give one such as https://sqs.us-east-1.amazonaws.com/"
            "123456789012/sentimentops-jobs (LocalStack: http://localhost:4566/000000000000/NAME)."
        )
    worker = SqsWorker(
        url,
        default_model=model or f"models:/{settings.registry.model_name}@champion",
        visibility_timeout=settings.cloud.visibility_timeout_seconds,
        wait_seconds=settings.cloud.wait_seconds,
        metrics=settings.cloud.cloudwatch_metrics,
        namespace=settings.cloud.cloudwatch_namespace,
    )
    signal.signal(signal.SIGTERM, lambda _signal, _frame: worker.request_stop())
    console.print(f"Worker on {url}")
    stats = worker.run(once=once, max_messages=max_messages)
    console.print(
        f"{stats.received} received: {stats.scored} scored ({stats.rows:,} rows), "
        f"{stats.already_done} already done, {stats.failed} failed "
        f"({stats.outages} for an outage), {stats.sqs_errors} SQS errors"
    )
    if len(stats.errors) < stats.failed + stats.sqs_errors:
        console.print(f"The latest {len(stats.errors)} failures (see the log for all):")
    for error in stats.errors:
        console.print(f"[red]failed[/red] {error}")
    if (stats.failed or stats.sqs_errors) and (once or max_messages is not None):
        raise typer.Exit(code=1)
