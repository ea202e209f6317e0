"""Feature and model pipelines built from settings: one object maps raw review text to a label."""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from sentimentops.config import FeatureSettings, PreprocessingSettings
from sentimentops.features.nb import NBLogCountRatio
from sentimentops.features.text import TextCleaner
from sentimentops.features.vectorizer import CompactTfidfVectorizer

if TYPE_CHECKING:
    from joblib import Memory

__all__ = ["build_cleaner", "build_feature_pipeline", "build_model_pipeline"]

# TextCleaner has lowercased and tokenised already: its tokens are separated by single spaces, so
# any run of non-space characters is one token. A pattern string (not a callable tokenizer) keeps
# the vectorizer free of functions, so a model can be saved with skops instead of pickle.
_PRE_TOKENISED = r"\S+"


def build_feature_pipeline(
    preprocessing: PreprocessingSettings, features: FeatureSettings
) -> Pipeline:
    """An unfitted pipeline from raw texts to a sparse float32 feature matrix.

    Steps: ``clean`` (:class:`TextCleaner`), ``tfidf`` (:class:`CompactTfidfVectorizer`, a
    ``TfidfVectorizer`` that saves compactly) and, when
    ``features.nb_weighting`` is set, ``nb`` (:class:`NBLogCountRatio`, which needs labels in
    ``fit``).
    """
    tfidf = features.tfidf
    steps: list[tuple[str, BaseEstimator]] = [
        ("clean", build_cleaner(preprocessing)),
        (
            "tfidf",
            CompactTfidfVectorizer(
                lowercase=False,
                token_pattern=_PRE_TOKENISED,
                ngram_range=tfidf.ngram_range,
                min_df=tfidf.min_df,
                max_df=tfidf.max_df,
                sublinear_tf=tfidf.sublinear_tf,
                max_features=tfidf.max_features,
                # Half the memory of float64 for a 50k x 1M+ bigram matrix; linear models on
                # TF-IDF lose nothing measurable at this precision.
                dtype=np.float32,
            ),
        ),
    ]
    if features.nb_weighting:
        steps.append(("nb", NBLogCountRatio(alpha=features.nb_alpha)))
    return Pipeline(steps)


def build_cleaner(preprocessing: PreprocessingSettings) -> TextCleaner:
    """The first step of every pipeline, the text cleaner, from the preprocessing settings."""
    return TextCleaner(
        strip_html=preprocessing.strip_html,
        normalize_unicode=preprocessing.normalize_unicode,
        lowercase=preprocessing.lowercase,
        remove_stopwords=preprocessing.remove_stopwords,
        keep_punctuation=preprocessing.keep_punctuation,
    )


def build_model_pipeline(
    feature_pipeline: Pipeline,
    classifier: BaseEstimator,
    *,
    memory: str | PathLike[str] | Memory | None = None,
) -> Pipeline:
    """One flat pipeline: the steps of ``feature_pipeline``, then ``("classifier", classifier)``.

    Flat rather than nested, so parameters read ``tfidf__min_df`` and ``classifier__C`` and the
    model is one object from raw text to label.

    Args:
        feature_pipeline: typically from :func:`build_feature_pipeline`. Its steps are cloned
            (unfitted copies), so two models built from one feature pipeline never share, and
            refit, the same vectorizer.
        classifier: the final estimator, used as given.
        memory: passed to ``Pipeline``: a directory or ``joblib.Memory`` where fitted feature
            steps are cached, so a grid search over classifier settings featurises once.
    """
    steps = [(name, clone(step)) for name, step in feature_pipeline.steps]
    steps.append(("classifier", classifier))
    return Pipeline(steps, memory=memory)
