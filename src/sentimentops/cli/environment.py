"""Environment variables every command sets for the libraries it loads, unless the user set
them; processes the command starts inherit them."""

from __future__ import annotations

import os

__all__ = ["QUIET_LIBRARIES", "TELEMETRY_OPT_OUT", "set_environment_defaults"]

# The project runs offline and must not phone home; set before any of these libraries loads.
TELEMETRY_OPT_OUT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
# The commands show their own progress, which MLflow's bars and INFO lines would bury.
QUIET_LIBRARIES = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


def set_environment_defaults() -> None:
    """The variables above, unless the user set them (subprocesses inherit them)."""
    for name, value in (TELEMETRY_OPT_OUT | QUIET_LIBRARIES).items():
        os.environ.setdefault(name, value)
