"""Which records are scored and which are rejected, with a reason each. A repeated id is
rejected ("duplicate id"), so an output holds each id once and joins back to its input by id."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sentimentops.batch.options import BatchOptions
from sentimentops.batch.source import Record
from sentimentops.features.blank import is_blank
from sentimentops.models.sentiment import labels_of
from sentimentops.tracking.loading import LoadedModel

__all__ = ["RejectRules", "Scored", "Screened", "no_predictions", "no_rejects"]

_REJECT_TYPES = {"row_number": "int64", "id": "object", "reason": "object", "raw": "object"}


def no_predictions(key: str, explain: bool) -> pd.DataFrame:
    """The output's columns with their types and no rows: what an output without predictions
    holds (``key`` is the id column, or ``row_number``)."""
    types = {key: "int64" if key == "row_number" else "object", "label": "object"}
    types |= {"score": "float64", "model_name": "object", "model_version": "object"}
    if explain:
        types["top_ngrams"] = "object"
    return pd.DataFrame(columns=list(types)).astype(types)


def no_rejects() -> pd.DataFrame:
    """The rejects' columns with their types and no rows."""
    return pd.DataFrame(columns=list(_REJECT_TYPES)).astype(_REJECT_TYPES)


class Scored(NamedTuple):
    predictions: pd.DataFrame
    rejects: pd.DataFrame
    records: int


@dataclass(frozen=True)
class Screened:
    """A chunk split into the texts to score (with their ids) and its rejects so far."""

    key: str  # the output's id column: the input's id column, or row_number
    identifiers: list[Any]
    texts: list[str]
    accepted: list[Record]  # the records of ``texts``
    rejects: list[dict[str, Any]]
    records: int

    def scored(self, scores: Any, model: LoadedModel, explain: bool) -> Scored:
        """The chunk's predictions and rejects once ``scores`` are known: a text with nothing
        left after cleaning (a NaN score) is rejected then."""
        scores = np.asarray(scores, dtype=float)
        empty = np.isnan(scores)
        rejects = self.rejects + [
            _reject(record, self.identifiers[index], self.key, "text empty after cleaning")
            for index, record in enumerate(self.accepted)
            if empty[index]
        ]
        kept = [index for index in range(len(self.texts)) if not empty[index]]
        texts = [self.texts[index] for index in kept]
        predictions = pd.DataFrame(
            {
                self.key: [self.identifiers[index] for index in kept],
                "label": labels_of(scores[~empty]),
                "score": [float(score) for score in scores[~empty]],
                "model_name": model.name,
                "model_version": model.version,
            }
        )
        if explain:
            predictions["top_ngrams"] = model.top_ngrams(texts) if texts else []
        frame = pd.DataFrame(rejects, columns=list(_REJECT_TYPES)).astype(_REJECT_TYPES)
        rejected = frame.sort_values("row_number", kind="stable", ignore_index=True)
        return Scored(predictions, rejected, self.records)


class RejectRules:
    """Screens records in input order by ``key`` (:attr:`~.source.Source.key`); ``taken``, the ids
    already screened (by an interrupted run's chunks too), grows with each chunk."""

    def __init__(self, options: BatchOptions, key: str, taken: set[str]) -> None:
        self.options = options
        self.key = key
        self.taken = taken

    def chunks(self, records: Iterator[Record]) -> Iterator[Screened]:
        """``records`` screened ``options.chunk_size`` at a time."""
        while chunk := list(islice(records, self.options.chunk_size)):
            yield self.screen(chunk)

    def screen(self, chunk: list[Record]) -> Screened:
        """Split a chunk into texts to score and rejects with reasons."""
        key = self.key
        identifiers: list[Any] = []
        texts: list[str] = []
        accepted: list[Record] = []
        rejects = []
        for record in chunk:
            fields = record.fields or {}
            text = fields.get(self.options.text_column)
            reason = record.reason or self._text_problem(text)
            identifier: Any = record.row_number
            if key != "row_number":
                # An unreadable row has no id: None, never its row number posing as one.
                identifier = fields.get(key)
                if _is_missing(identifier):
                    # Scored, it would have no id to be joined back on (monitoring joins by id).
                    identifier = None
                    reason = reason or "missing id"
                else:
                    identifier = str(identifier)  # compared as the output writes it: as text
                    if identifier in self.taken:
                        reason = reason or "duplicate id"
                    self.taken.add(identifier)
            if reason is None:
                texts.append(str(text))
                identifiers.append(identifier)
                accepted.append(record)
            else:
                rejects.append(_reject(record, identifier, key, reason))
        return Screened(key, identifiers, texts, accepted, rejects, len(chunk))

    def _text_problem(self, text: Any) -> str | None:
        if _is_missing(text):
            return "missing text"
        if not isinstance(text, str):
            # A number, list or object where a review belongs (JSON Lines, Parquet): a score of
            # its printed form would be a prediction about nothing.
            return f"text is not a string (got {type(text).__name__})"
        if is_blank(text):
            return "empty text"
        if len(text) > self.options.max_text_chars:
            return f"text longer than {self.options.max_text_chars:,} characters"
        return None  # "text empty after cleaning" is known once the model has cleaned it


def _is_missing(value: Any) -> bool:
    """None (an absent key, a JSON or Parquet null), NaN, or "": how CSV spells a missing value."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _reject(record: Record, identifier: Any, key: str, reason: str) -> dict[str, Any]:
    return {
        "row_number": record.row_number,
        "id": None if key == "row_number" or identifier is None else str(identifier),
        "reason": reason,
        "raw": record.raw,
    }
