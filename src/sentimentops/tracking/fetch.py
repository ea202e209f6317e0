"""A model version's registry record and files on this machine: MLflow and nothing heavier, so
that ``tracking.loading`` can run it in a process of its own."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentimentops.tracking.registry import (
    ModelVersionInfo,
    model_files,
    resolve_version,
    version_info,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REFERENCE_SAMPLE",
    "FetchedVersion",
    "fetch_version",
    "load_reference_sample",
    "read_run_frame",
]

REFERENCE_SAMPLE = "reference/reference_sample.parquet"


@dataclass(frozen=True)
class FetchedVersion:
    """A registered version: name, number, its record, the folder of its files, and the
    reference sample of its training run when it was asked for and logged."""

    name: str
    version: str
    info: ModelVersionInfo
    folder: str
    reference: pd.DataFrame | None


def fetch_version(uri: str, *, with_reference: bool = False) -> FetchedVersion:
    """The version ``models:/name@alias`` or ``models:/name/version`` names now, in the configured
    registry; ModelNotFoundError (no such version or files), TrackingUnavailableError."""
    from sentimentops.config import get_settings
    from sentimentops.tracking.store import connect_registry

    connect_registry(get_settings(), existing=True)
    name, version = resolve_version(uri)
    info = version_info(name, version)
    folder = model_files(f"models:/{name}/{version}")
    reference = load_reference_sample(info.run_id) if with_reference else None
    return FetchedVersion(name, version, info, folder, reference)


def read_run_frame(run_id: str, artifact_path: str) -> pd.DataFrame:
    """A Parquet artifact of a run."""
    import mlflow
    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact_path, dst_path=scratch
        )
        return pd.read_parquet(path)


def load_reference_sample(run_id: str) -> pd.DataFrame | None:
    """The reference sample a training run logged (None for runs from before it existed)."""
    import mlflow

    try:
        return read_run_frame(run_id, REFERENCE_SAMPLE)
    except (mlflow.exceptions.MlflowException, OSError):
        return None
