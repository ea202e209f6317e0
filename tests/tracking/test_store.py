"""Where tracking goes, and how a user is told to browse it."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from sentimentops.tracking.store import mlflow_ui_command


def test_the_browse_hint_names_an_mlflow_a_shell_outside_the_environment_can_run(
    tmp_path: Path,
) -> None:
    """It said ``mlflow ui ...``: not found by a shell whose PATH lacks .venv/bin."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    program, *arguments = shlex.split(mlflow_ui_command(uri))

    assert arguments == ["ui", "--backend-store-uri", uri]
    assert Path(program).is_absolute()
    completed = subprocess.run(
        [program, "ui", "--help"], env={"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"]},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "--backend-store-uri" in completed.stdout
