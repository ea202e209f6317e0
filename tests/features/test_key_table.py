"""KeyTable: every stored key gives its value, every other key the default, whatever the keys."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentimentops.features.key_table import KeyTable

POSITIVE_KEYS = st.integers(min_value=1, max_value=2**63 - 1)


@settings(max_examples=80, deadline=None)
@given(
    stored=st.sets(POSITIVE_KEYS, max_size=300),
    others=st.lists(POSITIVE_KEYS, max_size=100),
)
def test_lookups_find_stored_keys_and_only_those(stored: set[int], others: list[int]) -> None:
    keys = np.array(sorted(stored), dtype=np.int64)
    values = np.arange(len(keys), dtype=np.int64) * 7
    table = KeyTable(keys, values)
    queries = np.array([*keys, *others, *keys[::-1]], dtype=np.int64)

    expected = {int(key): int(value) for key, value in zip(keys, values, strict=True)}
    found = table.get(queries, default=-5)

    assert found.tolist() == [expected.get(int(query), -5) for query in queries]
    assert len(table) == len(keys)


def test_a_million_consecutive_keys_keep_their_values() -> None:
    # Consecutive integers are what n-gram keys of one first token look like: hashing must
    # spread them, or probe sequences run into each other's clusters.
    keys = np.arange(1, 1_000_001, dtype=np.int64)
    values = np.random.default_rng(0).permutation(len(keys))
    table = KeyTable(keys, values)

    np.testing.assert_array_equal(table.get(keys), values)
    assert (table.get(keys + 1_000_000) == -1).all()


def test_zero_and_negative_keys_are_never_found() -> None:
    # 0 marks a free slot inside the table: asking for it must not find one.
    table = KeyTable(np.array([5, 9]), np.array([0, 1]))
    assert table.get(np.array([0, -5, 5, 9])).tolist() == [-1, -1, 0, 1]
    assert table.get(9).tolist() == [1]  # a single key is a query of one


def test_an_empty_table_finds_nothing() -> None:
    table = KeyTable(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert table.get(np.array([1, 2, 3])).tolist() == [-1, -1, -1]
    assert table.get(np.zeros(0, np.int64)).tolist() == []


@pytest.mark.parametrize(
    ("keys", "values", "message"),
    [
        ([1, 0, 2], [0, 1, 2], "positive"),
        ([3, 5, 3], [0, 1, 2], "distinct"),
        ([1, 2], [0], "same length"),
    ],
)
def test_keys_it_cannot_hold_are_refused(keys: list[int], values: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeyTable(np.array(keys), np.array(values))
