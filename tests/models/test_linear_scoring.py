"""The linear scorer gives the probabilities scikit-learn's pipeline gives, for every linear
configuration the project trains, and stands aside for the others."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sentimentops.config import load_settings
from sentimentops.models.candidates import build_candidate
from sentimentops.models.linear_scoring import LinearScorer
from sentimentops.models.sentiment import SentimentPipeline
from sentimentops.tracking.flavor import load_pipeline

# float64 here, partly float32 in scikit-learn's steps: the two agree to about 1e-7.
TOLERANCE = 1e-6
EDGE_TEXTS = ["", "   ", "zzzunknown qqqnothing", "<br /><br />", "Not. Good. At. All!!!"]


@pytest.fixture(scope="module")
def train_and_unseen(reference_reviews: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    shuffled = reference_reviews.sample(2600, random_state=5)
    return shuffled.iloc[:2000], [*shuffled["review"].iloc[2000:].tolist(), *EDGE_TEXTS]


def fitted(family: str, train: pd.DataFrame, **params: Any) -> SentimentPipeline:
    pipeline = build_candidate(family, load_settings()).pipeline
    pipeline.set_params(**params)
    return pipeline.fit(train["review"].tolist(), train["sentiment"].to_numpy())


def assert_scored_like_scikit_learn(pipeline: SentimentPipeline, texts: list[str]) -> None:
    assert pipeline._linear_scorer() is not None  # the fast path is the one under test
    reference = pipeline.predict_proba(texts)[:, list(pipeline.classes_).index("positive")]
    fast = pipeline.positive_scores(texts)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=TOLERANCE)
    assert ((fast >= 0.5) == (reference >= 0.5)).all()


def test_the_trained_champion_family_scores_like_scikit_learn(
    trained_model: SentimentPipeline, train_and_unseen: tuple[pd.DataFrame, list[str]]
) -> None:
    assert_scored_like_scikit_learn(trained_model, train_and_unseen[1])


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("logreg", {}),
        ("logreg", {"tfidf__norm": "l1"}),
        ("logreg", {"tfidf__norm": None, "tfidf__sublinear_tf": False}),
        ("logreg", {"tfidf__binary": True, "tfidf__use_idf": False}),
        ("nb_logreg", {"tfidf__smooth_idf": False, "nb__binarize": False}),
        ("nb_logreg", {"tfidf__ngram_range": (2, 3)}),
    ],
)
def test_every_linear_configuration_scores_like_scikit_learn(
    train_and_unseen: tuple[pd.DataFrame, list[str]], family: str, params: dict[str, Any]
) -> None:
    train, unseen = train_and_unseen
    assert_scored_like_scikit_learn(fitted(family, train, **params), unseen)


def test_texts_with_nothing_left_after_cleaning_score_nan_and_the_rest_as_before(
    trained_model: SentimentPipeline,
) -> None:
    texts = ["A wonderful film.", "", "<p> </p>", "Dreadful."]
    scores = trained_model.positive_scores_or_nan(texts)
    assert np.isnan(scores[[1, 2]]).all()
    np.testing.assert_allclose(
        scores[[0, 3]], trained_model.positive_scores([texts[0], texts[3]]), atol=1e-12
    )


def test_the_other_class_s_probability_is_its_complement(trained_model: SentimentPipeline) -> None:
    texts = ["A wonderful film.", "Dreadful, boring, a waste of time."]
    negative = LinearScorer.of(trained_model.steps, "negative")
    assert negative is not None
    cleaned = trained_model.named_steps["clean"].transform(texts)
    np.testing.assert_allclose(
        negative.scores(cleaned), trained_model.predict_proba(texts)[:, 0], atol=TOLERANCE
    )


def test_a_forest_or_a_calibrated_svm_is_left_to_scikit_learn(
    train_and_unseen: tuple[pd.DataFrame, list[str]],
) -> None:
    train, unseen = train_and_unseen
    for family in ("random_forest", "linear_svm"):
        pipeline = fitted(family, train.iloc[:600])
        assert pipeline._linear_scorer() is None
        np.testing.assert_array_equal(
            pipeline.positive_scores(unseen[:50]), pipeline.predict_proba(unseen[:50])[:, 1]
        )


def test_a_refit_replaces_the_scorer(train_and_unseen: tuple[pd.DataFrame, list[str]]) -> None:
    train, unseen = train_and_unseen
    pipeline = fitted("logreg", train.iloc[:800])
    first = pipeline._linear_scorer()
    pipeline.fit(train["review"].iloc[800:].tolist(), train["sentiment"].iloc[800:].to_numpy())

    assert pipeline._linear_scorer() is not first
    assert_scored_like_scikit_learn(pipeline, unseen[:100])


def test_parameters_changed_after_fitting_score_as_scikit_learn_then_scores(
    train_and_unseen: tuple[pd.DataFrame, list[str]],
) -> None:
    # TF-IDF's norm and sublinear_tf are fixed at fit (in the inner transformer); binary is
    # read by every transform. The scorer must follow scikit-learn in both cases.
    train, unseen = train_and_unseen
    pipeline = fitted("logreg", train.iloc[:800])
    pipeline.positive_scores(unseen[:5])  # a scorer is built and cached

    pipeline.set_params(tfidf__norm="l1", tfidf__sublinear_tf=False)
    assert_scored_like_scikit_learn(pipeline, unseen[:100])
    pipeline.set_params(tfidf__binary=True)
    assert_scored_like_scikit_learn(pipeline, unseen[:100])


def test_an_unfitted_pipeline_raises_scikit_learn_s_not_fitted_error() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        build_candidate("logreg", load_settings()).pipeline.positive_scores(["a film"])


def test_the_scorer_is_derived_state_never_saved(trained_model: SentimentPipeline) -> None:
    trained_model.positive_scores(["a film"])
    restored = pickle.loads(pickle.dumps(trained_model))
    assert "_linear_scorer_cache" not in restored.__dict__
    # Saving leaves the running pipeline's scorer and index in place.
    assert "_linear_scorer_cache" in trained_model.__dict__
    assert "_ngram_index_cache" in trained_model.named_steps["tfidf"].__dict__
    np.testing.assert_array_equal(
        restored.positive_scores(["a fine film"]), trained_model.positive_scores(["a fine film"])
    )


def test_a_loaded_model_has_its_scorer_before_its_first_prediction(model_folder: Path) -> None:
    pipeline = load_pipeline(str(model_folder))
    assert pipeline.__dict__["_linear_scorer_cache"][1] is not None
