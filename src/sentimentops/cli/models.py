"""``sentimentops models``: list, show, compare, promote and roll back registered versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from sentimentops.cli.output import console
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError

if TYPE_CHECKING:
    from rich.table import Table

    from sentimentops.monitoring.compare import OnlineComparison

__all__ = ["models_app"]

models_app = typer.Typer(
    help="List, show, compare, promote and roll back registered models (by alias).",
    no_args_is_help=True,
)


def _connect() -> str:
    from sentimentops.tracking.store import connect, require_local_store, resolve_tracking_uri

    settings = get_settings()
    require_local_store(resolve_tracking_uri(settings))
    connect(settings)
    return settings.registry.model_name


@models_app.command("list")
def list_command() -> None:
    """Every version with its aliases and test metrics, newest first."""
    from rich import box
    from rich.table import Table

    from sentimentops.tracking.registry import list_versions

    name = _connect()
    # Fits 80 columns: no side borders, one alias per line, the run id's first 8 characters.
    table = Table(
        title=f"Registered model {name}",
        title_justify="left",
        caption="accuracy, F1: on each version's own test split; created: UTC",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("version", "aliases", "family", "accuracy", "F1", "created", "run"):
        table.add_column(column, no_wrap=column != "aliases", overflow="fold")
    for info in list_versions(name):
        created = datetime.fromtimestamp(info.created / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            info.version,
            "\n".join(info.aliases),
            info.tags.get("family", ""),
            f"{info.metrics.get('test_accuracy', float('nan')):.4f}",
            f"{info.metrics.get('test_f1', float('nan')):.4f}",
            created,
            info.run_id[:8],
        )
    console.print(table)


@models_app.command("show")
def show_command(
    version: str = typer.Argument("champion", help="A version number or an alias."),
    full: bool = typer.Option(
        False, "--full", help="Also print the training configuration (some 250 lines of JSON)."
    ),
) -> None:
    """Print the model card of a version (default: the champion)."""
    from rich.markdown import Markdown

    from sentimentops.models.card import CONFIG_HEADING, summary_of
    from sentimentops.tracking.registry import lookup_version, version_info
    from sentimentops.tracking.runs import load_model_card

    name = _connect()
    number = lookup_version(name, version)
    card = load_model_card(name, number)
    # Markdown pads each line to the width: to a pipe's unbounded one, 100,000 columns a line.
    console.print(Markdown(card if full else summary_of(card)), width=min(console.width, 100))
    run_id = version_info(name, number).run_id
    console.print(f"\nMLflow run {run_id}", soft_wrap=True)
    if not full and CONFIG_HEADING in card:
        console.print(f"The training configuration: sentimentops models show {number} --full")


@models_app.command("compare")
def compare_command(
    from_log: bool = typer.Option(
        False, "--from-log", help="Compare on the API's prediction log (the only source yet)."
    ),
    since: str = typer.Option("24h", "--since", help="Window start: 24h, 30m, ISO-8601."),
    until: str = typer.Option("now", "--until", help="Window end."),
    champion: str | None = typer.Option(
        None, "--champion", help="Version (default: of the window's latest champion answer)."
    ),
    challenger: str | None = typer.Option(
        None, "--challenger", help="Version (default: of the latest shadow or canary row)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Champion against challenger on live traffic: requests, agreement, accuracy on feedback
    (McNemar on the paired requests, intervals), score drift (K-S) and latency."""
    from sentimentops.cli.monitor import parse_window
    from sentimentops.monitoring.rollout import compare_from_log

    if not from_log:
        raise BadInputError("Give --from-log: versions are compared on the API's prediction log.")
    start, end = parse_window(since, until, datetime.now(UTC))
    comparison = compare_from_log(
        get_settings(), start, end, champion=champion, challenger=challenger
    )
    if as_json:
        print(json.dumps(comparison.to_dict(), indent=2))
        return
    console.print(_comparison_table(comparison))


def _comparison_table(c: OnlineComparison) -> Table:
    """One column per version, one row per measurement; the paired numbers span both."""
    from rich import box
    from rich.table import Table

    def number(value: float | None, digits: int = 4) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def accuracy(value: float | None, low: float | None, high: float | None) -> str:
        return "-" if value is None else f"{value:.4f} [{low:.4f}, {high:.4f}]"

    old, new = c.champion, c.challenger
    table = Table(
        title=f"Online comparison, {c.since} to {c.until}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("")
    table.add_column(f"champion v{old.version}", justify="right")
    table.add_column(f"challenger v{new.version}", justify="right")
    level = f"{c.confidence_level:.0%}"
    rows = [
        ("requests", f"{old.requests:,}", f"{new.requests:,}"),
        (
            "answered / shadow",
            f"{old.answered:,} / {old.shadow:,}",
            f"{new.answered:,} / {new.shadow:,}",
        ),
        ("with feedback", f"{old.labelled:,}", f"{new.labelled:,}"),
        (
            f"accuracy [{level}]",
            accuracy(old.accuracy, old.accuracy_low, old.accuracy_high),
            accuracy(new.accuracy, new.accuracy_low, new.accuracy_high),
        ),
        (
            "latency p50 / p99 ms",
            f"{number(old.latency_p50_ms, 1)} / {number(old.latency_p99_ms, 1)}",
            f"{number(new.latency_p50_ms, 1)} / {number(new.latency_p99_ms, 1)}",
        ),
        ("paired requests (both scored)", f"{c.paired:,}", ""),
        ("agreement", number(c.agreement), ""),
        ("paired with feedback", f"{c.paired_labelled:,}", ""),
        (
            "paired accuracy",
            number(c.champion_paired_accuracy),
            number(c.challenger_paired_accuracy),
        ),
        ("only this one right", f"{c.only_champion_right:,}", f"{c.only_challenger_right:,}"),
        ("McNemar p", number(c.p_value, 4), ""),
        (
            f"difference (challenger - champion) [{level}]",
            "",
            "-"
            if c.difference is None
            else f"{c.difference:+.4f} [{c.difference_low:+.4f}, {c.difference_high:+.4f}]",
        ),
        (f"score drift K-S ({c.score_drift_rows} rows)", number(c.score_drift), ""),
        ("score drift p", number(c.score_drift_p_value), ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


@models_app.command("promote")
def promote_command(
    version: str | None = typer.Argument(
        None, help="The version to make champion, or an alias naming it (challenger)."
    ),
    online: bool = typer.Option(
        False,
        "--online",
        help="Promote the challenger only if the prediction log shows it is not worse than "
        "the champion on live traffic (exit 3 when refused).",
    ),
    since: str = typer.Option("24h", "--since", help="With --online: the evidence's window."),
) -> None:
    """Point the champion alias at a version (a manual override of the gate), or, with
    --online, at the challenger when its online evidence says it is not worse."""
    if online:
        _promote_online(version, since)
        return
    if version is None:
        raise BadInputError("Name the version to promote, or pass --online.")
    from sentimentops.tracking.registry import promote

    name = _connect()
    promoted = promote(name, version)
    console.print(f"{name} champion is now version {promoted}")


def _promote_online(version: str | None, since: str) -> None:
    from sentimentops.cli.monitor import parse_moment
    from sentimentops.monitoring.rollout import promote_online

    if version not in (None, "challenger"):
        raise BadInputError(
            f"--online promotes the challenger alias; got {version!r}. Point the alias at it "
            "first, or promote it by hand without --online."
        )
    settings = get_settings()
    now = datetime.now(UTC)
    decision = promote_online(settings, parse_moment(since, now), now)
    name = settings.registry.model_name
    if decision.comparison is not None:
        console.print(_comparison_table(decision.comparison))
    if not decision.act:
        console.print(f"{name}: not promoted: {decision.reason}", soft_wrap=True)
        raise typer.Exit(code=3)
    console.print(f"{name}: promoted: {decision.reason}", soft_wrap=True)


@models_app.command("rollback")
def rollback_command() -> None:
    """Move the champion alias back to the previous champion."""
    from sentimentops.tracking.registry import rollback

    name = _connect()
    version = rollback(name)
    console.print(f"{name} champion rolled back to version {version}")
