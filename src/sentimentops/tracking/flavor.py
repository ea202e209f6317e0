"""How a SentimentPipeline is saved as an MLflow model, never pickled: the sklearn flavour in
skops format, and a pyfunc flavour (this module is its loader) answering ``label`` and ``score``."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from sentimentops.data.version import sha256_file
from sentimentops.models.sentiment import SentimentPipeline

__all__ = [
    "CHECKSUM_KEY",
    "SKOPS_TRUSTED_TYPES",
    "SentimentPyfuncModel",
    "load_pipeline",
    "log_model",
    "model_environment",
    "model_requirements",
    "save_model",
    "verify_model_file",
]

# model.skops's sha256 in MLmodel's metadata (and a registry tag), checked before skops reads.
CHECKSUM_KEY = "model_sha256"
MODEL_FILE = "model.skops"

# The only types, beyond skops' builtins, NumPy and SciPy, that a logged model may contain: the
# project's own classes and the scikit-learn ones the four families hold (tests/tracking/
# test_flavor.py checks fitted pipelines against it). Loading refuses anything else.
SKOPS_TRUSTED_TYPES = [
    "sentimentops.features.nb.NBLogCountRatio",
    "sentimentops.features.text.TextCleaner",
    "sentimentops.features.vectorizer.CompactTfidfVectorizer",
    "sentimentops.models.sentiment.SentimentPipeline",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
]


def import_skops() -> ModuleType:
    """``skops.io``, imported without the default trust of every scikit-learn estimator: skops
    lists them at import, which imports all of scikit-learn (0.45 s of every command that loads a
    model), while :data:`SKOPS_TRUSTED_TYPES` names the ones our models hold (docs/decisions.md,
    "Tracking"). A process that imported skops otherwise keeps skops' own defaults."""
    if "skops.io" not in sys.modules:
        import sklearn.utils

        listing = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = _no_estimators
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = listing
    return sys.modules["skops.io"]


def _no_estimators(type_filter: object = None) -> list[tuple[str, type]]:
    return []


class SentimentPyfuncModel:
    """The pyfunc face of a SentimentPipeline: a frame of label and score per review."""

    def __init__(self, pipeline: SentimentPipeline) -> None:
        self.pipeline = pipeline

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.pipeline.predict_with_scores(data)

    def get_raw_model(self) -> SentimentPipeline:
        return self.pipeline


def save_model(
    sk_model: SentimentPipeline, path: str, mlflow_model: Any = None, **kwargs: Any
) -> None:
    """MLflow's sklearn ``save_model`` in skops format, then this module as pyfunc loader."""
    import mlflow.sklearn
    from mlflow.models import Model

    import_skops()  # MLflow's own import of it lists every estimator: 0.45 s of each training
    mlflow_model = mlflow_model or Model()
    if not {"conda_env", "pip_requirements", "extra_pip_requirements"} & kwargs.keys():
        kwargs["conda_env"] = model_environment()
    mlflow.sklearn.save_model(
        sk_model,
        path,
        mlflow_model=mlflow_model,
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        **kwargs,
    )
    mlflow_model.flavors["python_function"]["loader_module"] = __name__
    mlflow_model.metadata = {
        **(mlflow_model.metadata or {}),
        CHECKSUM_KEY: sha256_file(Path(path) / MODEL_FILE),
    }
    mlflow_model.save(str(Path(path) / "MLmodel"))


# What loading a model needs besides sentimentops itself (which is not on PyPI: a serving
# environment installs the project from its lock file).
_MODEL_DEPENDENCIES = ("mlflow", "numpy", "pandas", "scikit-learn", "scipy", "skops")


def model_requirements() -> list[str]:
    """The installed versions of what a model needs, pinned (docs/decisions.md, "Tracking")."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in _MODEL_DEPENDENCIES]


def model_environment() -> dict[str, Any]:
    """The model's conda environment (this Python, pip, :func:`model_requirements`), from which
    MLflow writes ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml``."""
    import platform

    return {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={platform.python_version()}",
            "pip",
            {"pip": model_requirements()},
        ],
    }


def log_model(sk_model: SentimentPipeline, **kwargs: Any) -> Any:
    """Log (and optionally register) the model with this flavour; returns MLflow's ModelInfo."""
    import os
    import sys

    from mlflow.models import Model

    # MLflow looks for a uv project in the working directory at log time (for its telemetry
    # only, as the requirements are given): not its business, and it logs a line about it.
    os.environ.setdefault("MLFLOW_UV_AUTO_DETECT", "false")
    return Model.log(artifact_path=None, flavor=sys.modules[__name__], sk_model=sk_model, **kwargs)


def verify_model_file(model_file: Path, expected_sha256: str | None = None) -> None:
    """Raise ModelIntegrityError when a model file's sha256 differs from the recorded one (a model
    saved before checksums were recorded passes)."""
    from sentimentops.errors import ModelIntegrityError

    expected = expected_sha256 or _recorded_sha256(model_file.parent)
    if expected is None:
        return
    actual = sha256_file(model_file)
    if actual != expected:
        raise ModelIntegrityError(
            f"{model_file} has sha256 {actual[:12]}..., but {expected[:12]}... was recorded when "
            "the model was saved: the file was changed or corrupted, so it is not loaded. "
            "Restore it from the artifact store's versioning or register the model again."
        )


def _recorded_sha256(folder: Path) -> str | None:
    import yaml

    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        return None
    content = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    value = (content.get("metadata") or {}).get(CHECKSUM_KEY)
    return str(value) if value else None


def _load_pyfunc(path: str) -> SentimentPyfuncModel:
    """Called by ``mlflow.pyfunc.load_model`` with the path of ``model.skops``."""
    return SentimentPyfuncModel(load_pipeline(path))


def load_pipeline(path: str, expected_sha256: str | None = None) -> SentimentPipeline:
    """The pipeline in a model folder (or its ``model.skops``), checked against ``expected_sha256``
    (else MLmodel's record). ModelIntegrityError: other bytes, not skops, an untrusted type."""
    from sentimentops.errors import ModelIntegrityError

    skops_io = import_skops()
    model_file = Path(path)
    if model_file.is_dir():
        model_file = model_file / MODEL_FILE
    verify_model_file(model_file, expected_sha256)
    try:
        pipeline = skops_io.load(model_file, trusted=SKOPS_TRUSTED_TYPES)
    except skops_io.exceptions.UntrustedTypesFoundException as error:
        # A matching checksum does not make a type the file names safe to import and call.
        raise ModelIntegrityError(
            f"{model_file} holds types outside the trusted list, refused without loading: "
            f"{error}. Only models saved by sentimentops load."
        ) from None
    except zipfile.BadZipFile:
        # A pickle (or anything else) named model.skops: skops never unpickles, it refuses.
        raise ModelIntegrityError(
            f"{model_file} is not a skops file (a pickle, perhaps): refused without loading. "
            "Only models saved by sentimentops load."
        ) from None
    if not isinstance(pipeline, SentimentPipeline):
        raise TypeError(f"{model_file} holds a {type(pipeline).__name__}, not a SentimentPipeline")
    pipeline.warm_up()  # here, in the loader's thread, not in the first request
    return pipeline
