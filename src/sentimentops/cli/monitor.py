"""``sentimentops monitor``: drift and performance of current data against the model's reference."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from sentimentops.cli.output import check_output_folder, console
from sentimentops.cli.progress import steps
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError

if TYPE_CHECKING:
    from sentimentops.monitoring.run import MonitoringOutcome

__all__ = ["monitor_app", "parse_moment", "parse_window"]

monitor_app = typer.Typer(
    help=(
        "Drift, performance and estimated performance of current reviews against the model's "
        "reference; alerts. Exit codes: 0 no alert, 3 an alert fired, 2 bad input."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, now: datetime) -> datetime:
    """``now``, a duration back from it (``24h``, ``30m``, ``7d``) or an ISO-8601 time (UTC when
    it has no zone); BadInputError for anything else or a time before year 1."""
    text = text.strip()
    if text == "now":
        return now
    if match := _DURATION.fullmatch(text):
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:  # beyond timedelta's 999,999,999 days, or before year 1
            raise BadInputError(
                f"{text!r} reaches further back than a date can: use a shorter duration such "
                "as 30d, or an ISO-8601 time (2026-11-28T09:00:00Z)."
            ) from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(
            f"{text!r} is not a time: use now, a duration such as 24h, 30m or 7d, or ISO-8601 "
            "(2026-11-28T09:00:00Z)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window(since: str, until: str, now: datetime) -> tuple[datetime, datetime]:
    """``--since`` and ``--until`` as :func:`parse_moment` reads them; BadInputError for a window
    that holds no moment (its end not after its start), which would read as no traffic."""
    start, end = parse_moment(since, now), parse_moment(until, now)
    if start >= end:
        raise BadInputError(
            f"--since {since} ({start.isoformat(timespec='seconds')}) is not before --until "
            f"{until} ({end.isoformat(timespec='seconds')}): the window holds no moment. Give a "
            "start before the end, such as --since 24h (--until defaults to now)."
        )
    return start, end


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
    current: str | None = typer.Option(
        None, "--current", help="Reviews (any readable format) or a batch prediction output."
    ),
    from_log: bool = typer.Option(False, "--from-log", help="Judge the API's prediction log."),
    since: str = typer.Option("24h", "--since", help="With --from-log: window start."),
    until: str = typer.Option("now", "--until", help="With --from-log: window end."),
    allow_incomplete: bool = typer.Option(
        False,
        "--allow-incomplete",
        help="With --from-log: judge the window even while some of its predictions still "
        "wait in the API's spool (refused otherwise, exit 2).",
    ),
    reference: str | None = typer.Option(
        None, "--reference", help="Held-out labelled reviews; default: the model's sample."
    ),
    model: str = typer.Option("models:/imdb-sentiment@champion", "--model"),
    text_column: str = typer.Option("review", "--text-column"),
    label_column: str = typer.Option("sentiment", "--label-column"),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="Default: $SENTIMENTOPS_HOME/reports/monitoring-TIME/."
    ),
) -> None:
    """Compare current data with the reference: text, descriptor and prediction drift, accuracy
    (with labels) and estimated accuracy (without). Writes report.html and summary.json; exits 3
    when an alert fired."""
    if ctx.invoked_subcommand is not None:
        return
    if (current is None) == (not from_log):
        raise BadInputError("Give exactly one of --current PATH or --from-log.")
    window_options = ("since", "until", "allow_incomplete")
    if current is not None and (given := [n for n in window_options if _given(ctx, n)]):
        named = ", ".join("--" + name.replace("_", "-") for name in given)
        verb = "selects" if len(given) == 1 else "select"
        raise BadInputError(f"{named} {verb} a window of the log: use with --from-log only.")
    check_output_folder(output_dir, "the report")  # before minutes of scoring and drift
    settings = get_settings()
    now = datetime.now(UTC)
    window = parse_window(since, until, now) if from_log else None
    from sentimentops.monitoring.evidently_process import evidently_process
    from sentimentops.tracking.loading import prefetch

    prefetch(model, with_reference=True)  # the registry lookup runs while the data loads
    with evidently_process(), steps() as shown:  # and Evidently's import
        from sentimentops.monitoring.job import monitor_and_record

        outcome = monitor_and_record(
            settings,
            model_uri=model,
            current_location=current,
            log_window=window,
            reference_location=reference,
            text_column=text_column,
            label_column=label_column,
            output_dir=output_dir,
            progress=shown.start,
            allow_incomplete=allow_incomplete,
        )
    console.print(_verdict_table(outcome))
    for note in outcome.notes:
        console.print(f"note: {note}")
    for problem in outcome.delivery_problems:
        console.print(f"[yellow]alert delivery: {problem}[/yellow]")
    console.print(f"Report: {outcome.report_location}")
    if outcome.alerts:
        raise typer.Exit(code=3)


@monitor_app.command("history")
def history(
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="Default: $SENTIMENTOPS_HOME/reports/history/."
    ),
    since: str | None = typer.Option(None, "--since", help="Only runs after this (e.g. 30d)."),
) -> None:
    """Plot the trend of every monitoring metric over the recorded runs (a PNG, for terminals
    and CI; `monitor ui` serves the dashboard)."""
    from sentimentops.monitoring.history import render_history
    from sentimentops.monitoring.run_store import read_monitoring_runs
    from sentimentops.prediction_log import open_store

    check_output_folder(output_dir, "the plot")
    settings = get_settings()
    store = open_store(settings)
    try:
        start = parse_moment(since, datetime.now(UTC)) if since else None
        runs = read_monitoring_runs(store, since=start)
    finally:
        store.dispose()
    png = render_history(runs, output_dir or settings.state_path("reports", "history"))
    console.print(f"{len(runs)} monitoring runs\nPlot: {png}")


@monitor_app.command("ui")
def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Listen on this address."),
    port: int = typer.Option(8001, "--port", help="8001: the API's 8000 stays free."),
) -> None:
    """Serve the dashboard of the monitoring runs (Evidently's UI on the workspace every run
    adds its snapshot to) until interrupted: one project per registered model."""
    from sentimentops.cli.serve import check_can_listen
    from sentimentops.monitoring.workspace import (
        check_servable,
        serve_workspace,
        workspace_location,
    )

    settings = get_settings()
    check_servable(settings, port)  # before the banner: no address to print that is never served
    check_can_listen(host, port, "the dashboard")  # exit 2 with what to do, not uvicorn's 3
    location = workspace_location(settings)
    console.print(f"Monitoring dashboard of {location} on http://{host}:{port}/")
    if not settings.monitoring.workspace_url and not any(Path(location).glob("*/metadata.json")):
        # Evidently's page would only say "no projects", as if something were missing.
        console.print(
            "No monitoring run is recorded there yet: each `sentimentops monitor` run (or "
            "`make run`) adds one, and its model's project appears on a reload."
        )
    serve_workspace(settings, host=host, port=port)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed option ``name`` (not its default)."""
    source = ctx.get_parameter_source(name)  # typer's vendored click: compared by name
    return source is not None and source.name != "DEFAULT"


def _verdict_table(outcome: MonitoringOutcome) -> Table:
    """One line per check: its value, the side of the limit that flags it, its status."""
    table = Table(title=f"Monitoring: {outcome.verdict.upper()}", title_justify="left")
    table.add_column("check")
    table.add_column("value", justify="right")
    table.add_column("flagged when", justify="right")
    table.add_column("status")
    for check in outcome.checks:
        name = check.name
        if check.reference is not None:
            name += f" (model's test: {check.reference:.3f})"
        value = _shown(check.value)
        if check.interval is not None:
            low, high = check.interval
            value = f"{check.value:.3f} [{low:.3f}, {high:.3f}]"
        flagged = f"{'<' if check.flagged_when == 'below' else '>'} {_shown(check.limit)}"
        table.add_row(name, value, flagged, _STATUS_SHOWN[check.status])
    return table


_STATUS_SHOWN = {"ok": "ok", "drift": "[yellow]drift[/yellow]", "alert": "[red]ALERT[/red]"}


def _shown(value: float) -> str:
    """Counts in full (12,345 rows), measurements to four significant digits."""
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
