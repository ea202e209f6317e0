"""Batch faults injected for real: the output's disk fills up mid-run.

kill -9 mid-file and ``--resume`` (every row exactly once) is proved by
``tests/batch/test_predictor.py::test_killed_run_resumes_with_every_row_exactly_once``, which
kills a real ``sentimentops predict`` process; it is not repeated here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.batch.sink import summary_path
from sentimentops.cli.main import app

runner = CliRunner()

DISK_BYTES = 1024 * 1024
ROWS = 4_000
CHUNK_ROWS = 250


def _as_root(command: list[str]) -> list[str]:
    """Mounting needs root: run directly when we are root, through sudo (never prompting) on
    a CI runner that is not."""
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs): writes past its size fail with ENOSPC, as on a full
    disk. Unmounted afterwards."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    options = f"size={DISK_BYTES},mode=0777"
    mounted = subprocess.run(
        _as_root(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert mounted.returncode == 0, (
        f"this test mounts a small tmpfs: run it as root or with passwordless sudo "
        f"({mounted.stderr.strip()})"
    )
    try:
        yield mount_point
    finally:
        subprocess.run(_as_root(["umount", "--lazy", str(mount_point)]), check=True)


def _fill(disk: Path, leave_free: int) -> Path:
    """Write a ballast file until only about ``leave_free`` bytes are left; returns it."""
    ballast = disk / "ballast.bin"
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    ballast.write_bytes(os.urandom(max(free - leave_free, 0)))
    return ballast


def test_full_output_disk_is_a_clear_error_and_resume_completes_after_freeing_space(
    model_folder: Path, tmp_path: Path, reference_reviews: pd.DataFrame, small_disk: Path
) -> None:
    source = tmp_path / "reviews.csv"
    texts = reference_reviews["review"].head(ROWS).tolist()
    pd.DataFrame({"id": range(ROWS), "review": texts}).to_csv(source, index=False)
    output = small_disk / "scored.csv"
    # About 60 KiB free: room for some chunks' part files, not for all of them plus the
    # assembled CSV (about 200 KiB), so the disk fills up in the middle of the run.
    ballast = _fill(small_disk, leave_free=60 * 1024)
    command = ["predict", str(source), str(output), "--model", str(model_folder),
               "--chunk-size", str(CHUNK_ROWS)]  # fmt: skip

    full = runner.invoke(app, command)

    assert full.exit_code == 1, full.output
    message = " ".join(full.output.split())  # rich wraps the paragraph
    assert "Out of space writing" in message
    assert "ENOSPC: No space left on device" in message
    assert "rerun with --resume" in message
    assert "Traceback" not in full.output
    # Nothing presented as complete: no output, no half-written temporary, no summary.
    assert not output.exists()
    assert not output.with_name(output.name + ".tmp").exists()
    assert not summary_path(output).exists()
    checkpoint = small_disk / "scored.csv.parts" / "checkpoint.json"
    chunks_kept = json.loads(checkpoint.read_text())["chunks_done"]
    assert 0 < chunks_kept < ROWS // CHUNK_ROWS, "the disk must fill up mid-run"

    ballast.unlink()  # space freed
    resumed = runner.invoke(app, [*command, "--resume"])

    assert resumed.exit_code == 0, resumed.output
    scored = pd.read_csv(output)
    assert scored["id"].tolist() == list(range(ROWS))  # every row exactly once, in order
    summary = json.loads(summary_path(output).read_text())
    assert summary["rows_in"] == ROWS
    assert summary["resumed_from_chunk"] == chunks_kept  # chunks done before were not redone
    print(f"disk full after {chunks_kept} of {ROWS // CHUNK_ROWS} chunks; resumed to {ROWS} rows")


# Run the CLI with a file-size limit (RLIMIT_FSIZE, what `ulimit -f` sets): a write past it fails
# with EFBIG. SIGXFSZ is ignored so that the write returns the error instead of killing us.
LIMITED_CLI = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from sentimentops.cli.main import run
sys.argv[0] = "sentimentops"
run()
"""


def test_output_over_the_file_size_limit_leaves_no_partial_file_and_resumes(
    model_folder: Path, tmp_path: Path, reference_reviews: pd.DataFrame
) -> None:
    """Every part fits under the limit, the assembled output does not: the failure comes while
    assembling, after every chunk was scored, and needs no privileges to inject."""
    source = tmp_path / "reviews.csv"
    texts = reference_reviews["review"].head(ROWS).tolist()
    pd.DataFrame({"id": range(ROWS), "review": texts}).to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    arguments = ["predict", str(source), str(output), "--model", str(model_folder),
                 "--chunk-size", str(CHUNK_ROWS)]  # fmt: skip
    limit = 64 * 1024  # parts are about 10 KiB, the CSV about 200 KiB

    limited = subprocess.run(
        [sys.executable, "-c", LIMITED_CLI, str(limit), *arguments],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    message = " ".join((limited.stdout + limited.stderr).split())
    assert limited.returncode == 1, message
    assert "Out of space writing" in message
    assert "EFBIG: File too large" in message
    assert "Traceback" not in message
    assert not output.exists()
    assert not output.with_name(output.name + ".tmp").exists()  # the partial file was removed
    checkpoint = tmp_path / "scored.csv.parts" / "checkpoint.json"
    assert json.loads(checkpoint.read_text())["chunks_done"] == ROWS // CHUNK_ROWS

    resumed = runner.invoke(app, [*arguments, "--resume"])  # without the limit

    assert resumed.exit_code == 0, resumed.output
    assert pd.read_csv(output)["id"].tolist() == list(range(ROWS))
    summary = json.loads(summary_path(output).read_text())
    assert summary["resumed_from_chunk"] == ROWS // CHUNK_ROWS  # nothing scored twice
