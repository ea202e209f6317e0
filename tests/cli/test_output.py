"""The CLI's consoles: lines written to a file or pipe are whole; a terminal keeps rich's width."""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from sentimentops.cli.output import UNBOUNDED_WIDTH, CliConsole, check_output_folder
from sentimentops.errors import BadInputError
from tests.user import REPO_ROOT, SCRIPT, user_env


def test_progress_piped_without_columns_keeps_whole_lines_with_tick_and_time(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    """Under CI (no terminal, no COLUMNS) the steps were cut at 80 columns: the path ended in
    an ellipsis and the tick and the time were dropped."""
    folder = tmp_path / "a-folder-name-long-enough-to-push-the-step-past-eighty-columns"
    folder.mkdir()
    csv = folder / "reviews.csv"
    reference_reviews.sample(200, random_state=7).to_csv(csv, index=False)
    env = user_env(tmp_path / "home")
    env.pop("COLUMNS")

    completed = subprocess.run(
        [str(SCRIPT), "data", "split", str(csv), "--output-dir", str(tmp_path / "splits")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,  # stdout to a pipe, as under CI
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    (read,) = [line for line in completed.stdout.splitlines() if "Read 200 rows" in line]
    assert len(read) > 80
    assert read.startswith(f"✓ Read 200 rows from {csv} ")
    assert re.search(r"\d+:\d\d:\d\d$", read)
    assert "…" not in completed.stdout


def test_a_file_gets_no_width_limit_unless_columns_or_a_width_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    unbounded = CliConsole(file=io.StringIO())
    given = CliConsole(file=io.StringIO(), width=60)
    text = "word " * 40

    unbounded.print(text)

    assert unbounded.width == UNBOUNDED_WIDTH
    assert unbounded.file.getvalue() == text + "\n"  # type: ignore[attr-defined]
    assert given.width == 60
    monkeypatch.setenv("COLUMNS", "100")
    assert CliConsole(file=io.StringIO()).width == 100


def test_a_terminal_keeps_the_width_rich_gives_it() -> None:
    controller, terminal = os.openpty()
    try:
        with open(terminal, "w", encoding="utf-8", closefd=False) as tty:
            ours, rich = CliConsole(file=tty), Console(file=tty)
            assert ours.size == rich.size
            assert ours.width < UNBOUNDED_WIDTH
    finally:
        os.close(controller)
        os.close(terminal)


@pytest.mark.parametrize(
    "command",
    [["serve"], ["predict", "in.csv", "out.csv"], ["pipeline", "run", "batch"]],
    ids=["serve", "predict", "pipeline-batch"],
)
def test_more_workers_than_four_per_core_is_a_usage_error_before_any_starts(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --workers 300`` on 2 cores started 300 processes, each loading the model: they
    filled 24 GB and froze the machine."""
    from typer.testing import CliRunner

    from sentimentops.cli.main import app

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})

    refused = CliRunner().invoke(app, [*command, "--workers", "9"])
    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.replace("│", " ").split())
    assert "Invalid value for '--workers': 9 is more than 8 (4 per core; this machine has 2)" in (
        message
    )


def test_four_workers_per_core_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentimentops.cli.output import workers_within_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(3)))

    assert workers_within_cores(12) == 12


def test_an_output_folder_is_checked_before_the_work_and_left_to_the_writer(
    tmp_path: Path,
) -> None:
    """Made before the work, it stayed behind, empty, when the work then failed (a missing
    input); a place where it cannot be made is still told before the work."""
    new = tmp_path / "reports" / "today"
    a_file = tmp_path / "a-file"
    a_file.write_text("")

    check_output_folder(new, "the report")

    assert not (tmp_path / "reports").exists()
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        check_output_folder(a_file / "reports", "the report")
    with pytest.raises(BadInputError, match=r"cannot be made \("):
        check_output_folder(Path("/proc/reports"), "the report")
