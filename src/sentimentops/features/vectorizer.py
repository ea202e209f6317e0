"""A ``TfidfVectorizer`` saved with its vocabulary as one UTF-8 buffer and counting through an
:class:`NgramIndex`: the same matrices, faster (docs/decisions.md, "Features and models")."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from sentimentops.features.ngram_counts import count_corpus
from sentimentops.features.ngram_index import NgramIndex

__all__ = ["CompactTfidfVectorizer", "PackedVocabulary"]

_PACKED_VOCABULARY = "_vocabulary_utf8"
_SEPARATOR = "\n"
_INDEX = "_ngram_index_cache"  # (the vocabulary it was built from, the index)
_SAVED_INDEX = "_ngram_index_state"  # the index as saved with the model
_FITTED_KEYS = "_fitted_ngram_keys"  # within one fit: the corpus tokens and kept keys
_index_lock = threading.Lock()


class PackedVocabulary(Mapping[str, int]):
    """A loaded model's ``vocabulary_``: the saved buffer, made a dict only on a first lookup
    (which scoring, through the saved n-gram index, never makes)."""

    def __init__(self, packed: np.ndarray, size: int) -> None:
        self.packed = packed
        self.size = size
        self._terms: dict[str, int] | None = None

    def terms(self) -> dict[str, int]:
        """The vocabulary as a dict, built once."""
        if self._terms is None:
            self._terms = dict(zip(self._words(), range(self.size), strict=True))
        return self._terms

    def _words(self) -> list[str]:
        text = np.asarray(self.packed, dtype=np.uint8).tobytes().decode("utf-8")
        return text.split(_SEPARATOR) if self.size else []

    def __getitem__(self, term: str) -> int:
        return self.terms()[term]

    def __iter__(self) -> Iterator[str]:
        # Walking the n-grams (monitoring's unigrams) needs no dict.
        return iter(self._terms if self._terms is not None else self._words())

    def __len__(self) -> int:
        return self.size


class CompactTfidfVectorizer(TfidfVectorizer):  # type: ignore[misc]
    """``TfidfVectorizer`` with a compact saved form (pickle, joblib and skops alike)."""

    def transform(self, raw_documents: Any) -> Any:
        index = self.ngram_index()
        if index is None:
            return super().transform(raw_documents)
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        counts = index.counts(raw_documents, self.dtype)
        if self.binary:
            counts.data.fill(1)
        return self._tfidf.transform(counts, copy=False)

    def ngram_index(self) -> NgramIndex | None:
        """The fast counter of the fitted vocabulary (built on first use, rebuilt after a refit),
        or None unless the input is pre-tokenised, where it counts exactly like scikit-learn."""
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        vocabulary = getattr(self, "vocabulary_", None)
        built: tuple[dict[str, int], NgramIndex | None] | None = self.__dict__.get(_INDEX)
        if built is not None and built[0] is vocabulary:
            return built[1]  # the common case: no lock
        if not self._pre_tokenised() or not vocabulary:
            return None
        with _index_lock:  # one build, even when several threads score the first batch at once
            built = self.__dict__.get(_INDEX)
            if built is None or built[0] is not vocabulary:  # refitted: a new vocabulary
                # Tokens are runs of non-whitespace: what str.split finds, at twice the speed of
                # the regular expression (both use Python's Unicode whitespace).
                built = (vocabulary, NgramIndex.build(vocabulary, self.ngram_range, str.split))
                self.__dict__[_INDEX] = built
        return built[1]

    def _count_vocab(self, raw_documents: Any, fixed_vocab: bool) -> tuple[dict[str, int], Any]:
        """What ``fit`` counts, with integer keys and pruned by document frequency; scikit-learn's
        own rules then leave it as they would the full vocabulary."""
        self.__dict__.pop(_FITTED_KEYS, None)
        if fixed_vocab or not self._pre_tokenised() or isinstance(raw_documents, str):
            return super()._count_vocab(raw_documents, fixed_vocab)  # type: ignore[no-any-return]
        documents = list(raw_documents)
        corpus = (
            count_corpus(documents, self.ngram_range, str.split)
            if all(isinstance(document, str) for document in documents)
            else None  # bytes or NaN: scikit-learn decodes or refuses them itself
        )
        if corpus is None:
            return super()._count_vocab(documents, fixed_vocab)  # type: ignore[no-any-return]
        frequencies = corpus.document_frequencies()
        n_documents = len(documents)
        low = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n_documents
        high = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n_documents
        kept = np.flatnonzero((frequencies >= low) & (frequencies <= high))
        if len(kept) == 0 or high < low:
            # scikit-learn's own error for an empty or impossible vocabulary, word for word.
            return super()._count_vocab(documents, fixed_vocab)  # type: ignore[no-any-return]
        # Columns numbered by first appearance, as scikit-learn numbers them before sorting
        # its vocabulary: its next steps then leave every row's entries in its own order.
        kept = kept[np.argsort(corpus.first_seen[kept], kind="stable")]
        vocabulary = dict(zip(corpus.terms(kept), range(len(kept)), strict=True))
        counts = corpus.counts[:, kept].astype(self.dtype)
        counts.sort_indices()
        self.__dict__[_FITTED_KEYS] = (corpus.tokens, corpus.keys[kept])
        return vocabulary, counts

    def _limit_features(self, X: Any, vocabulary: dict[str, int], *limits: Any) -> Any:
        if _FITTED_KEYS in self.__dict__ and self.max_features is None:
            return X  # _count_vocab pruned by document frequency already: a loop over every term
        return super()._limit_features(X, vocabulary, *limits)

    def _sort_features(self, X: Any, vocabulary: dict[str, int]) -> Any:
        X = super()._sort_features(X, vocabulary)
        fitted = self.__dict__.pop(_FITTED_KEYS, None)
        if fitted is not None and self.max_features is None:  # sorting is then fit's last step
            tokens, keys = fitted
            # Sorting renumbered the terms in place: the dict keeps _count_vocab's order.
            columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
            index = NgramIndex.from_corpus(tokens, keys, columns, self.ngram_range, str.split)
            self.__dict__[_INDEX] = (vocabulary, index)  # building it from the terms took seconds
        return X

    def _pre_tokenised(self) -> bool:
        """Whether the input is cleaned text split on whitespace, with no analysis left here."""
        return bool(
            self.analyzer == "word"
            and self.input == "content"
            and self.token_pattern == r"\S+"
            and self.tokenizer is None
            and self.preprocessor is None
            and self.stop_words is None
            and not self.lowercase
            and self.strip_accents is None
        )

    def __getstate__(self) -> dict[str, Any]:
        # A copy without the index: scikit-learn's __getstate__ may return the live __dict__.
        state = {
            key: value
            for key, value in super().__getstate__().items()
            if key not in (_INDEX, _FITTED_KEYS)
        }
        vocabulary = state.get("vocabulary_")
        if isinstance(vocabulary, PackedVocabulary):  # loaded and saved again: already packed
            packed, size = vocabulary.packed, len(vocabulary)
        # A term holding the separator could not be unpacked: keep such a vocabulary as it is.
        # With the project's pre-tokenised input (tokens are runs of non-space) none can.
        elif isinstance(vocabulary, dict) and not any(_SEPARATOR in term for term in vocabulary):
            terms = [""] * len(vocabulary)
            for term, column in vocabulary.items():
                terms[column] = term
            packed = np.frombuffer(_SEPARATOR.join(terms).encode("utf-8"), dtype=np.uint8).copy()
            size = len(terms)
        else:
            return state
        state = {key: value for key, value in state.items() if key != "vocabulary_"}
        state[_PACKED_VOCABULARY] = packed
        state["_vocabulary_size"] = size
        # Saved with the model: building it again at every load took seconds.
        index = self.ngram_index()
        if index is not None:
            state[_SAVED_INDEX] = index.to_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        packed = state.pop(_PACKED_VOCABULARY, None)
        size = state.pop("_vocabulary_size", None)
        if packed is not None:
            state["vocabulary_"] = PackedVocabulary(packed, size or 0)
        saved_index = state.pop(_SAVED_INDEX, None)
        super().__setstate__(state)
        vocabulary: Mapping[str, int] | None = self.__dict__.get("vocabulary_")
        if saved_index is not None and vocabulary is not None and self._pre_tokenised():
            index = NgramIndex.from_state(saved_index, str.split)
            if index is not None and index.n_features == len(vocabulary):
                self.__dict__[_INDEX] = (vocabulary, index)
        if isinstance(vocabulary, PackedVocabulary) and _INDEX not in self.__dict__:
            # Without the index scikit-learn looks every n-gram up: a dict, not a Mapping.
            self.__dict__["vocabulary_"] = vocabulary.terms()
