"""Log a training to MLflow: one parent run, a nested run per candidate, the model registered
with its lineage, card and reference sample, and the promotion gate applied and recorded."""

from __future__ import annotations

import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentimentops import __version__
from sentimentops.config import RegistrySettings, Settings
from sentimentops.data.split import DatasetSplits
from sentimentops.data.version import json_digest, text_fingerprints
from sentimentops.models.card import render_model_card, summary_of
from sentimentops.models.evaluate import metrics_by_length, to_binary, worst_errors
from sentimentops.models.explain import top_ngrams
from sentimentops.models.gate import (
    GateDecision,
    ModelScore,
    comparable_rows,
    decide_promotion,
    defer_to_online,
)
from sentimentops.models.plots import save_evaluation_plots
from sentimentops.models.sentiment import DECISION_THRESHOLD, SentimentPipeline
from sentimentops.models.train import CandidateResult, TrainingResult
from sentimentops.tracking import flavor, registry
from sentimentops.tracking.fetch import REFERENCE_SAMPLE, read_run_frame
from sentimentops.tracking.loading import load_version

__all__ = [
    "FINGERPRINT_TAG",
    "TrackedTraining",
    "load_model_card",
    "load_trained_texts",
    "track_training",
]

# Fingerprints of the texts a version was trained on: the test rows the gate may compare it on.
TRAINED_TEXTS = "data/trained_texts.parquet"
FINGERPRINT_COLUMN = "text_fingerprint"
MODEL_CARD = "model_card.md"
MAX_DESCRIPTION_CHARS = 4_000
FINGERPRINT_TAG = "training_fingerprint"


@dataclass(frozen=True)
class TrackedTraining:
    """What a tracked training left: its run, the registered version, the gate's decision."""

    run_id: str
    model_name: str
    version: str
    decision: GateDecision
    card: str
    champion: str | None


def _git_commit() -> str:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return completed.stdout.strip() or "unknown"


def track_training(
    result: TrainingResult,
    settings: Settings,
    *,
    lineage: dict[str, Any],
    data_quality: dict[str, Any],
) -> TrackedTraining:
    """Log ``result``, register its model as challenger and apply the promotion gate."""
    import mlflow

    name = settings.registry.model_name
    with mlflow.start_run(run_name=f"train-{result.chosen.family}") as parent:
        mlflow.set_tags(
            {
                "git_commit": _git_commit(),
                "config_hash": json_digest(settings.model_dump(mode="json")),
                "package_version": __version__,
                "split_mode": result.splits.mode,
                "chosen_family": result.chosen.family,
            }
        )
        _log_datasets(result, lineage)
        mlflow.log_dict(data_quality, "data/quality_report.json")
        for candidate in result.candidates:
            _log_candidate(candidate)
        chosen, splits = result.chosen, result.splits
        params = {"family": chosen.family, "split": splits.mode, "seed": splits.seed}
        mlflow.log_params(params | {f"best.{k}": v for k, v in chosen.best_params.items()})
        mlflow.log_metrics(
            _search_metrics(chosen, test=result.test_metrics)
            | {"train_seconds": result.train_seconds}
            | {"predict_seconds_per_1k": result.predict_seconds_per_1k}
        )
        slices = _log_evaluation(result)
        _log_reference_sample(result, settings)
        trained = _trained_fingerprints(result.splits)
        _log_frame(pd.DataFrame({FINGERPRINT_COLUMN: trained}), TRAINED_TEXTS)
        version = _log_and_register(result, name)
        online = settings.registry.promotion == "online"
        if not online:
            registry.set_challenger(name, version)
        decision = _apply_gate(result, name, settings.registry)
        if online:
            # Live traffic decides: the challenger alias puts it in shadow or canary.
            decision, tried = defer_to_online(decision, settings.registry.tolerance)
            if tried:
                registry.set_challenger(name, version)
        mlflow.log_dict(decision.to_dict(), "promotion/decision.json")
        mlflow.set_tags(
            {
                "promotion": "promoted" if decision.promote else "kept champion",
                "promotion_reason": decision.reason,
            }
        )
        if decision.promote:
            registry.promote(name, version)
        card = render_model_card(
            result,
            model_name=name,
            version=version,
            decision=decision,
            lineage=lineage,
            length_slices=slices,
            config=settings.model_dump(mode="json"),
        )
        mlflow.log_text(card, MODEL_CARD)
        _describe_version(name, version, card, result, lineage)
    return TrackedTraining(
        run_id=parent.info.run_id,
        model_name=name,
        version=version,
        decision=decision,
        card=card,
        champion=registry.champion_version(name),
    )


def _log_datasets(result: TrainingResult, lineage: dict[str, Any]) -> None:
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    digests = lineage["split_digests"]
    for split, frame in result.splits.frames().items():
        with warnings.catch_warnings():
            # MLflow warns that a local path is ambiguous between its two identical sources.
            warnings.filterwarnings("ignore", message="The specified dataset source can be")
            dataset = from_pandas(
                frame[["review", "sentiment"]].reset_index(drop=True),
                source=str(lineage["source"]),
                name=f"imdb-{split}",
                digest=digests[split][:32],
                targets="sentiment",
            )
        mlflow.log_input(dataset, context=split)
    mlflow.log_dict(lineage, "data/lineage.json")


def _log_candidate(candidate: CandidateResult) -> None:
    import mlflow

    with mlflow.start_run(run_name=candidate.family, nested=True):
        mlflow.log_params({"family": candidate.family} | candidate.best_params)
        mlflow.log_metrics(
            _search_metrics(candidate, test=candidate.test)
            | {"fit_seconds": candidate.fit_seconds}
            | {"predict_seconds_per_1k": candidate.predict_seconds_per_1k}
        )
        mlflow.log_text(candidate.cv_results.to_csv(index=False), "cv_results.csv")


def _search_metrics(candidate: CandidateResult, *, test: dict[str, float]) -> dict[str, float]:
    cv = {"cv_accuracy_mean": candidate.cv_mean, "cv_accuracy_std": candidate.cv_std}
    validation = {f"val_{k}": v for k, v in candidate.validation.items()}
    return cv | validation | {f"test_{k}": v for k, v in test.items()}


def _log_evaluation(result: TrainingResult) -> pd.DataFrame:
    import mlflow

    test = result.splits.test
    y = to_binary(test["sentiment"])
    slices = metrics_by_length(test["review"], y, result.test_scores)
    with tempfile.TemporaryDirectory() as scratch:
        save_evaluation_plots(y, result.test_scores, Path(scratch))
        mlflow.log_artifacts(scratch, "plots")
    mlflow.log_text(slices.to_csv(index=False), "evaluation/metrics_by_length.csv")
    errors = worst_errors(test["review"], y, result.test_scores)
    mlflow.log_text(errors.to_csv(index=False), "evaluation/worst_errors.csv")
    mlflow.log_dict(top_ngrams(result.model), "evaluation/top_ngrams.json")
    return slices


def _log_reference_sample(result: TrainingResult, settings: Settings) -> None:
    """Held-out test texts, labels and predictions: monitoring's default reference, on which it
    calibrates its estimate (scores of texts trained on would be overconfident)."""
    test = result.splits.test
    rows = min(settings.registry.reference_sample_rows, len(test))
    sample = test.sample(n=rows, random_state=settings.training.seed)[["review", "sentiment"]]
    predictions = result.model.predict_with_scores(sample["review"])
    sample = sample.reset_index(drop=True).assign(
        label=predictions["label"], score=predictions["score"]
    )
    _log_frame(sample, REFERENCE_SAMPLE)


def _log_frame(frame: pd.DataFrame, artifact_path: str) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / Path(artifact_path).name
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(artifact_path).parent))


def _trained_fingerprints(splits: DatasetSplits) -> np.ndarray:
    """Validation counts as trained on: it chose the model, and by default it is refit on it."""
    return text_fingerprints(pd.concat([splits.train, splits.validation])["review"])


def load_trained_texts(run_id: str) -> np.ndarray | None:
    """The fingerprints of the texts a training run trained on; None for a run logged before
    they were recorded. MlflowException when the artifact store fails."""
    from mlflow import MlflowClient

    folder = str(Path(TRAINED_TEXTS).parent)
    if TRAINED_TEXTS not in {item.path for item in MlflowClient().list_artifacts(run_id, folder)}:
        return None
    return read_run_frame(run_id, TRAINED_TEXTS)[FINGERPRINT_COLUMN].to_numpy(dtype=np.uint64)


def load_model_card(name: str, version_or_alias: str) -> str:
    """The model card of a version (a number) or an alias; ModelNotFoundError if none."""
    import mlflow

    version = registry.lookup_version(name, version_or_alias)
    run_id = registry.version_info(name, version).run_id
    return str(mlflow.artifacts.load_text(f"runs:/{run_id}/{MODEL_CARD}"))


def _log_and_register(result: TrainingResult, name: str) -> str:
    from mlflow.models import infer_signature

    # An unnamed string column: callers send a plain list of review texts.
    example_input = result.splits.test["review"].head(3).tolist()
    signature = infer_signature(example_input, result.model.predict_with_scores(example_input))
    info = flavor.log_model(
        result.model,
        name="model",
        signature=signature,
        input_example=example_input,
        registered_model_name=name,
    )
    if info.signature is None:
        raise RuntimeError("the logged model has no signature; refusing to register it")
    version = str(info.registered_model_version)
    # Kept apart from the artifacts: a model file changed in their store is refused at load.
    checksum = (info.metadata or {}).get(flavor.CHECKSUM_KEY)
    if checksum:
        from mlflow import MlflowClient

        MlflowClient().set_model_version_tag(name, version, flavor.CHECKSUM_KEY, checksum)
    return version


def _apply_gate(
    result: TrainingResult, name: str, registry_settings: RegistrySettings
) -> GateDecision:
    """Compare with the champion on the test rows fair to both, timing both on all of them."""
    champion = registry.champion_version(name)
    test = result.splits.test
    y = to_binary(test["sentiment"])
    if champion is None:
        return GateDecision(True, "no champion yet", result.test_metrics["accuracy"])
    champion_trained = load_trained_texts(registry.version_info(name, champion).run_id)
    if champion_trained is None:
        return GateDecision(
            False,
            f"champion version {champion} has no record of the reviews it was trained on "
            "(registered by an older sentimentops), so no fair comparison on this test set is "
            "possible; compare them yourself and promote by hand (sentimentops models promote "
            "VERSION), or train the champion's configuration again",
            result.test_metrics["accuracy"],
        )
    compared = comparable_rows(
        text_fingerprints(test["review"]), _trained_fingerprints(result.splits), champion_trained
    )
    champion_model = load_version(f"models:/{name}@{registry.CHAMPION}").pipeline
    champion_score = _score(champion_model, test)
    challenger_score = _score(result.model, test)  # after the champion: the same conditions
    return decide_promotion(
        y,
        challenger_score,
        champion_score,
        significance_level=registry_settings.significance_level,
        tolerance=registry_settings.tolerance,
        compared=compared,
        min_rows=registry_settings.min_compared_rows,
    )


def _score(model: SentimentPipeline, frame: pd.DataFrame) -> ModelScore:
    started = time.perf_counter()
    scores = model.positive_scores(frame["review"])
    per_1k = (time.perf_counter() - started) / max(len(frame), 1) * 1000
    return ModelScore(
        predictions=(np.asarray(scores) >= DECISION_THRESHOLD).astype(int), seconds_per_1k=per_1k
    )


def _describe_version(
    name: str, version: str, card: str, result: TrainingResult, lineage: dict[str, Any]
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    # MLflow's SQL schema caps descriptions at 5,000 characters: the full card is model_card.md.
    summary = summary_of(card)
    if len(summary) > MAX_DESCRIPTION_CHARS:
        summary = summary[: MAX_DESCRIPTION_CHARS - 20].rstrip() + "\n\n(truncated)"
    client.update_model_version(name, version, description=summary)
    tags = {
        "family": result.chosen.family,
        "test_accuracy": f"{result.test_metrics['accuracy']:.4f}",
        "data_digest": str(lineage.get("source_digest")),
        "split_mode": result.splits.mode,
    }
    if lineage.get("training_fingerprint"):
        # A re-run on the same data and settings finds this version instead of a duplicate.
        tags[FINGERPRINT_TAG] = str(lineage["training_fingerprint"])
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
