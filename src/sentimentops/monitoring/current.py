"""The data a monitoring run judges (a file, a batch output, the prediction log) as one frame;
the columns present (text, truth, prediction) decide what can be measured."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from sentimentops.csv_safety import defuse_formulas
from sentimentops.data.load import (
    LABEL_COLUMN,
    TEXT_COLUMN,
    canonical_columns,
    detect_format,
    read_table,
)
from sentimentops.errors import BadInputError, DataError
from sentimentops.monitoring.compare import answered_rows
from sentimentops.storage import SUMMARY, Location, LocationLike

__all__ = [
    "CurrentData",
    "check_scored_input",
    "current_from_batch",
    "current_from_file",
    "current_from_log",
]


def check_scored_input(current: str | None, scored_input: str | None) -> None:
    """Raise BadInputError for ``scored_input`` without the output scored from it (``current``)."""
    if scored_input is not None and current is None:
        raise BadInputError(
            f"--scored-input {scored_input} was given without --current: pass the batch output "
            "scored from it with --current, or drop --scored-input to judge the prediction log."
        )


@dataclass(frozen=True)
class CurrentData:
    """The frame to judge, where it came from, and what is known about it besides."""

    frame: pd.DataFrame
    source: str
    reject_rate: float | None = None  # known for batch outputs, from their summary
    notes: tuple[str, ...] = ()  # rows left out on the way, shown with the run's outcome

    def of_version(self, version: str) -> tuple[CurrentData, int]:
        """Only the rows ``version`` predicted (another's scores would show spurious drift), and
        how many others were left out."""
        if "model_version" not in self.frame.columns:
            return self, 0
        mine = self.frame["model_version"].astype(str) == version
        return replace(self, frame=self.frame[mine].reset_index(drop=True)), int((~mine).sum())


def current_from_file(
    location: LocationLike, *, text_column: str = TEXT_COLUMN, label_column: str = LABEL_COLUMN
) -> CurrentData:
    """Reviews, or a batch prediction output (with its reject rate), from a file. DataError when
    unreadable, empty (unless a batch output: every row rejected), or holding neither texts nor
    predictions."""
    table = read_table(location)
    if text_column not in table.columns and {"label", "score"} <= set(table.columns):
        frame = _predictions_only(table, location)
    else:
        frame = canonical_columns(table, location, text_column, label_column)
    reject_rate = _batch_reject_rate(location)
    if frame.empty and reject_rate is None:
        raise DataError(f"{location} holds no rows: there is nothing to monitor.")
    return CurrentData(frame, str(location), reject_rate)


def current_from_batch(
    scored_input: LocationLike,
    predictions: LocationLike,
    *,
    id_column: str,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
) -> CurrentData:
    """A batch output joined on ``id_column`` with the input it scored (texts, labels if any).
    DataError when a file is unreadable or empty, or its id column missing or repeated."""
    inputs = read_table(scored_input)
    scored = read_table(predictions)
    for location, table in ((scored_input, inputs), (predictions, scored)):
        if id_column not in table.columns:
            raise DataError(
                f"{location} has no {id_column!r} column to join the batch output with its "
                "input on; pass the id column the batch used."
            )
    scored = _predictions_only(scored, predictions)
    # A row without an id was rejected by the batch ("missing id") and would collide in the join.
    ids = inputs[id_column]
    inputs = inputs[~(ids.isna() | ids.eq(""))]
    texts = canonical_columns(inputs, scored_input, text_column, label_column)
    texts = texts[[c for c in (id_column, TEXT_COLUMN, LABEL_COLUMN) if c in texts.columns]]
    # The batch writes ids as text; the input is read with its own types: compare as text.
    id_type = texts[id_column].dtype
    numeric = pd.api.types.is_numeric_dtype(id_type) and not pd.api.types.is_bool_dtype(id_type)
    texts = texts.assign(**{id_column: _id_text(texts[id_column], numeric=numeric)})
    scored = scored.assign(**{id_column: _id_text(scored[id_column], numeric=numeric)})
    if detect_format(predictions) == "csv":
        # A CSV output writes a formula-like id ("=1+1") defused ("'=1+1"): match it that way.
        texts = defuse_formulas(texts, columns=[id_column])
    _refuse_repeated_ids(texts[id_column], scored_input, id_column)
    _refuse_repeated_ids(scored[id_column], predictions, id_column)
    joined = scored[[id_column, "label", "score", "model_version"]].merge(
        texts, on=id_column, how="inner", validate="one_to_one"
    )
    if joined.empty:
        raise DataError(
            f"No id of {predictions} matches an id of {scored_input}: is it the output of "
            "that input?"
        )
    frame = joined.drop(columns=[id_column]).astype({"model_version": str})
    return CurrentData(frame, str(predictions), _batch_reject_rate(predictions))


def current_from_log(store: object, since: datetime | None, until: datetime | None) -> CurrentData:
    """The answers the API logged in ``[since, until)``, feedback labels as truth; an empty
    window is not an error (the volume alert reports it)."""
    window = answered_rows(store.read_window(since, until))  # type: ignore[attr-defined]
    label = f"log:{since.isoformat() if since else ''}..{until.isoformat() if until else ''}"
    frame = (
        window[["feedback_label", "label", "score", "model_version"]]
        .rename(columns={"feedback_label": LABEL_COLUMN})
        .astype({"model_version": str})
    )
    if window["text"].notna().all():
        frame.insert(0, TEXT_COLUMN, window["text"])
    return CurrentData(frame, label)


def _id_text(ids: pd.Series, *, numeric: bool) -> pd.Series:
    """Ids as the batch output's text; numeric ids (read as ``7.0`` beside a null) lose ``.0``."""

    def text(value: object) -> str:
        if numeric:
            with contextlib.suppress(ValueError):
                return str(int(str(value)))  # 7, or "7" from a text column; exact for any size
            with contextlib.suppress(ValueError):
                if (number := float(str(value))).is_integer():
                    return str(int(number))
        return str(value)

    return ids.map(text).astype(object)


def _refuse_repeated_ids(ids: pd.Series, location: LocationLike, id_column: str) -> None:
    """Raise DataError naming the first ids ``ids`` repeats."""
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        shown = ", ".join(repr(value) for value in repeated[:5])
        more = f" and {len(repeated) - 5:,} more" if len(repeated) > 5 else ""
        raise DataError(
            f"{location} holds the same {id_column!r} on several rows ({shown}{more}): a "
            "prediction cannot be matched to its input row. Give every row its own id (or "
            "name a unique column with --id-column), score the input again and monitor that."
        )


def _predictions_only(table: pd.DataFrame, location: LocationLike) -> pd.DataFrame:
    """The table with numeric scores; DataError if one is not a probability."""
    scores = pd.to_numeric(table["score"], errors="coerce")
    invalid = (scores.isna() | ~scores.between(0, 1)).to_numpy()
    if invalid.any():
        row = int(invalid.argmax())
        raise DataError(
            f"{location}: the score in data row {row + 1} is not a probability between 0 and 1 "
            f"({table['score'].iloc[row]!r}); is this a sentimentops prediction output?"
        )
    return table.assign(score=scores)


def _batch_reject_rate(location: LocationLike) -> float | None:
    summary = Location(location).beside(SUMMARY)
    if not summary.exists():
        return None
    with summary.open("rb") as stream:
        content = json.loads(stream.read())
    rows_in = int(content.get("rows_in", 0))
    return int(content.get("rejected", 0)) / rows_in if rows_in else None
