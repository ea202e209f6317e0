"""``sentimentops pipeline``: run one Prefect flow now, or serve them all on their schedules."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import typer

from sentimentops.cli.output import console, error_console, workers_within_cores
from sentimentops.cli.train import parse_families
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError

__all__ = ["pipeline_app"]

pipeline_app = typer.Typer(
    help="Run and schedule the Prefect flows (training, batch, monitoring, retraining).",
    no_args_is_help=True,
)
run_app = typer.Typer(
    help="Run one flow now. `main` is the whole job `make run` runs.", no_args_is_help=True
)
pipeline_app.add_typer(run_app, name="run")


def _window_hours(hours: float | None) -> float | None:
    """Refuse a window of no hours before any flow starts."""
    from sentimentops.pipelines.runtime import log_window

    log_window(hours, default_hours=1.0)
    return hours


# Options several flows share, declared once; each option's name is its flow's parameter's.
JSON_OPTION = typer.Option(False, "--json", help="Print the flow's result as JSON.")
MODEL_OPTION = typer.Option(None, "--model", help="Default: the champion.")
ID_COLUMN_OPTION = typer.Option("id", "--id-column")
SAMPLE_OPTION = typer.Option(None, "--sample", min=100, help="Train on N rows.")
MODELS_OPTION = typer.Option(None, "--models", help="Comma-separated families.")
FORCE_OPTION = typer.Option(False, "--force", help="Train again even if trained before.")
CURRENT_OPTION = typer.Option(
    None, "--current", help="A file or batch output (default: the prediction log)."
)
SCORED_INPUT_OPTION = typer.Option(
    None, "--scored-input", help="The input --current was scored from (joined on ids)."
)
HOURS_OPTION = typer.Option(
    None,
    "--hours",
    help="Log window, more than 0 (default: pipeline.monitoring_window_hours).",
    callback=_window_hours,
)


def _run(ctx: typer.Context, flow: str, show: Callable[[Any], None]) -> Any:
    """Run ``flow`` with the command's options as parameters (checked before it starts); show
    the result, or print it as JSON with ``--json``."""
    parameters = {name: value for name, value in ctx.params.items() if name != "as_json"}
    if "models" in parameters:
        parameters["models"] = parse_families(parameters["models"])
    # Retraining's --hours is also the window an online promotion is judged on: not refused there.
    if flow == "monitoring" and parameters["current"] is not None and parameters["hours"]:
        raise BadInputError(
            "--hours selects a window of the prediction log: give it without --current."
        )
    if "scored_input" in parameters:
        from sentimentops.monitoring.current import check_scored_input

        check_scored_input(parameters["current"], parameters["scored_input"])
    from sentimentops.pipelines import flows, runtime

    settings = get_settings()
    runtime.configure_prefect(settings)  # before Prefect is imported
    if runtime.configured_prefect_api() is None:
        # On stderr, so that --json stays JSON: its links die with it, its database stays.
        home = os.environ["PREFECT_HOME"]
        error_console.print(
            "Prefect: no PREFECT_API_URL, so this command starts a temporary Prefect API and "
            f"stops it at the end (no links to it). Its runs stay in {home}: browse them with "
            f"`PREFECT_HOME={home} .venv/bin/prefect server start`, or set PREFECT_API_URL to a "
            "running Prefect server.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    # One API for every process of the run; the flow's modules import while it starts.
    with runtime.prefect_api(while_starting=lambda: flows.flow_named(flow, settings)):
        result = flows.flow_named(flow, settings)(**parameters)
    if ctx.params["as_json"]:
        console.print_json(json.dumps(result.to_dict(), default=str))
    else:
        show(result)
    return result


@run_app.command("main")
def run_main(
    ctx: typer.Context,
    split: str = typer.Option("official", "--split", help="random or official."),
    sample: int | None = SAMPLE_OPTION,
    models: str | None = MODELS_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train on the vendored data, batch-score the held-out test split with the champion,
    monitor that batch, and print a summary. Re-runs reuse what is unchanged. Exit 3 when
    monitoring alerts."""
    if _run(ctx, "main", _print_main_summary).monitoring.verdict == "alert":
        raise typer.Exit(code=3)


@run_app.command("training")
def run_training(
    ctx: typer.Context,
    data: str | None = typer.Option(None, "--data", help="Dataset (default: vendored IMDB)."),
    split: str | None = typer.Option(None, "--split", help="random or official."),
    sample: int | None = SAMPLE_OPTION,
    models: str | None = MODELS_OPTION,
    force: bool = FORCE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load, validate, split, search the candidates, register, gate, promote."""
    _run(ctx, "training", _print_training)


@run_app.command("batch")
def run_batch(
    ctx: typer.Context,
    input: str | None = typer.Option(
        None, "--input", help="A file, folder or s3:// prefix (default: pipeline.batch_input)."
    ),
    output: str | None = typer.Option(
        None, "--output", help="A folder or prefix, or one output file for one input file."
    ),
    model: str | None = MODEL_OPTION,
    text_column: str = typer.Option("review", "--text-column"),
    id_column: str = ID_COLUMN_OPTION,
    engine: str = typer.Option("local", "--engine", help="local or dask."),
    workers: int = typer.Option(
        2,
        "--workers",
        min=1,
        callback=workers_within_cores,
        help="Dask LocalCluster worker processes (at most 4 per core).",
    ),
    scheduler: str | None = typer.Option(None, "--scheduler", help="tcp://HOST:PORT"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score a file or every data file under a folder/prefix; files already scored by this
    model, and unchanged since, are skipped."""
    _run(ctx, "batch", _print_batch)


@run_app.command("monitoring")
def run_monitoring(
    ctx: typer.Context,
    current: str | None = CURRENT_OPTION,
    scored_input: str | None = SCORED_INPUT_OPTION,
    id_column: str = ID_COLUMN_OPTION,
    model: str | None = MODEL_OPTION,
    hours: float | None = HOURS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Monitor a file or the prediction log's recent window. Exit 3 when an alert fired."""
    if _run(ctx, "monitoring", _print_monitoring).verdict == "alert":
        raise typer.Exit(code=3)


@run_app.command("retraining")
def run_retraining(
    ctx: typer.Context,
    current: str | None = CURRENT_OPTION,
    scored_input: str | None = SCORED_INPUT_OPTION,
    id_column: str = ID_COLUMN_OPTION,
    hours: float | None = HOURS_OPTION,
    data: str | None = typer.Option(
        None, "--data", help="Training data (default: pipeline.retraining_data)."
    ),
    sample: int | None = SAMPLE_OPTION,
    models: str | None = MODELS_OPTION,
    use_feedback: bool | None = typer.Option(
        None, "--feedback/--no-feedback", help="Add labelled feedback from the prediction log."
    ),
    force: bool = typer.Option(False, "--force", help="Retrain even without an alert."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Monitor; on drift or accuracy below the floor, train a challenger and let the gate
    decide. Exit 0 whether the challenger is promoted or refused (both are outcomes)."""
    _run(ctx, "retraining", _print_retraining)


@pipeline_app.command("serve")
def serve(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the scheduled flows and their next runs; serve nothing."
    ),
) -> None:
    """Serve every flow that has a schedule (pipeline.schedules) until Ctrl-C."""
    from rich.table import Table

    from sentimentops.pipelines.runtime import configure_prefect, prefect_api
    from sentimentops.pipelines.schedules import scheduled_flows, serve_flows

    settings = get_settings()
    configure_prefect(settings)
    planned = scheduled_flows(settings)
    table = Table(
        "flow", "cron", "time zone", "next runs", title="Scheduled flows", title_justify="left"
    )
    for item in planned:
        runs = ", ".join(f"{moment:%Y-%m-%d %H:%M}" for moment in item.next_runs)
        table.add_row(item.flow, item.cron, item.timezone, runs)
    console.print(table)
    if settings.pipeline.schedules.batch and settings.pipeline.batch_input is None:
        console.print(
            "[yellow]batch is scheduled but pipeline.batch_input is not set: its runs will "
            "fail until it names a file, folder or s3:// prefix.[/yellow]"
        )
    if not dry_run:
        with prefect_api(link_runs=True):  # up until Ctrl-C: its links work meanwhile
            serve_flows(settings)


def _print_training(result: Any) -> None:
    metrics = result.test_metrics
    console.print(
        f"{result.model_name} version {result.version} ({result.family}): test accuracy "
        f"{metrics.get('accuracy', float('nan')):.4f}, F1 {metrics.get('f1', float('nan')):.4f}"
    )
    verdict = "promoted to champion" if result.promoted else "not champion"
    console.print(f"{verdict}: {result.reason}. Champion is version {result.champion}.")
    if rows := _gate_rows(result.decision):
        console.print(rows)
    console.print("Steps: " + ", ".join(f"{step} ({how})" for step, how in result.steps.items()))


def _gate_rows(decision: dict[str, Any]) -> str | None:
    """Which test rows the gate compared the champion on (None for a reused version)."""
    from sentimentops.models.gate import GateDecision

    return GateDecision(**decision).rows_summary() if decision else None


def _print_batch(result: Any) -> None:
    for summary in result.scored:
        how = "already scored" if result.steps[summary["input"]] == "cached" else "scored"
        console.print(
            f"{summary['input']}: {summary['rows_in']:,} rows, {summary['rejected']:,} rejected "
            f"-> {summary['output']} ({how})"
        )


def _print_monitoring(result: Any) -> None:
    console.print(
        f"Monitoring of {result.source} ({result.model_name} version {result.model_version}): "
        f"{result.verdict}"
    )
    for alert in result.alerts:
        console.print(f"  [yellow]{alert['kind']}[/yellow]: {alert['message']}")
    console.print(f"Report: {result.report or result.summary}")


def _print_retraining(result: Any) -> None:
    _print_monitoring(result.monitoring)
    console.print(result.message)


def _print_main_summary(result: Any) -> None:
    from rich.table import Column, Table

    training, batch, monitoring = result.training, result.batch, result.monitoring
    metrics = training.test_metrics
    table = Table(title="sentimentops: the main job", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # paths and commands are copied: never cut them
    table.add_row(
        "Champion",
        f"{training.model_name} version {training.champion} "
        f"({'this run' if training.promoted and not training.reused else 'kept'})",
    )
    table.add_row(
        "Trained",
        f"version {training.version} ({training.family}): test accuracy "
        f"{metrics.get('accuracy', float('nan')):.4f}, F1 {metrics.get('f1', float('nan')):.4f}, "
        f"ROC AUC {metrics.get('roc_auc', float('nan')):.4f}",
    )
    rows = _gate_rows(training.decision)
    table.add_row("Gate", f"{training.reason}. {rows}" if rows else training.reason)
    scored = batch.scored[0]
    table.add_row(
        "Predictions",
        f"{scored['output']} ({scored['predicted']:,} predicted, {scored['rejected']:,} "
        f"rejected; rejects in {scored['rejects']})",
    )
    alerts = f": {', '.join(sorted(monitoring.alert_kinds()))}" if monitoring.alerts else ""
    table.add_row("Monitoring", f"{monitoring.verdict}{alerts}")
    table.add_row("Report", monitoring.report or monitoring.summary)
    steps = dict(training.steps)
    steps["batch scoring"] = "cached" if "cached" in batch.steps.values() else "ran"
    reused = [step for step, how in steps.items() if how in ("cached", "reused")]
    table.add_row(
        "Reused",
        ", ".join(reused) + " (unchanged since the last run)" if reused else "nothing (first run)",
    )
    table.add_row("MLflow UI", result.mlflow_ui_command)
    console.print(table)
    wall_time = Column("wall time", justify="right")
    times = Table("step", wall_time, "ran or reused", title="Time per step", title_justify="left")
    for step, seconds in result.seconds.items():
        times.add_row(step, f"{seconds:.1f} s", steps.get(step, "ran"))  # no cache: it ran
    times.add_row("total", f"{sum(result.seconds.values()):.1f} s", "", style="bold")
    console.print(times)
