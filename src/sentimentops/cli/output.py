"""Consoles, small rendering helpers and option checks shared by the CLI sub-apps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from sentimentops.errors import BadInputError

__all__ = [
    "UNBOUNDED_WIDTH",
    "CliConsole",
    "check_output_folder",
    "console",
    "error_console",
    "key_value_table",
    "print_error",
    "workers_within_cores",
]

# The width of a console writing to a file or pipe: wider than any line we print, so none is cut.
UNBOUNDED_WIDTH = 100_000


class CliConsole(Console):
    """Rich's console, but one writing to a file or pipe (CI logs, ``> run.log``) has no width
    limit. Rich lays such output out at 80 columns, its guess without a terminal, which cut
    progress lines short and dropped their tick and time. A terminal, ``COLUMNS`` or a width
    given keep rich's own width."""

    @property
    def size(self) -> ConsoleDimensions:
        """Rich's size, with :data:`UNBOUNDED_WIDTH` when no terminal or setting gives one."""
        size = super().size
        chosen = self._width is not None or os.environ.get("COLUMNS", "").isdigit()
        if chosen or _is_tty(self.file):
            return size
        return ConsoleDimensions(UNBOUNDED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self.width, self.height = new_size


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream (the end of a test run) is no terminal
        return False


console = CliConsole()
error_console = CliConsole(stderr=True)


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
    """Check that ``--output-dir`` ``folder`` can be made (made, then removed if new);
    BadInputError when it, or a folder it would be made in, is a file, or it cannot be made:
    told before the work, whose writing would fail after it."""
    if folder is None:
        return
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        where = "" if existing == folder else f": {existing}"
        raise BadInputError(
            f"--output-dir {folder}{where} is a file, not a folder. Name a folder (new or "
            f"existing) for {purpose}."
        )
    missing = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    try:  # made to know it can be: root may write anywhere by permissions, yet not in /proc
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInputError(
            f"--output-dir {folder} cannot be made ({error.strerror}). Name a folder you can "
            f"write for {purpose}."
        ) from None
    for made in missing:  # and removed: the writer makes it, a failed run leaves no empty folder
        made.rmdir()


WORKERS_PER_CORE = 4


def workers_within_cores(workers: int) -> int:
    """A ``--workers`` option's check: at most :data:`WORKERS_PER_CORE` per core. Each worker is
    a process holding its own model: 300 of them filled 24 GB and froze the machine, and workers
    beyond the cores add memory, not speed."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = WORKERS_PER_CORE * (cores or 1)
    if workers > limit:
        raise typer.BadParameter(
            f"{workers} is more than {limit} ({WORKERS_PER_CORE} per core; this machine has "
            f"{cores}). Each worker is a process holding its own copy of the model: beyond the "
            "cores they add memory, not speed."
        )
    return workers
