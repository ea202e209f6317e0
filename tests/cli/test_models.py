"""``sentimentops models``, run as a user does: a real process on a home trained by the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.user import REPO_ROOT, SCRIPT, run_cli, user_env


@pytest.mark.parametrize("version", ["99", "abc", "0"])
def test_promoting_a_version_that_does_not_exist_is_one_line_and_exit_2(
    user_champion_home: Path, version: str
) -> None:
    completed = run_cli("models", "promote", version, home=user_champion_home)

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("error: imdb-sentiment has no version")
    assert repr(version) in line
    assert "It has versions 1 and aliases challenger (1), champion (1)" in line


def test_promoting_the_challenger_by_its_alias(user_home: Path) -> None:
    completed = run_cli("models", "promote", "challenger", home=user_home)

    assert completed.returncode == 0, completed.stderr
    assert "imdb-sentiment champion is now version 1" in completed.stdout


def test_showing_a_version_that_does_not_exist_says_what_exists(
    user_champion_home: Path,
) -> None:
    completed = run_cli("models", "show", "99", home=user_champion_home)

    assert completed.returncode == 2
    assert "--model" not in completed.stderr  # `models show` has no such option
    assert "no version '99'. It has versions 1" in completed.stderr
    assert "`sentimentops models list` shows them" in completed.stderr


def test_the_list_fits_80_columns_without_cutting_a_cell(user_champion_home: Path) -> None:
    completed = run_cli("models", "list", home=user_champion_home, COLUMNS="80")

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in completed.stdout
    (row,) = [line.split() for line in lines if line.startswith("1 ")]
    assert row[:3] == ["1", "challenger", "logreg"]
    assert "champion" in completed.stdout  # the version's second alias, on its own line


def test_the_card_piped_without_columns_is_not_padded_to_the_unbounded_width(
    user_champion_home: Path,
) -> None:
    """``models show | cat`` wrote 4.8 MB: each Markdown line padded to 100,000 columns."""
    env = user_env(user_champion_home)
    env.pop("COLUMNS", None)

    completed = subprocess.run(
        [str(SCRIPT), "models", "show"], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert "Model card: imdb-sentiment version 1" in completed.stdout
    assert max(len(line) for line in completed.stdout.splitlines()) <= 100


def test_show_prints_the_card_without_the_configuration_or_download_bars(
    user_champion_home: Path,
) -> None:
    summary = run_cli("models", "show", home=user_champion_home)
    full = run_cli("models", "show", "1", "--full", home=user_champion_home)

    assert summary.returncode == 0, summary.stderr
    assert "Model card: imdb-sentiment version 1" in summary.stdout
    assert "Downloading artifacts" not in summary.stdout + summary.stderr
    assert "Training configuration" not in summary.stdout
    assert "sentimentops models show 1 --full" in summary.stdout
    assert len(summary.stdout.splitlines()) < 80
    assert full.returncode == 0, full.stderr
    assert "Training configuration" in full.stdout
    assert '"significance_level": 0.05' in full.stdout


def test_a_missing_challenger_says_how_to_get_one_not_to_pass_a_model_folder(
    user_home: Path,
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{user_home / 'mlflow.db'}")
    client.delete_registered_model_alias("imdb-sentiment", "challenger")
    (user_home / "r.csv").write_text("review\nGreat film\n")

    completed = run_cli(
        "predict", str(user_home / "r.csv"), str(user_home / "out.csv"),
        "--model", "models:/imdb-sentiment@challenger", home=user_home,
    )  # fmt: skip

    assert completed.returncode == 2
    assert "No challenger at models:/imdb-sentiment@challenger" in completed.stderr
    assert "`sentimentops train` registers each new version as the challenger" in completed.stderr
    assert "--model" not in completed.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["models", "list"],
        ["models", "show"],
        ["predict", "{reviews}", "{output}"],
        ["monitor", "--current", "{reviews}"],
    ],
)
def test_registry_readers_in_a_home_without_a_registry_say_so_and_create_none(
    tmp_path: Path, command: list[str]
) -> None:
    """Run from the wrong folder, `models list` made a 1 MB mlflow.db there, then said no
    model was registered; `predict` and `monitor` did the same, seconds of migrations first."""
    home = tmp_path / "home"
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review,label\nA fine film,positive\n", encoding="utf-8")
    names = {"reviews": str(reviews), "output": str(tmp_path / "scored.csv")}

    completed = run_cli(*(part.format(**names) for part in command), home=home)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    message = " ".join(completed.stderr.split())
    assert f"No model registry at {(home / 'mlflow.db').resolve()}." in message
    assert "run from the folder holding .sentimentops" in message
    assert not (home / "mlflow.db").exists()
