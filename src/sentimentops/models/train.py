"""Train the candidate families: grouped k-fold CV search on train, the best chosen on validation,
refit (on train + validation by default) and evaluated once on test."""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, PredefinedSplit

from sentimentops.config import ModelFamily, PreprocessingSettings, Settings
from sentimentops.data.split import DatasetSplits, assign_group_folds
from sentimentops.features.build import build_cleaner
from sentimentops.models.candidates import build_candidate
from sentimentops.models.evaluate import classification_metrics, to_binary
from sentimentops.models.sentiment import SentimentPipeline

__all__ = [
    "CandidateResult",
    "CleanTexts",
    "TrainingResult",
    "evaluate_candidate",
    "finish_training",
    "search_family",
    "train_models",
]

Progress = Callable[[str], None]

# joblib's process pool replaces a worker whose memory grew between fits (a fitted vocabulary
# does that) and says so in a UserWarning that reads like a failure; the fits are unaffected.
warnings.filterwarnings(
    "ignore", "A worker stopped while some jobs were given to the executor", UserWarning
)

_TIMING_ROWS = 2_000  # raw test reviews a model's scoring speed is timed on
_CLEAN_CHUNK = 5_000  # texts per cleaning job: a worker process's start-up is a small share


@dataclass(frozen=True)
class CleanTexts:
    """The splits' review texts after the cleaning step, cleaned once for every search."""

    PARTS: ClassVar[tuple[str, ...]] = ("train", "validation", "test")

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def write(self, path: Path) -> None:
        """Write the texts as one parquet file, for :meth:`read`."""
        parts = [getattr(self, part) for part in self.PARTS]
        split = np.repeat(self.PARTS, [len(texts) for texts in parts])
        pd.DataFrame({"split": split, "text": np.concatenate(parts)}).to_parquet(path, index=False)

    @classmethod
    def read(cls, path: Path) -> CleanTexts:
        """The texts :meth:`write` wrote to ``path``."""
        frame = pd.read_parquet(path)
        texts = frame["text"].to_numpy(dtype=object)
        return cls(*(texts[frame["split"].to_numpy() == part] for part in cls.PARTS))

    @classmethod
    def of(cls, splits: DatasetSplits, settings: Settings) -> CleanTexts:
        """The texts of ``splits`` cleaned as the settings say."""
        preprocessing, n_jobs = settings.preprocessing, settings.training.n_jobs
        parts = (splits.train, splits.validation, splits.test)
        return cls(
            *(clean_texts(p["review"].tolist(), preprocessing, n_jobs=n_jobs) for p in parts)
        )


def clean_texts(
    texts: list[str], preprocessing: PreprocessingSettings, *, n_jobs: int = 1
) -> np.ndarray:
    """``texts`` through the cleaning step, in ``n_jobs`` processes for large inputs (pure
    Python: threads would wait on each other)."""
    cleaner = build_cleaner(preprocessing)
    if n_jobs == 1 or len(texts) <= _CLEAN_CHUNK:
        return np.asarray(cleaner.transform(texts), dtype=object)
    from joblib import Parallel, delayed

    chunks = [texts[start : start + _CLEAN_CHUNK] for start in range(0, len(texts), _CLEAN_CHUNK)]
    cleaned = Parallel(n_jobs=n_jobs)(delayed(cleaner.transform)(chunk) for chunk in chunks)
    return np.concatenate(cleaned)


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
    cleaned: np.ndarray | None = None,
    cache_dir: str | None = None,
) -> tuple[SentimentPipeline, dict[str, Any], pd.DataFrame, float]:
    """Grid search (or halving) with grouped k-fold CV on ``train`` (``cleaned``: its texts cleaned
    already). Returns the best pipeline refit on ``train``, its params, CV table and seconds."""
    training = settings.training
    candidate = build_candidate(family, settings, memory=cache_dir)
    if cleaned is None:
        cleaned = clean_texts(train["review"].tolist(), settings.preprocessing)
    folds = PredefinedSplit(assign_group_folds(train, training.cv_folds, training.seed))
    search_kwargs: dict[str, Any] = {
        "cv": folds,
        "scoring": "accuracy",
        "n_jobs": training.n_jobs,
        "refit": True,
        "error_score": "raise",
    }
    after_cleaning = candidate.pipeline[1:]
    grid = candidate.grid or {"classifier__random_state": [training.seed]}
    if training.search == "halving" and len(ParameterGrid(grid)) > 1:
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        search: Any = HalvingGridSearchCV(
            after_cleaning, grid, factor=2, random_state=training.seed, **search_kwargs
        )
    else:
        search = GridSearchCV(after_cleaning, grid, **search_kwargs)
    started = time.perf_counter()
    with _parallel_backend(training.dask_scheduler):
        search.fit(cleaned, train["sentiment"].to_numpy())
    seconds = time.perf_counter() - started
    # The cache is a temporary folder: the model must not need it.
    best = SentimentPipeline([candidate.pipeline.steps[0], *search.best_estimator_.steps])
    table = pd.DataFrame(search.cv_results_)
    keep = [c for c in table.columns if c.startswith("param_")]
    keep += ["mean_test_score", "std_test_score", "mean_fit_time", "rank_test_score"]
    return best, dict(search.best_params_), table[keep], seconds


def train_models(
    splits: DatasetSplits, settings: Settings, *, progress: Progress | None = None
) -> TrainingResult:
    """Search every configured family, choose on validation accuracy, refit, test once."""
    report = progress or (lambda _message: None)
    report("cleaning the texts")
    cleaned = CleanTexts.of(splits, settings)
    with tempfile.TemporaryDirectory(prefix="sentimentops-features-") as cache_dir:
        results = []
        for family in settings.training.models:
            report(f"searching {family}")
            results.append(
                evaluate_candidate(family, splits, settings, cleaned=cleaned, cache_dir=cache_dir)
            )
    return finish_training(results, splits, settings, cleaned=cleaned, progress=report)


def evaluate_candidate(
    family: ModelFamily,
    splits: DatasetSplits,
    settings: Settings,
    *,
    cleaned: CleanTexts | None = None,
    cache_dir: str | None = None,
) -> CandidateResult:
    """One family searched on train and scored on validation and (for the record) test."""
    cleaned = cleaned or CleanTexts.of(splits, settings)
    model, params, table, seconds = search_family(
        family, splits.train, settings, cleaned=cleaned.train, cache_dir=cache_dir
    )
    scores = model.scores_of_cleaned(cleaned.validation)
    best_row = table.sort_values("rank_test_score").iloc[0]
    test_scores, per_1k = _test_scores(model, splits.test, cleaned.test)
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
    cleaned: CleanTexts | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Choose the best family on validation accuracy (the faster on a tie), refit it if
    configured, and evaluate it once on test. ValueError without candidates."""
    if not candidates:
        raise ValueError("no candidates to choose from: configure at least one model family")
    cleaned = cleaned or CleanTexts.of(splits, settings)
    report = progress or (lambda _message: None)
    started = time.perf_counter()
    chosen = max(candidates, key=lambda r: (r.validation["accuracy"], -r.fit_seconds))
    final = chosen.model
    if settings.training.refit_on_validation:
        report(f"refitting {chosen.family} on train + validation")
        both = np.concatenate([cleaned.train, cleaned.validation])
        labels = pd.concat([splits.train, splits.validation])["sentiment"].to_numpy()
        refitted = clone(chosen.model[1:]).fit(both, labels)
        final = SentimentPipeline([chosen.model.steps[0], *refitted.steps])
    refit_seconds = time.perf_counter() - started
    report("final evaluation on test")
    test_scores, per_1k = _test_scores(final, splits.test, cleaned.test)
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


def _test_scores(
    model: SentimentPipeline, test: pd.DataFrame, cleaned: np.ndarray
) -> tuple[np.ndarray, float]:
    """The scores of the cleaned test texts, and seconds per 1,000 raw reviews as served."""
    model.warm_up()
    sample = test["review"].iloc[:_TIMING_ROWS]
    started = time.perf_counter()
    model.positive_scores(sample)
    per_1k = (time.perf_counter() - started) / max(len(sample), 1) * 1000
    return model.scores_of_cleaned(cleaned), per_1k


@contextlib.contextmanager
def _parallel_backend(scheduler: str | None) -> Iterator[None]:
    """joblib's Dask backend when a scheduler is configured, else the default (loky)."""
    if scheduler is None:
        yield
        return
    import joblib
    from distributed import Client

    with Client(scheduler, timeout="10s"), joblib.parallel_backend("dask"):  # type: ignore[no-untyped-call]
        yield
