"""Fitting with integer n-gram keys: the fitted vectorizer is the one scikit-learn fits."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from sentimentops.features.ngram_counts import count_corpus
from sentimentops.features.text import TextCleaner
from sentimentops.features.vectorizer import CompactTfidfVectorizer

PRE_TOKENISED = {"token_pattern": r"\S+", "lowercase": False, "dtype": np.float32}


def assert_fitted_alike(options: dict[str, Any], documents: list[str]) -> None:
    fast = CompactTfidfVectorizer(**PRE_TOKENISED, **options)
    reference = TfidfVectorizer(**PRE_TOKENISED, **options)

    fast_matrix = fast.fit_transform(documents)
    reference_matrix = reference.fit_transform(documents)

    assert fast.vocabulary_ == reference.vocabulary_
    if reference.use_idf:
        np.testing.assert_array_equal(fast.idf_, reference.idf_)
    assert type(fast_matrix) is type(reference_matrix)
    assert fast_matrix.dtype == reference_matrix.dtype
    assert (fast_matrix != reference_matrix).nnz == 0
    np.testing.assert_array_equal(fast_matrix.indices, reference_matrix.indices)


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 3), "min_df": 2},
        {"ngram_range": (1, 2), "min_df": 2, "max_df": 0.5, "binary": True},
        {"ngram_range": (1, 1), "min_df": 5, "max_df": 0.9, "max_features": 300},
        {"ngram_range": (2, 3), "min_df": 0.01, "max_features": 2000, "sublinear_tf": True},
        {"ngram_range": (1, 2), "max_df": 40, "use_idf": False, "norm": "l1"},
    ],
)
def test_reviews_fit_exactly_like_scikit_learn(
    reference_reviews: pd.DataFrame, options: dict[str, Any]
) -> None:
    texts = reference_reviews["review"].sample(800, random_state=3).tolist()
    assert_fitted_alike(options, TextCleaner().fit_transform(texts).tolist())


TOKENS = st.sampled_from(["a", "b", "c", "not", "good", "é", "!", "a-b", "x\u00a0y"])


@settings(max_examples=150, deadline=None)
@given(
    documents=st.lists(st.lists(TOKENS, max_size=10).map(" ".join), min_size=1, max_size=10),
    low=st.integers(1, 3),
    extra=st.integers(0, 2),
    high=st.sampled_from([1.0, 0.7, 5]),
    limit=st.sampled_from([None, 1, 3, 8]),
    binary=st.booleans(),
)
def test_any_token_soup_fits_like_scikit_learn_or_fails_with_its_error(
    documents: list[str], low: int, extra: int, high: float, limit: int | None, binary: bool
) -> None:
    options = {
        "ngram_range": (low, low + extra),
        "min_df": 2 if low == 2 else 1,
        "max_df": high,
        "max_features": limit,
        "binary": binary,
    }
    try:
        TfidfVectorizer(**PRE_TOKENISED, **options).fit(documents)
    except ValueError as error:  # an empty vocabulary, or one pruned to nothing
        with pytest.raises(ValueError, match=re.escape(str(error)[:30])):
            CompactTfidfVectorizer(**PRE_TOKENISED, **options).fit(documents)
        return
    assert_fitted_alike(options, documents)


def test_documents_that_are_not_text_take_scikit_learn_s_own_path() -> None:
    with pytest.raises(ValueError, match=r"np\.nan is an invalid document"):
        CompactTfidfVectorizer(**PRE_TOKENISED).fit(["a good film", np.nan])


def test_corpus_counts_name_their_columns_and_never_span_two_documents() -> None:
    corpus = count_corpus(["a b", "c a b"], (1, 2), str.split)
    assert corpus is not None

    terms = corpus.terms(np.arange(corpus.counts.shape[1]))

    assert sorted(terms) == ["a", "a b", "b", "c", "c a"]  # no "b c" across the boundary
    frequencies = dict(zip(terms, corpus.document_frequencies().tolist(), strict=True))
    assert frequencies == {"a": 2, "b": 2, "a b": 2, "c": 1, "c a": 1}
