"""``sentimentops models``: list, show, promote and roll back registered model versions."""

from __future__ import annotations

import typer

from sentimentops.cli.output import console
from sentimentops.config import get_settings

__all__ = ["models_app"]

models_app = typer.Typer(
    help="List, show, promote and roll back registered models (by alias).", no_args_is_help=True
)


def _connect() -> str:
    from sentimentops.tracking.store import connect

    settings = get_settings()
    connect(settings)
    return settings.registry.model_name


@models_app.command("list")
def list_command() -> None:
    """Every version with its aliases and test metrics, newest first."""
    from datetime import UTC, datetime

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
    console.print(Markdown(card if full else summary_of(card)))
    run_id = version_info(name, number).run_id
    console.print(f"\nMLflow run {run_id}", soft_wrap=True)
    if not full and CONFIG_HEADING in card:
        console.print(f"The training configuration: sentimentops models show {number} --full")


@models_app.command("promote")
def promote_command(
    version: str = typer.Argument(
        ..., help="The version to make champion, or an alias naming it (challenger)."
    ),
) -> None:
    """Point the champion alias at a version (a manual override of the gate)."""
    from sentimentops.tracking.registry import promote

    name = _connect()
    promoted = promote(name, version)
    console.print(f"{name} champion is now version {promoted}")


@models_app.command("rollback")
def rollback_command() -> None:
    """Move the champion alias back to the previous champion."""
    from sentimentops.tracking.registry import rollback

    name = _connect()
    version = rollback(name)
    console.print(f"{name} champion rolled back to version {version}")
