"""The ``sentimentops`` command: one sub-app per capability. Cheap to import: commands import
their heavy dependencies themselves (``--help`` loads no MLflow, Prefect, Evidently or Dask).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from sentimentops import __version__
from sentimentops.cli.data import data_app
from sentimentops.cli.environment import set_environment_defaults
from sentimentops.cli.models import models_app
from sentimentops.cli.monitor import monitor_app
from sentimentops.cli.output import console, print_error
from sentimentops.cli.pipeline import pipeline_app
from sentimentops.cli.predict import predict_command
from sentimentops.cli.serve import serve_command
from sentimentops.cli.train import train_command
from sentimentops.cli.worker import worker_command
from sentimentops.config import CONFIG_FILE_ENV, get_settings
from sentimentops.errors import SentimentOpsError

__all__ = ["app", "run"]


class _ErrorMappingGroup(TyperGroup):
    """Turns every SentimentOpsError into its message and exit code, without a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except SentimentOpsError as error:
            print_error(str(error))
            raise typer.Exit(code=error.exit_code) from None


app = typer.Typer(
    name="sentimentops",
    cls=_ErrorMappingGroup,
    help=(
        "End-to-end MLOps for review sentiment: data, training, batch and real-time "
        "prediction, monitoring and orchestration.\n\n"
        "Exit codes: 0 success, 1 unexpected failure, 2 bad input or usage, "
        "3 a monitoring alert or a refused online promotion, 4 a batch over its reject limit."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(data_app, name="data")
app.command("train")(train_command)
app.command("predict")(predict_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(models_app, name="models")
app.add_typer(monitor_app, name="monitor")
app.add_typer(pipeline_app, name="pipeline")


def _show_version(value: bool) -> None:
    if value:
        console.print(f"sentimentops {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help=f"YAML file overriding the packaged defaults (also: {CONFIG_FILE_ENV}).",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """End-to-end MLOps for review sentiment."""
    set_environment_defaults()
    if config is not None:
        # Through the environment so that subprocesses (workers, flows) see the same file.
        os.environ[CONFIG_FILE_ENV] = str(config.resolve())
        get_settings.cache_clear()


def run() -> NoReturn:
    """Run the command line and exit (the console script, ``cli/entry.py``, ends here)."""
    set_environment_defaults()
    try:
        app()
    except SystemExit as done:  # how click ends every command
        _exit_without_teardown(done.code)
    _exit_without_teardown(0)


def _exit_without_teardown(code: str | int | None) -> NoReturn:
    """Exit as the interpreter would, less its teardown of every imported module: after Evidently
    that alone took 0.7 s of a 6 s ``monitor`` (docs/decisions.md, "A cold monitor")."""
    if isinstance(code, str):  # sys.exit("message"): the interpreter prints it, exit 1
        print(code, file=sys.stderr)
    threading._shutdown()  # type: ignore[attr-defined]  # joins threads: the interpreter's first step
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
