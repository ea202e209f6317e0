"""The root command: capability map, global options, error mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sentimentops import __version__
from sentimentops.cli.main import app

runner = CliRunner()


def test_help_lists_every_capability_group() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for group in ("data", "train", "predict", "serve", "monitor", "pipeline", "models"):
        assert group in result.output
    assert "not built yet" not in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert __version__ in result.output


def test_bad_config_file_is_exit_2_with_the_setting_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("split:\n  seed: not-a-number\n")

    result = runner.invoke(app, ["--config", str(config), "data", "split"])

    assert result.exit_code == 2
    assert "split.seed" in result.output
    assert "Traceback" not in result.output


def test_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / "sentimentops"

    completed = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)

    assert completed.returncode == 0
    assert "data" in completed.stdout


def test_help_flows_each_description_as_a_paragraph_and_keeps_its_placeholders() -> None:
    """A docstring's line breaks are the source's wrapping, not the reader's: the list of
    commands joins them; a placeholder in an option's help is not taken for markup."""
    commands = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    monitor = runner.invoke(app, ["monitor", "--help"], env={"COLUMNS": "200"})

    assert "evaluate once on test, log it all to MLflow, register the model" in commands.output
    assert "$SENTIMENTOPS_HOME/reports/monitoring-TIME/" in monitor.output
