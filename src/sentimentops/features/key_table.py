"""A hash table from positive int64 keys to int64 values, built and probed with NumPy, all
queries at once (why: docs/decisions.md, "Features and models")."""

from __future__ import annotations

import numpy as np

__all__ = ["KeyTable"]

_EMPTY = 0  # keys are positive, so 0 marks a free slot
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads nearby keys apart
_STEP_SHIFT = np.uint64(16)  # the step comes from lower bits than the first slot, independent


class KeyTable:
    """Maps each of ``keys`` (distinct, positive) to the value at the same position."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        values = np.asarray(values, dtype=np.int64)
        if keys.shape != values.shape or keys.ndim != 1:
            raise ValueError("keys and values must be 1-d arrays of the same length")
        if len(keys) and keys.min() <= _EMPTY:
            raise ValueError("keys must be positive")
        if len(np.unique(keys)) != len(keys):
            raise ValueError("keys must be distinct")
        bits = max(4, (4 * len(keys)).bit_length())  # at most a quarter full
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self._keys = np.full(1 << bits, _EMPTY, dtype=np.int64)
        # Column numbers fit in 32 bits: a quarter less memory for a table of 4M slots.
        fits = len(values) == 0 or (values.min() >= 0 and values.max() < 2**31)
        self._values = np.zeros(1 << bits, dtype=np.int32 if fits else np.int64)
        self._insert(keys, values)
        self._size = len(keys)

    def __len__(self) -> int:
        return self._size

    def slots(self) -> dict[str, np.ndarray]:
        """The table as laid out, for :meth:`from_slots` to take back without placing keys."""
        return {"keys": self._keys, "values": self._values}

    @classmethod
    def from_slots(cls, slots: dict[str, np.ndarray]) -> KeyTable:
        """A table from :meth:`slots`; ValueError when the arrays are not a table's layout."""
        keys = np.asarray(slots["keys"], dtype=np.int64)
        values = np.asarray(slots["values"])
        size = len(keys)
        if size < 16 or size & (size - 1) or values.shape != keys.shape:
            raise ValueError("not the slots of a KeyTable")
        table = cls.__new__(cls)
        bits = size.bit_length() - 1
        table._mask = size - 1
        table._shift = np.uint64(64 - bits)
        table._keys, table._values = keys, values
        table._size = int(np.count_nonzero(keys != _EMPTY))
        return table

    def get(self, queries: np.ndarray, default: int = -1) -> np.ndarray:
        """The value of each query key, ``default`` where a key is not in the table."""
        queries = np.atleast_1d(np.asarray(queries, dtype=np.int64))
        found = np.full(len(queries), default, dtype=np.int64)
        waiting = np.arange(len(queries))
        slots, steps = self._probe_start(queries)
        while len(waiting):
            stored = self._keys[slots]
            hit = (stored == queries) & (stored != _EMPTY)  # 0 is no key, not a free slot's
            found[waiting[hit]] = self._values[slots[hit]]
            # A free slot ends the probe sequence: the key would have been stored there.
            go_on = ~hit & (stored != _EMPTY)
            waiting, queries, steps = waiting[go_on], queries[go_on], steps[go_on]
            slots = (slots[go_on] + steps) & self._mask
        return found

    def _probe_start(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each key's first slot (top bits of key * 2^64/phi) and an odd step from lower bits:
        odd is coprime with the power-of-two size, so a sequence visits every slot."""
        hashed = keys.astype(np.uint64) * _FIBONACCI
        first = (hashed >> self._shift).astype(np.int64)
        steps = ((hashed >> _STEP_SHIFT).astype(np.int64) & self._mask) | 1
        return first, steps

    def _insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Place all keys, round by round: every key still waiting tries its next slot; of
        several aiming at the same free slot, the first takes it and the others move on."""
        slots, steps = self._probe_start(keys)
        while len(keys):
            free = np.flatnonzero(self._keys[slots] == _EMPTY)
            _, first = np.unique(slots[free], return_index=True)
            placed = free[first]
            self._keys[slots[placed]] = keys[placed]
            self._values[slots[placed]] = values[placed]
            left = np.ones(len(keys), dtype=bool)
            left[placed] = False
            keys, values, steps = keys[left], values[left], steps[left]
            slots = (slots[left] + steps) & self._mask
