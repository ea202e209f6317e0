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


def run_entry_point(argv: list[str], before: str = "") -> subprocess.CompletedProcess[str]:
    """The console script's ``run()`` with ``argv``, after the Python ``before`` in its process."""
    code = (
        f"import sys\n{before}\nfrom sentimentops.cli.main import run\nsys.argv = {argv!r}\nrun()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_the_console_script_joins_threads_and_runs_atexit_before_it_exits() -> None:
    """It skips the interpreter's teardown of every module, not what comes before it."""
    before = (
        "import atexit, threading\n"
        "atexit.register(print, 'atexit ran')\n"
        "def late():\n"
        "    threading.main_thread().join()  # until the process exits\n"
        "    print('thread finished')\n"
        "threading.Thread(target=late).start()\n"
    )

    done = run_entry_point(["sentimentops", "--version"], before)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"sentimentops {__version__}",
        "thread finished",
        "atexit ran",
    ]


def test_the_console_script_keeps_each_exit_code() -> None:
    usage = run_entry_point(["sentimentops", "no-such-command"])
    by_message = subprocess.run(
        [sys.executable, "-c", "from sentimentops.cli.main import _exit_without_teardown\n"
         "_exit_without_teardown('gave up: a message')"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip

    assert usage.returncode == 2
    assert "No such command" in usage.stderr
    assert by_message.returncode == 1
    assert by_message.stderr.strip() == "gave up: a message"
