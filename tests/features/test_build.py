"""Tests of the feature and model pipelines built from settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import skops.io
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sentimentops.config import FeatureSettings, PreprocessingSettings, TfidfSettings
from sentimentops.features.build import build_feature_pipeline, build_model_pipeline
from sentimentops.features.nb import NBLogCountRatio
from sentimentops.features.text import TextCleaner

POSITIVE = [
    "Great wonderful film, I loved it!",
    "Wonderful acting and a great story. Loved it.",
    "Loved it: a great, wonderful movie.",
    "Great fun, a wonderful cast, loved it<br /><br />See it!",
    "I didn't expect it, but it's great and wonderful. Loved it.",
    "A wonderful, great surprise &amp; I loved it.",
]
NEGATIVE = [
    "Awful boring film, I hated it.",
    "Boring plot and awful acting. Hated it.",
    "Hated it: an awful, boring movie.",
    "Awful mess, a boring cast, hated it<br /><br />Skip it.",
    "I didn't like it, it's awful and boring. Hated it.",
    "A boring, awful waste &amp; I hated it.",
]
TEXTS = POSITIVE + NEGATIVE
LABELS = np.array([1] * len(POSITIVE) + [0] * len(NEGATIVE))
UNSEEN = ["What a great, wonderful film. Loved it!", "Boring and awful. I hated it."]


def _model(nb_weighting: bool) -> Pipeline:
    features = build_feature_pipeline(
        PreprocessingSettings(), FeatureSettings(nb_weighting=nb_weighting)
    )
    return build_model_pipeline(features, LogisticRegression())


def test_default_feature_pipeline_cleans_then_vectorises() -> None:
    pipeline = build_feature_pipeline(PreprocessingSettings(), FeatureSettings())

    assert [name for name, _ in pipeline.steps] == ["clean", "tfidf"]
    assert isinstance(pipeline.named_steps["clean"], TextCleaner)
    tfidf = pipeline.named_steps["tfidf"]
    # TextCleaner already lowercased and tokenised: the vectorizer must not redo either.
    assert tfidf.lowercase is False
    assert tfidf.token_pattern == r"\S+"
    assert tfidf.tokenizer is None
    assert tfidf.dtype == np.float32


def test_nb_weighting_adds_the_nb_step_with_its_alpha() -> None:
    pipeline = build_feature_pipeline(
        PreprocessingSettings(), FeatureSettings(nb_weighting=True, nb_alpha=0.25)
    )

    assert [name for name, _ in pipeline.steps] == ["clean", "tfidf", "nb"]
    assert isinstance(pipeline.named_steps["nb"], NBLogCountRatio)
    assert pipeline.named_steps["nb"].alpha == 0.25


def test_tfidf_settings_are_passed_through() -> None:
    tfidf_settings = TfidfSettings(
        ngram_range=(1, 3), min_df=1, max_df=0.9, sublinear_tf=False, max_features=100
    )

    pipeline = build_feature_pipeline(
        PreprocessingSettings(), FeatureSettings(tfidf=tfidf_settings)
    )

    params = pipeline.named_steps["tfidf"].get_params()
    assert params["ngram_range"] == (1, 3)
    assert params["min_df"] == 1
    assert params["max_df"] == 0.9
    assert params["sublinear_tf"] is False
    assert params["max_features"] == 100


def test_preprocessing_settings_are_passed_to_the_cleaner() -> None:
    preprocessing = PreprocessingSettings(
        strip_html=False,
        normalize_unicode=False,
        lowercase=False,
        remove_stopwords=True,
        keep_punctuation=False,
    )

    pipeline = build_feature_pipeline(preprocessing, FeatureSettings())

    assert pipeline.named_steps["clean"].get_params() == preprocessing.model_dump()


def test_ngram_range_reaches_the_vocabulary() -> None:
    unigrams = build_feature_pipeline(
        PreprocessingSettings(), FeatureSettings(tfidf=TfidfSettings(ngram_range=(1, 1)))
    ).fit(TEXTS)
    bigrams = build_feature_pipeline(PreprocessingSettings(), FeatureSettings()).fit(TEXTS)

    unigram_names = set(unigrams.get_feature_names_out())
    bigram_names = set(bigrams.get_feature_names_out())
    assert all(" " not in name for name in unigram_names)
    # Negation survives cleaning as its own token, so bigrams carry it.
    assert {"loved it", "did n't"} <= bigram_names
    assert unigram_names < bigram_names


@pytest.mark.parametrize("nb_weighting", [False, True])
def test_features_are_sparse_float32(nb_weighting: bool) -> None:
    pipeline = build_feature_pipeline(
        PreprocessingSettings(), FeatureSettings(nb_weighting=nb_weighting)
    )

    features = pipeline.fit_transform(TEXTS, LABELS)

    assert sp.issparse(features)
    assert features.format == "csr"
    assert features.dtype == np.float32
    assert features.shape == (len(TEXTS), len(pipeline.get_feature_names_out()))


def test_model_pipeline_is_flat_and_ends_with_the_classifier() -> None:
    features = build_feature_pipeline(PreprocessingSettings(), FeatureSettings(nb_weighting=True))
    classifier = LogisticRegression(C=3.0)

    model = build_model_pipeline(features, classifier)

    assert [name for name, _ in model.steps] == ["clean", "tfidf", "nb", "classifier"]
    assert model.named_steps["classifier"] is classifier
    assert model.get_params()["tfidf__min_df"] == 2
    assert model.get_params()["classifier__C"] == 3.0


def test_model_pipeline_owns_copies_of_the_feature_steps() -> None:
    features = build_feature_pipeline(PreprocessingSettings(), FeatureSettings())

    model = build_model_pipeline(features, LogisticRegression()).fit(TEXTS, LABELS)

    assert model.named_steps["tfidf"] is not features.named_steps["tfidf"]
    assert not hasattr(features.named_steps["tfidf"], "vocabulary_")


@pytest.mark.parametrize("nb_weighting", [False, True])
def test_model_pipeline_predicts_obvious_reviews_from_raw_text(nb_weighting: bool) -> None:
    model = _model(nb_weighting).fit(TEXTS, LABELS)

    assert model.predict(UNSEEN).tolist() == [1, 0]
    assert model.score(TEXTS, LABELS) == 1.0


def test_nb_weighting_scales_features_by_class_evidence() -> None:
    features = build_feature_pipeline(PreprocessingSettings(), FeatureSettings(nb_weighting=True))
    features.fit(TEXTS, LABELS)

    weights = dict(
        zip(features.get_feature_names_out(), features.named_steps["nb"].r_, strict=True)
    )
    assert weights["wonderful"] > 0 > weights["awful"]
    assert abs(weights["it"]) < abs(weights["wonderful"])


def test_memory_caches_the_feature_steps(tmp_path: Path) -> None:
    model = build_model_pipeline(
        build_feature_pipeline(PreprocessingSettings(), FeatureSettings()),
        LogisticRegression(),
        memory=str(tmp_path),
    )

    model.fit(TEXTS, LABELS)

    assert model.memory == str(tmp_path)
    assert any(tmp_path.rglob("*.pkl"))
    assert model.predict(UNSEEN).tolist() == [1, 0]


@pytest.mark.parametrize("nb_weighting", [False, True])
def test_clone_of_a_built_model_is_unfitted_and_fits_to_the_same_model(nb_weighting: bool) -> None:
    model = _model(nb_weighting).fit(TEXTS, LABELS)

    copy = clone(model)

    assert copy.get_params(deep=False)["steps"] is not model.steps
    assert not hasattr(copy.named_steps["tfidf"], "vocabulary_")
    copy.fit(TEXTS, LABELS)
    np.testing.assert_allclose(copy.predict_proba(UNSEEN), model.predict_proba(UNSEEN), rtol=1e-6)


def test_fitted_model_round_trips_through_skops_trusting_only_project_classes() -> None:
    model = _model(nb_weighting=True).fit(TEXTS, LABELS)
    dumped = skops.io.dumps(model)

    untrusted = skops.io.get_untrusted_types(data=dumped)

    # Everything else in the model (its float32 dtype, the regex string, the packed vocabulary)
    # is a type skops trusts by default: the model loads without pickle.
    assert sorted(untrusted) == [
        "sentimentops.features.nb.NBLogCountRatio",
        "sentimentops.features.text.TextCleaner",
        "sentimentops.features.vectorizer.CompactTfidfVectorizer",
    ]
    restored = skops.io.loads(dumped, trusted=untrusted)
    np.testing.assert_allclose(restored.predict_proba(UNSEEN), model.predict_proba(UNSEEN))
