"""Consoles and small rendering helpers shared by the CLI sub-apps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sentimentops.errors import BadInputError

__all__ = ["check_output_folder", "console", "error_console", "key_value_table", "print_error"]

console = Console()
error_console = Console(stderr=True)


def print_error(message: str) -> None:
    """An error for a person: one paragraph on stderr, no traceback, no markup interpretation."""
    error_console.print("error:", style="bold red", end=" ")
    error_console.print(message, markup=False, highlight=False, soft_wrap=True)


def key_value_table(title: str, rows: Mapping[str, Any]) -> Table:
    """A two-column table of named values."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows.items():
        table.add_row(name, str(value))
    return table


def check_output_folder(folder: Path | None, purpose: str) -> None:
    """BadInputError when ``--output-dir`` ``folder``, or a folder it would be made in, is a file:
    told before the work, whose writing would fail after it."""
    if folder is None:
        return
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if existing.is_dir():
        return
    where = "" if existing == folder else f": {existing}"
    raise BadInputError(
        f"--output-dir {folder}{where} is a file, not a folder. Name a folder (new or existing) "
        f"for {purpose}."
    )
