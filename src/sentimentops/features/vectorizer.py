"""A TF-IDF vectorizer whose saved form keeps the vocabulary as one UTF-8 buffer.

A word 1-3-gram model has about a million n-grams in ``vocabulary_``. skops writes a dict as
JSON with a typed object per key and value, which made the champion's model file hundreds of
megabytes and its loading slow and memory-hungry. Stored as the n-grams in column order, joined
by newlines, in one ``uint8`` array (a ``.npy`` inside the skops file), the vocabulary is read
back as one buffer and the dict rebuilt on load (the saved champion is 26.5 MiB and loads with
a 439 MiB peak: ``make bench-model``, BENCHMARKS.md). Nothing else changes: fitted on the same
data, it transforms exactly like ``TfidfVectorizer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["CompactTfidfVectorizer"]

_PACKED_VOCABULARY = "_vocabulary_utf8"
_SEPARATOR = "\n"


class CompactTfidfVectorizer(TfidfVectorizer):  # type: ignore[misc]
    """``TfidfVectorizer`` with a compact saved form (pickle, joblib and skops alike)."""

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        vocabulary = state.get("vocabulary_")
        # A term holding the separator could not be unpacked: keep such a vocabulary as it is.
        # With the project's pre-tokenised input (tokens are runs of non-space) none can.
        if isinstance(vocabulary, dict) and not any(_SEPARATOR in term for term in vocabulary):
            terms = [""] * len(vocabulary)
            for term, column in vocabulary.items():
                terms[column] = term
            packed = _SEPARATOR.join(terms).encode("utf-8")
            state = {key: value for key, value in state.items() if key != "vocabulary_"}
            state[_PACKED_VOCABULARY] = np.frombuffer(packed, dtype=np.uint8).copy()
            state["_vocabulary_size"] = len(terms)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        packed = state.pop(_PACKED_VOCABULARY, None)
        size = state.pop("_vocabulary_size", None)
        if packed is not None:
            terms = np.asarray(packed, dtype=np.uint8).tobytes().decode("utf-8")
            state["vocabulary_"] = (
                {term: column for column, term in enumerate(terms.split(_SEPARATOR))}
                if size
                else {}
            )
        super().__setstate__(state)
