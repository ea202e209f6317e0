"""The compact TF-IDF vectorizer: same features as TfidfVectorizer, a small saved form."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io
from sklearn.feature_extraction.text import TfidfVectorizer

from sentimentops.features.vectorizer import CompactTfidfVectorizer

OPTIONS = {"ngram_range": (1, 3), "min_df": 2, "token_pattern": r"\S+", "lowercase": False}


def test_transforms_exactly_like_tfidf_and_survives_skops(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    texts = reference_reviews["review"].head(2000).str.lower().tolist()
    compact = CompactTfidfVectorizer(**OPTIONS).fit(texts)
    plain = TfidfVectorizer(**OPTIONS).fit(texts)

    compact_file, plain_file = tmp_path / "compact.skops", tmp_path / "plain.skops"
    skops.io.dump(compact, compact_file)
    skops.io.dump(plain, plain_file)
    loaded = skops.io.load(
        compact_file, trusted=["sentimentops.features.vectorizer.CompactTfidfVectorizer"]
    )

    assert loaded.vocabulary_ == plain.vocabulary_
    assert (loaded.transform(texts[:200]) != plain.transform(texts[:200])).nnz == 0
    np.testing.assert_array_equal(loaded.get_feature_names_out(), plain.get_feature_names_out())
    # The dict as skops JSON is the bulk of a model file; packed it is a fraction of it.
    assert compact_file.stat().st_size < plain_file.stat().st_size / 3


def test_pickle_round_trip_and_unfitted_or_empty_state() -> None:
    fitted = CompactTfidfVectorizer(**OPTIONS).fit(["a b c a b", "b c d b c", "caf\u00e9 b c"])
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.vocabulary_ == fitted.vocabulary_

    unfitted = pickle.loads(pickle.dumps(CompactTfidfVectorizer(**OPTIONS)))
    assert not hasattr(unfitted, "vocabulary_")

    empty = CompactTfidfVectorizer(**OPTIONS)
    empty.vocabulary_ = {}
    assert pickle.loads(pickle.dumps(empty)).vocabulary_ == {}


def test_a_loaded_vectorizer_scores_without_building_its_vocabulary_dict(
    reference_reviews: pd.DataFrame,
) -> None:
    """The dict of a million n-grams took most of a model's load; the saved index counts
    without it, so it is built only when a term is looked up, and saved again unchanged."""
    texts = reference_reviews["review"].head(500).str.lower().tolist()
    fitted = CompactTfidfVectorizer(**OPTIONS).fit(texts)
    loaded = pickle.loads(pickle.dumps(fitted))

    assert (loaded.transform(texts[:100]) != fitted.transform(texts[:100])).nnz == 0
    assert loaded.vocabulary_._terms is None  # scored, and the dict was never built
    assert len(loaded.vocabulary_) == len(fitted.vocabulary_)

    assert dict(loaded.vocabulary_) == fitted.vocabulary_  # a lookup builds it
    again = pickle.loads(pickle.dumps(loaded))
    assert dict(again.vocabulary_) == fitted.vocabulary_
    assert (again.transform(texts[:100]) != fitted.transform(texts[:100])).nnz == 0


def test_the_index_a_fit_leaves_counts_unseen_reviews_like_scikit_learn_after_a_refit_too(
    reference_reviews: pd.DataFrame,
) -> None:
    texts = reference_reviews["review"].head(2000).str.lower().tolist()
    first, second = texts[:1200], texts[1200:]
    for options in (OPTIONS, {**OPTIONS, "ngram_range": (1, 2), "max_df": 0.4}):
        compact = CompactTfidfVectorizer(**options)
        for train, unseen in ((first, second), (second, first)):
            compact.fit(train)
            plain = TfidfVectorizer(**options).fit(train)

            # Left by the fit itself, for the vocabulary it fitted (not built from the terms).
            assert compact.__dict__["_ngram_index_cache"][0] is compact.vocabulary_
            assert compact.vocabulary_ == plain.vocabulary_
            assert (compact.transform(unseen) != plain.transform(unseen)).nnz == 0


def test_a_vocabulary_cut_to_max_features_builds_its_index_from_the_terms_it_kept(
    reference_reviews: pd.DataFrame,
) -> None:
    texts = reference_reviews["review"].head(600).str.lower().tolist()
    options = {**OPTIONS, "max_features": 500}
    compact = CompactTfidfVectorizer(**options).fit(texts[:400])
    plain = TfidfVectorizer(**options).fit(texts[:400])

    assert "_ngram_index_cache" not in compact.__dict__
    assert (compact.transform(texts[400:]) != plain.transform(texts[400:])).nnz == 0
    index = compact.ngram_index()
    assert index is not None
    assert index.n_features == 500
