"""The model trained, logged and served: a scikit-learn ``Pipeline`` from raw text to label,
scored fast by a :class:`~sentimentops.models.linear_scoring.LinearScorer` when linear."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from sentimentops.models.linear_scoring import LinearScorer

__all__ = [
    "DECISION_THRESHOLD",
    "NEGATIVE",
    "POSITIVE",
    "Label",
    "SentimentPipeline",
    "labels_of",
    "texts_of",
]

POSITIVE: Final = "positive"
NEGATIVE: Final = "negative"
Label = Literal["positive", "negative"]
# The probability of positive from which a review is labelled positive, wherever labels are given.
DECISION_THRESHOLD = 0.5
TEXT_INPUT = "review"
_SCORER = "_linear_scorer_cache"  # (what it was built from, the scorer): derived, never saved


def labels_of(scores: Iterable[float]) -> list[Label]:
    """The label of each probability of positive (:data:`DECISION_THRESHOLD`)."""
    return [POSITIVE if score >= DECISION_THRESHOLD else NEGATIVE for score in scores]


def texts_of(data: Any) -> list[str]:
    """The review texts of a model input: a DataFrame (``review`` or its only column), a
    Series, a list or a single string."""
    if isinstance(data, pd.DataFrame):
        if TEXT_INPUT in data.columns:
            column = data[TEXT_INPUT]
        elif data.shape[1] == 1:
            column = data.iloc[:, 0]
        else:
            raise ValueError(
                f"model input has columns {list(data.columns)}; send a '{TEXT_INPUT}' column"
            )
        return [str(text) for text in column.tolist()]
    if isinstance(data, str):
        return [data]
    return [str(text) for text in list(data)]


class SentimentPipeline(Pipeline):  # type: ignore[misc]
    """A Pipeline whose classifier predicts ``positive``/``negative`` from raw review text."""

    def warm_up(self) -> None:
        """Score one review, so the n-gram index (about a second) and the linear scorer are
        built by the loader, not inside the first prediction."""
        self.positive_scores(["a warm-up review"])

    def positive_scores(self, data: Any) -> np.ndarray:
        """Probability of ``positive`` per review."""
        return self.scores_of_cleaned(self._cleaner().transform(texts_of(data)))

    def scores_of_cleaned(self, cleaned: Any) -> np.ndarray:
        """Probability of ``positive`` per text already through the cleaner, the first step."""
        scorer = self._linear_scorer()
        if scorer is not None:
            return np.asarray(scorer.scores(cleaned), dtype=float)
        probabilities = self[1:].predict_proba(cleaned)
        return np.asarray(probabilities[:, list(self.classes_).index(POSITIVE)], dtype=float)

    def positive_scores_or_nan(self, data: Any) -> np.ndarray:
        """:meth:`positive_scores`, but NaN for a review with nothing left after cleaning."""
        cleaned = self._cleaner().transform(texts_of(data))
        scores = self.scores_of_cleaned(cleaned)
        scores[cleaned == ""] = np.nan
        return scores

    def _cleaner(self) -> Any:
        first_name, cleaner = self.steps[0]
        if first_name != "clean":
            raise TypeError(f"the first step is '{first_name}'; expected the text cleaner 'clean'")
        return cleaner

    def _linear_scorer(self) -> LinearScorer | None:
        """The fast scorer (None if not linear), rebuilt after a refit or ``set_params``."""
        source = _fitted_parameters(self.steps)
        built: tuple[tuple[Any, ...], LinearScorer | None] | None = self.__dict__.get(_SCORER)
        if built is not None and _same_objects(built[0], source):
            return built[1]
        if not hasattr(self.steps[-1][1], "classes_"):
            return None  # not fitted: predict_proba raises scikit-learn's NotFittedError
        scorer = LinearScorer.of(self.steps, POSITIVE)
        self.__dict__[_SCORER] = (source, scorer)
        return scorer

    def __getstate__(self) -> dict[str, Any]:
        # A copy without the scorer: scikit-learn's __getstate__ may return the live __dict__.
        return {key: value for key, value in super().__getstate__().items() if key != _SCORER}

    def predict_with_scores(self, data: Any) -> pd.DataFrame:
        """``label`` and ``score`` (probability of positive) per review, in input order."""
        scores = self.positive_scores(data)
        return pd.DataFrame(
            {"label": np.where(scores >= DECISION_THRESHOLD, POSITIVE, NEGATIVE), "score": scores}
        )


def _same_objects(first: tuple[Any, ...], second: tuple[Any, ...]) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))


def _fitted_parameters(steps: list[tuple[str, Any]]) -> tuple[Any, ...]:
    """What a linear scorer is built from: their identities tell whether it is stale (a refit
    or ``set_params`` replaces them; arrays edited in place are not noticed)."""
    fitted: list[Any] = []
    for _, estimator in steps:
        fitted.append(estimator)
        fitted.extend(
            getattr(estimator, name, None)
            for name in ("vocabulary_", "_tfidf", "binary", "r_", "coef_", "intercept_", "classes_")
        )
    return tuple(fitted)
