"""Train the candidate families: search each with grouped k-fold CV on train, pick the best
family on validation, refit it (on train + validation by default) and evaluate it once on test.

Pure of MLflow: the result holds everything tracking needs to log (see sentimentops.tracking).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, PredefinedSplit

from sentimentops.config import ModelFamily, Settings
from sentimentops.data.split import DatasetSplits, assign_group_folds
from sentimentops.models.candidates import build_candidate
from sentimentops.models.evaluate import classification_metrics, to_binary
from sentimentops.models.sentiment import SentimentPipeline

__all__ = [
    "CandidateResult",
    "TrainingResult",
    "evaluate_candidate",
    "finish_training",
    "search_family",
    "train_models",
]

Progress = Callable[[str], None]


@dataclass
class CandidateResult:
    """The best pipeline of one family, fitted on train, with its search and validation scores."""

    family: ModelFamily
    model: SentimentPipeline
    best_params: dict[str, Any]
    cv_mean: float
    cv_std: float
    cv_results: pd.DataFrame
    fit_seconds: float
    validation: dict[str, float]
    test: dict[str, float] = field(default_factory=dict)
    predict_seconds_per_1k: float = float("nan")


@dataclass
class TrainingResult:
    """All candidates, the chosen family, and the final model evaluated on test."""

    candidates: list[CandidateResult]
    chosen: CandidateResult
    model: SentimentPipeline
    test_metrics: dict[str, float]
    test_scores: np.ndarray
    predict_seconds_per_1k: float
    splits: DatasetSplits
    train_seconds: float


def search_family(
    family: ModelFamily,
    train: pd.DataFrame,
    settings: Settings,
    *,
    cache_dir: str | None = None,
) -> tuple[SentimentPipeline, dict[str, Any], pd.DataFrame, float]:
    """Grid search (or successive halving) with grouped, stratified k-fold CV on ``train``.

    Folds are grouped by movie and duplicate text like the splits, so CV scores do not leak.
    Returns the best pipeline refitted on all of ``train``, its params, the CV table, seconds.
    """
    training = settings.training
    candidate = build_candidate(family, settings, memory=cache_dir)
    folds = PredefinedSplit(assign_group_folds(train, training.cv_folds, training.seed))
    search_kwargs: dict[str, Any] = {
        "cv": folds,
        "scoring": "accuracy",
        "n_jobs": training.n_jobs,
        "refit": True,
        "error_score": "raise",
    }
    grid = candidate.grid or {"classifier__random_state": [training.seed]}
    if training.search == "halving" and _grid_size(grid) > 1:
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        search: Any = HalvingGridSearchCV(
            candidate.pipeline, grid, factor=2, random_state=training.seed, **search_kwargs
        )
    else:
        search = GridSearchCV(candidate.pipeline, grid, **search_kwargs)
    started = time.perf_counter()
    with _parallel_backend(training.dask_scheduler):
        search.fit(train["review"].tolist(), train["sentiment"].to_numpy())
    seconds = time.perf_counter() - started
    best: SentimentPipeline = search.best_estimator_
    best.set_params(memory=None)  # the cache is a temporary folder; the model must not need it
    table = pd.DataFrame(search.cv_results_)
    keep = [c for c in table.columns if c.startswith("param_")]
    keep += ["mean_test_score", "std_test_score", "mean_fit_time", "rank_test_score"]
    return best, dict(search.best_params_), table[keep], seconds


def train_models(
    splits: DatasetSplits, settings: Settings, *, progress: Progress | None = None
) -> TrainingResult:
    """Search every configured family, choose on validation accuracy, refit, test once."""
    report = progress or (lambda _message: None)
    with tempfile.TemporaryDirectory(prefix="sentimentops-features-") as cache_dir:
        results = []
        for family in settings.training.models:
            report(f"searching {family}")
            results.append(evaluate_candidate(family, splits, settings, cache_dir=cache_dir))
    return finish_training(results, splits, settings, progress=report)


def evaluate_candidate(
    family: ModelFamily,
    splits: DatasetSplits,
    settings: Settings,
    *,
    cache_dir: str | None = None,
) -> CandidateResult:
    """One family: searched with CV on train, scored on validation and (for the record) test.

    Independent of the other families, so candidates can be searched in parallel.
    """
    model, params, table, seconds = search_family(
        family, splits.train, settings, cache_dir=cache_dir
    )
    scores = model.positive_scores(splits.validation["review"])
    best_row = table.sort_values("rank_test_score").iloc[0]
    test_scores, per_1k = _timed_scores(model, splits.test)
    return CandidateResult(
        family=family,
        model=model,
        best_params=params,
        cv_mean=float(best_row["mean_test_score"]),
        cv_std=float(best_row["std_test_score"]),
        cv_results=table,
        fit_seconds=seconds,
        validation=classification_metrics(to_binary(splits.validation["sentiment"]), scores),
        test=classification_metrics(to_binary(splits.test["sentiment"]), test_scores),
        predict_seconds_per_1k=per_1k,
    )


def finish_training(
    candidates: list[CandidateResult],
    splits: DatasetSplits,
    settings: Settings,
    *,
    progress: Progress | None = None,
) -> TrainingResult:
    """Choose the family with the best validation accuracy (the faster on a tie), refit it on
    train + validation when configured, and evaluate the final model once on test.

    ``train_seconds`` is the compute spent: the candidates' searches plus the refit, the same
    whether the searches ran one after another, in parallel or came from a cache.
    """
    if not candidates:
        raise ValueError("no candidates to choose from: configure at least one model family")
    report = progress or (lambda _message: None)
    started = time.perf_counter()
    chosen = max(candidates, key=lambda r: (r.validation["accuracy"], -r.fit_seconds))
    final = chosen.model
    if settings.training.refit_on_validation:
        report(f"refitting {chosen.family} on train + validation")
        final = clone(chosen.model)
        both = pd.concat([splits.train, splits.validation])
        final.fit(both["review"].tolist(), both["sentiment"].to_numpy())
    refit_seconds = time.perf_counter() - started
    report("final evaluation on test")
    test_scores, per_1k = _timed_scores(final, splits.test)
    return TrainingResult(
        candidates=candidates,
        chosen=chosen,
        model=final,
        test_metrics=classification_metrics(to_binary(splits.test["sentiment"]), test_scores),
        test_scores=test_scores,
        predict_seconds_per_1k=per_1k,
        splits=splits,
        train_seconds=sum(c.fit_seconds for c in candidates) + refit_seconds,
    )


def _timed_scores(model: SentimentPipeline, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    scores = model.positive_scores(frame["review"])
    seconds = time.perf_counter() - started
    return scores, seconds / max(len(frame), 1) * 1000


def _grid_size(grid: dict[str, list[Any]]) -> int:
    return int(np.prod([len(values) for values in grid.values()]))


@contextlib.contextmanager
def _parallel_backend(scheduler: str | None) -> Iterator[None]:
    """joblib's Dask backend when a scheduler address is configured, else the default (loky)."""
    if scheduler is None:
        yield
        return
    import joblib
    from distributed import Client

    with Client(scheduler, timeout="10s"), joblib.parallel_backend("dask"):  # type: ignore[no-untyped-call]
        yield
