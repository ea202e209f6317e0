"""The model object that is trained, logged and served: a Pipeline from raw text to label.

:class:`SentimentPipeline` is a scikit-learn ``Pipeline`` (so ``mlflow.sklearn.load_model``
gives users a plain pipeline to call ``predict`` on) with one addition, ``predict_with_scores``,
which MLflow's pyfunc flavour calls so that served predictions carry the label and the
probability of positive together, without a pickled wrapper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

__all__ = [
    "NEGATIVE",
    "POSITIVE",
    "PREDICT_WITH_SCORES",
    "SentimentPipeline",
    "texts_of",
]

POSITIVE = "positive"
NEGATIVE = "negative"
PREDICT_WITH_SCORES = "predict_with_scores"
TEXT_INPUT = "review"


def texts_of(data: Any) -> list[str]:
    """The review texts of a model input: a DataFrame (``review`` column, else its only
    column), a Series, a list of strings or a single string."""
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
        """Score one review, so what the steps build on first use (the vectorizer's n-gram
        index: about a second for a million n-grams) is built now, by whoever loads the model,
        and not inside the first prediction (an API's event loop, a hot reload's swap)."""
        self.positive_scores(["a warm-up review"])

    def positive_scores(self, data: Any) -> np.ndarray:
        """Probability of ``positive`` per review."""
        probabilities = self.predict_proba(texts_of(data))
        return np.asarray(probabilities[:, list(self.classes_).index(POSITIVE)])

    def positive_scores_or_nan(self, data: Any) -> np.ndarray:
        """Like :meth:`positive_scores`, but NaN for a review with nothing left after cleaning.

        The text is cleaned once, by the pipeline's own first step, so a caller that must
        reject such reviews (batch prediction) learns which they are without cleaning twice.
        """
        first_name, cleaner = self.steps[0]
        if first_name != "clean":
            raise TypeError(f"the first step is '{first_name}'; expected the text cleaner 'clean'")
        cleaned = cleaner.transform(texts_of(data))
        probabilities = self[1:].predict_proba(cleaned)
        scores = np.asarray(probabilities[:, list(self.classes_).index(POSITIVE)], dtype=float)
        scores[cleaned == ""] = np.nan
        return scores

    def predict_with_scores(self, data: Any) -> pd.DataFrame:
        """``label`` and ``score`` (probability of positive) per review, in input order."""
        scores = self.positive_scores(data)
        return pd.DataFrame({"label": np.where(scores >= 0.5, POSITIVE, NEGATIVE), "score": scores})
