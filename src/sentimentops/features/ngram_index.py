"""Count a fitted vocabulary's word n-grams as integer keys looked up with NumPy: exactly
``CountVectorizer.transform``'s counts (docs/decisions.md, "N-grams as integer keys")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from sentimentops.features.key_table import KeyTable

__all__ = ["STATE_FORMAT", "NgramIndex", "window_keys"]

_MAX_KEY = 2**63 - 1
# The layout of a saved index (KeyTable's hashing included): another one is rebuilt, not read.
STATE_FORMAT = 1


class NgramIndex:
    """A fitted vocabulary of space-joined word n-grams, as a table of integer keys."""

    def __init__(
        self,
        token_ids: dict[str, int],
        columns_by_key: KeyTable,
        ngram_range: tuple[int, int],
        tokenize: Callable[[str], list[str]],
    ) -> None:
        self.token_ids = token_ids
        self.base = len(token_ids) + 1
        self.columns_by_key = columns_by_key
        self.min_n, self.max_n = ngram_range
        self.tokenize = tokenize
        self.n_features = len(columns_by_key)

    @classmethod
    def build(
        cls,
        vocabulary: Mapping[str, int],
        ngram_range: tuple[int, int],
        tokenize: Callable[[str], list[str]],
    ) -> NgramIndex | None:
        """The index of a fitted vocabulary (``tokenize`` splitting as the vectorizer did), or
        None when its keys would not fit in 63 bits (no realistic vocabulary)."""
        # Terms split twice: a list of every split term raised the loading peak by hundreds of MiB.
        token_ids: dict[str, int] = {}
        for term in vocabulary:
            for token in term.split(" "):
                token_ids.setdefault(token, len(token_ids) + 1)
        base = len(token_ids) + 1
        if base ** ngram_range[1] > _MAX_KEY:
            return None
        keys = np.fromiter(
            (_key(term.split(" "), token_ids, base) for term in vocabulary),
            dtype=np.int64,
            count=len(vocabulary),
        )
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        return cls(token_ids, KeyTable(keys, columns), ngram_range, tokenize)

    @classmethod
    def from_corpus(
        cls,
        tokens: list[str],
        keys: np.ndarray,
        columns: np.ndarray,
        ngram_range: tuple[int, int],
        tokenize: Callable[[str], list[str]],
    ) -> NgramIndex:
        """The index of the n-grams a fit counted: ``tokens`` by id (id 0 the boundary) and each
        kept n-gram's key in that numbering, with its column (see :func:`count_corpus`)."""
        token_ids = dict(zip(tokens[1:], range(1, len(tokens)), strict=True))
        return cls(token_ids, KeyTable(keys, columns), ngram_range, tokenize)

    def to_state(self) -> dict[str, Any]:
        """What :meth:`from_state` needs to restore this index without building it again."""
        tokens = [""] * self.base
        for token, token_id in self.token_ids.items():
            tokens[token_id] = token
        packed = "\n".join(tokens[1:]).encode("utf-8")
        return {
            "format": STATE_FORMAT,
            "tokens": np.frombuffer(packed, dtype=np.uint8).copy(),
            "ngram_range": [self.min_n, self.max_n],
            **self.columns_by_key.slots(),
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], tokenize: Callable[[str], list[str]]
    ) -> NgramIndex | None:
        """The index :meth:`to_state` saved, or None when it was saved in another format."""
        if state.get("format") != STATE_FORMAT:
            return None
        text = np.asarray(state["tokens"], dtype=np.uint8).tobytes().decode("utf-8")
        token_ids = {token: i for i, token in enumerate(text.split("\n"), start=1)} if text else {}
        table = KeyTable.from_slots({"keys": state["keys"], "values": state["values"]})
        low, high = state["ngram_range"]
        return cls(token_ids, table, (int(low), int(high)), tokenize)

    def counts(self, documents: Iterable[str], dtype: type) -> sp.csr_matrix:
        """The documents' n-gram counts, one row each, columns as in the vocabulary."""
        rows, columns, n_documents = self.occurrences(documents)
        matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=dtype), (rows, columns)),
            shape=(n_documents, self.n_features),
            dtype=dtype,
        )
        matrix.sum_duplicates()  # counts; also sorts the indices, as scikit-learn's are
        return matrix

    def occurrences(self, documents: Iterable[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Each vocabulary n-gram occurrence as parallel (row, column) arrays, unordered, with
        repeats; and the number of documents."""
        token_ids, tokenize = self.token_ids, self.tokenize
        ids: list[int] = []
        lengths: list[int] = []
        for document in documents:
            tokens = tokenize(document)
            ids.extend(map(token_ids.get, tokens, repeat(0)))  # 0: a token no n-gram uses
            ids.append(0)  # a boundary: no window spans two documents
            lengths.append(len(tokens) + 1)
        n_documents = len(lengths)
        token_array = np.asarray(ids, dtype=np.int64)
        row_array = np.repeat(np.arange(n_documents, dtype=np.int64), lengths)
        matched_rows, matched_columns = [], []
        for n in range(self.min_n, self.max_n + 1):
            keys, known = window_keys(token_array, n, self.base)
            if not len(keys):
                continue
            columns = self.columns_by_key.get(keys[known])
            found = columns >= 0
            matched_rows.append(row_array[: len(keys)][known][found])
            matched_columns.append(columns[found])
        if not matched_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), n_documents
        return np.concatenate(matched_rows), np.concatenate(matched_columns), n_documents


def window_keys(sequence: np.ndarray, n: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """The key of every n-token window of ``sequence`` (token ids, 0 a boundary or unknown
    token), and whether each window holds only known tokens."""
    windows = max(len(sequence) - n + 1, 0)
    keys = np.zeros(windows, dtype=np.int64)
    inside = np.ones(windows, dtype=bool)
    for offset in range(n):
        part = sequence[offset : offset + windows]
        keys = keys * base + part
        inside &= part > 0
    return keys, inside


def _key(tokens: list[str], token_ids: dict[str, int], base: int) -> int:
    key = 0
    for token in tokens:
        key = key * base + token_ids[token]
    return key
