"""Run the CLI the way a user does: a real process of the installed ``sentimentops`` script, in a
fresh ``SENTIMENTOPS_HOME``, with none of the variables the tests set for themselves.

The test suite sets ``MLFLOW_TRACKING_URI``, the reference data's path and more; users set none of
them, and a defect that only shows without them (the worker missing the default store) passed
every test that set them. These helpers strip them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("sentimentops")
FAST_TRAINING_CONFIG = Path(__file__).resolve().parent / "fast_training.yaml"

# Variables a user does not have: the tests' own settings and the stores they point at.
_TEST_ONLY_PREFIXES = ("SENTIMENTOPS_", "MLFLOW_", "PREFECT_", "PYTEST_")
_TELEMETRY_OPT_OUT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who set ``SENTIMENTOPS_HOME`` (and ``extra``) and nothing else
    of ours. Telemetry stays off (the Makefile exports the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_TEST_ONLY_PREFIXES)}
    env.update(_TELEMETRY_OPT_OUT)
    env["SENTIMENTOPS_HOME"] = str(home)
    env["COLUMNS"] = env.get("COLUMNS", "200")
    env.update(extra)
    return env


def run_cli(
    *args: str,
    home: Path,
    cwd: Path | None = None,
    timeout: float = 300,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """``sentimentops ARGS`` as a process, from ``cwd`` (default: the repository root)."""
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd or REPO_ROOT,
        env=user_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def train_user_champion(home: Path) -> None:
    """A champion in ``home``'s default store, trained by the CLI as a user would on a small
    sample (small grids: the model is not what these tests are about)."""
    completed = run_cli(
        "--config", str(FAST_TRAINING_CONFIG), "train", "--sample", "1200", "--models", "logreg",
        home=home,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture(scope="session")
def user_champion_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``SENTIMENTOPS_HOME`` holding version 1 as champion, in the default local store.
    Shared by the session: copy it (``user_home_copy``) before changing the registry."""
    home = tmp_path_factory.mktemp("user") / "home"
    train_user_champion(home)
    return home


@pytest.fixture
def user_home(user_champion_home: Path, tmp_path: Path) -> Path:
    """A copy of the session's trained home (``clone_home``), for a test that changes it."""
    return clone_home(user_champion_home, tmp_path / "user-home")


def clone_home(source: Path, target: Path) -> Path:
    """A copy of the ``SENTIMENTOPS_HOME`` at ``source`` that shares nothing with it: the MLflow
    database's absolute artifact locations are moved to the copy, so a test may change, train
    or register in it (training a home costs half a minute; copying it, milliseconds)."""
    shutil.copytree(source, target)
    database = target / "mlflow.db"
    if database.exists():
        old, new = str(source.resolve()), str(target.resolve())
        with closing(sqlite3.connect(database)) as connection, connection:
            for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                for _, column, kind, *_ in connection.execute(f"PRAGMA table_info('{table}')"):
                    if "CHAR" in kind.upper() or "TEXT" in kind.upper():
                        connection.execute(
                            f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                            f'WHERE instr("{column}", ?) > 0',
                            (old, new, old),
                        )
    return target
