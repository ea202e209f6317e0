"""The fast n-gram counter behind CompactTfidfVectorizer.transform: exactly scikit-learn's
matrix (same indices, same values), on real reviews and on generated token soups."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from sentimentops.features.ngram_index import NgramIndex
from sentimentops.features.vectorizer import CompactTfidfVectorizer
from sentimentops.tracking.flavor import load_pipeline

PRE_TOKENISED = {"token_pattern": r"\S+", "lowercase": False}


def assert_identical(fast: sp.spmatrix, reference: sp.spmatrix) -> None:
    fast, reference = sp.csr_matrix(fast), sp.csr_matrix(reference)
    assert fast.shape == reference.shape
    assert fast.dtype == reference.dtype
    np.testing.assert_array_equal(fast.indptr, reference.indptr)
    np.testing.assert_array_equal(fast.indices, reference.indices)
    np.testing.assert_array_equal(fast.data, reference.data)


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (1, 3), (2, 3)])
@pytest.mark.parametrize("binary", [False, True])
def test_unseen_reviews_transform_exactly_like_scikit_learn(
    reference_reviews: pd.DataFrame, ngram_range: tuple[int, int], binary: bool
) -> None:
    texts = reference_reviews["review"].str.lower().tolist()
    options = PRE_TOKENISED | {"ngram_range": ngram_range, "min_df": 2, "binary": binary}
    vectorizer = CompactTfidfVectorizer(**options, dtype=np.float32).fit(texts[:1500])
    unseen = [*texts[1500:1800], "", "   ", "zzzunknown qqqnothing", "the the the"]

    assert vectorizer.ngram_index() is not None  # the fast path is the one under test
    assert_identical(vectorizer.transform(unseen), TfidfVectorizer.transform(vectorizer, unseen))


TOKENS = st.sampled_from(["a", "b", "c", "d", "not", "good", "bad", "é", "!", "a-b"])


@settings(max_examples=60, deadline=None)
@given(
    fit_docs=st.lists(st.lists(TOKENS, max_size=12).map(" ".join), min_size=1, max_size=8),
    docs=st.lists(st.lists(TOKENS | st.just("unseen"), max_size=15).map(" ".join), max_size=6),
    low=st.integers(1, 3),
    extra=st.integers(0, 2),
)
def test_counts_equal_count_vectorizer_on_any_token_soup(
    fit_docs: list[str], docs: list[str], low: int, extra: int
) -> None:
    counter = CountVectorizer(**PRE_TOKENISED, ngram_range=(low, low + extra))
    try:
        counter.fit(fit_docs)
    except ValueError:  # no n-gram at all in the fit documents: nothing to index
        return
    index = NgramIndex.build(counter.vocabulary_, counter.ngram_range, str.split)
    assert index is not None
    assert_identical(index.counts(docs, np.int64), counter.transform(docs).astype(np.int64))


def test_a_refit_rebuilds_the_index_for_the_new_vocabulary() -> None:
    vectorizer = CompactTfidfVectorizer(**PRE_TOKENISED).fit(["good film", "bad film"])
    assert vectorizer.transform(["good film"]).nnz == 2
    vectorizer.fit(["great plot", "dull plot"])
    assert vectorizer.transform(["great plot"]).nnz == 2
    assert vectorizer.transform(["good film"]).nnz == 0


def test_a_loaded_model_has_its_index_built_before_its_first_prediction(
    model_folder: Path,
) -> None:
    pipeline = load_pipeline(str(model_folder))
    assert "_ngram_index_cache" in pipeline.named_steps["tfidf"].__dict__


def test_the_index_is_saved_with_the_vectorizer_and_read_back_not_rebuilt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectorizer = CompactTfidfVectorizer(**PRE_TOKENISED).fit(["good film", "bad film"])
    vectorizer.transform(["good film"])

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was built again at load")

    monkeypatch.setattr(NgramIndex, "build", no_build)
    restored = pickle.loads(pickle.dumps(vectorizer))

    assert "_ngram_index_cache" in restored.__dict__
    assert_identical(restored.transform(["bad film"]), vectorizer.transform(["bad film"]))


def test_an_index_saved_in_another_format_is_built_again() -> None:
    vectorizer = CompactTfidfVectorizer(**PRE_TOKENISED).fit(["good film", "bad film"])
    state = vectorizer.__getstate__()
    state["_ngram_index_state"]["format"] = -1
    restored = CompactTfidfVectorizer.__new__(CompactTfidfVectorizer)
    restored.__setstate__(state)

    assert "_ngram_index_cache" not in restored.__dict__
    assert_identical(restored.transform(["bad film"]), vectorizer.transform(["bad film"]))


def test_analysis_inside_the_vectorizer_takes_scikit_learn_s_own_path() -> None:
    for options in (
        PRE_TOKENISED | {"stop_words": ["film"]},
        PRE_TOKENISED | {"lowercase": True},
        {"token_pattern": r"[^,]+", "lowercase": False},  # a token could hold a space
        {"analyzer": "char", "lowercase": False},
    ):
        vectorizer = CompactTfidfVectorizer(**options).fit(["Good film", "bad"])
        assert vectorizer.ngram_index() is None
        assert_identical(
            vectorizer.transform(["Good film"]),
            TfidfVectorizer.transform(vectorizer, ["Good film"]),
        )


def test_a_single_string_is_refused_as_scikit_learn_does() -> None:
    vectorizer = CompactTfidfVectorizer(**PRE_TOKENISED).fit(["good film", "bad film"])
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        vectorizer.transform("good film")
