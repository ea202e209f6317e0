"""Count every word n-gram of a corpus with integer keys: the fitting side of :mod:`ngram_index`
(why: docs/decisions.md, "N-grams as integer keys")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import scipy.sparse as sp

from sentimentops.features.ngram_index import window_keys

__all__ = ["CorpusCounts", "count_corpus"]

_MAX_KEY = 2**63 - 1


@dataclass(frozen=True)
class CorpusCounts:
    """Each document's count of each distinct n-gram (a column each), and their names."""

    counts: sp.csr_matrix
    keys: np.ndarray  # the n-gram key of each column, in no particular order
    first_seen: np.ndarray  # each column's first place in scikit-learn's stream of n-grams
    tokens: list[str]  # token by id; id 0 is the document boundary, never a token
    base: int

    def document_frequencies(self) -> np.ndarray:
        return np.bincount(self.counts.indices, minlength=self.counts.shape[1])

    def terms(self, columns: np.ndarray) -> list[str]:
        """The space-joined n-gram of each column."""
        ids_by_position: list[list[int]] = []
        keys = self.keys[columns]
        while keys.any():
            keys, ids = np.divmod(keys, self.base)
            ids_by_position.append(ids.tolist())
        tokens = self.tokens
        return [
            " ".join(tokens[i] for i in reversed(ids) if i)
            for ids in zip(*ids_by_position, strict=True)
        ]


def count_corpus(
    documents: Sequence[str], ngram_range: tuple[int, int], tokenize: Callable[[str], list[str]]
) -> CorpusCounts | None:
    """The n-gram counts of ``documents`` split by ``tokenize``, or None when the keys would not
    fit in 63 bits (a vocabulary far beyond any review corpus)."""
    split = [tokenize(document) for document in documents]
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    words = list(chain.from_iterable(split))
    tokens = ["", *dict.fromkeys(words)]  # first-seen order; 0 marks a document boundary
    base = len(tokens)
    min_n, max_n = ngram_range
    if base**max_n > _MAX_KEY:
        return None
    ids_of = {token: i for i, token in enumerate(tokens)}
    # One sequence of ids with a 0 after every document, so no window spans two documents.
    sequence = np.zeros(len(words) + len(split), dtype=np.int64)
    positions = np.arange(len(words)) + np.repeat(np.arange(len(split)), lengths)
    sequence[positions] = np.fromiter(map(ids_of.__getitem__, words), np.int64, len(words))
    document_of = np.repeat(np.arange(len(split), dtype=np.int64), lengths + 1)
    place_in_document = np.arange(len(sequence)) - np.repeat(
        np.cumsum(lengths + 1) - lengths - 1, lengths + 1
    )
    # scikit-learn analyses a document as its unigrams, then its bigrams...: first appearance in
    # that stream decides the order of each row's entries in its matrix.
    stride = int(lengths.max(initial=0)) + 1
    rows, keys, places = [], [], []
    for n in range(min_n, max_n + 1):
        key, inside = window_keys(sequence, n, base)
        windows = len(key)
        if not windows:
            continue
        document = document_of[:windows][inside]
        rows.append(document)
        keys.append(key[inside])
        stream = (n - min_n) * stride + place_in_document[:windows][inside]
        places.append(document * (max_n - min_n + 1) * stride + stream)
    import pandas as pd  # fitting only: a loaded model scores without it

    all_keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    # Hashing, not sorting: a fold's 20M keys take 1 s instead of 5 s; columns get any order.
    columns, distinct = pd.factorize(all_keys)
    first_seen = np.full(len(distinct), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_seen, columns, np.concatenate(places or [all_keys]))
    counts = sp.csr_matrix(
        (np.ones(len(all_keys), dtype=np.int64), (np.concatenate(rows or [all_keys]), columns)),
        shape=(len(split), len(distinct)),
    )
    counts.sum_duplicates()
    return CorpusCounts(counts, distinct, first_seen, tokens, base)
