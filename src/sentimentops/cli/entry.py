"""The ``sentimentops`` console script. It starts before the CLI is imported (typer, pydantic and
every sub-app) so that a monitoring run forks the process that imports Evidently, the longest
wait of a cold ``monitor``, as early as it can (docs/decisions.md, "A cold monitor")."""

from __future__ import annotations

import sys
from typing import NoReturn

from sentimentops.cli.environment import set_environment_defaults

__all__ = ["is_monitoring_run", "run"]


def run() -> NoReturn:
    """Console-script entry point."""
    set_environment_defaults()
    if is_monitoring_run(sys.argv[1:]):
        from sentimentops.monitoring.evidently_process import start_ahead

        start_ahead()
    from sentimentops.cli.main import run as run_cli

    run_cli()


def is_monitoring_run(arguments: list[str]) -> bool:
    """``monitor`` and its options (``--current PATH``, ``--from-log``), not a sub-command such as
    ``monitor history`` nor a request for help. A wrong guess costs only the process's start."""
    return (
        len(arguments) > 1
        and arguments[0] == "monitor"
        and arguments[1].startswith("-")
        and "--help" not in arguments
    )
