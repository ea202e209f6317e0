"""The current data a monitoring run judges, from a file or from the prediction log.

Every source becomes one frame with some of: ``review`` (text), ``sentiment`` (true label),
``label`` and ``score`` (the model's prediction). What is missing decides what can be measured:
no text, no text drift; no labels, no real accuracy (the estimate still works); no scores, the
model scores the texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
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
from sentimentops.storage import SUMMARY, Location, LocationLike

__all__ = [
    "CurrentData",
    "check_scored_input",
    "current_from_batch",
    "current_from_file",
    "current_from_log",
]


def check_scored_input(current: str | None, scored_input: str | None) -> None:
    """``scored_input`` only means something beside the batch output scored from it
    (``current``): refused rather than ignored.

    Raises:
        BadInputError: ``scored_input`` without ``current``.
    """
    if scored_input is not None and current is None:
        raise BadInputError(
            f"--scored-input {scored_input} was given without --current: pass the batch output "
            "scored from it with --current, or drop --scored-input to judge the prediction log."
        )


@dataclass(frozen=True)
class CurrentData:
    frame: pd.DataFrame
    source: str
    reject_rate: float | None = None  # known for batch outputs, from their summary
    notes: tuple[str, ...] = ()  # rows left out on the way, shown with the run's outcome

    def of_version(self, version: str) -> tuple[CurrentData, int]:
        """Only the rows a given model version predicted, and how many others were left out.

        Scores of an earlier champion would be judged against the current one's reference
        and calibration: spurious prediction drift after every promotion.
        """
        if "model_version" not in self.frame.columns:
            return self, 0
        mine = self.frame["model_version"].astype(str) == version
        return replace(self, frame=self.frame[mine].reset_index(drop=True)), int((~mine).sum())


def current_from_file(
    location: LocationLike, *, text_column: str = TEXT_COLUMN, label_column: str = LABEL_COLUMN
) -> CurrentData:
    """Reviews (with or without labels) in any format the data layer reads, or a batch
    prediction output (``label``, ``score``; its ``OUTPUT.summary.json`` gives the reject rate).

    Raises:
        DataError: unreadable, empty, or neither texts nor predictions in it.
    """
    table = read_table(location)
    if text_column not in table.columns and {"label", "score"} <= set(table.columns):
        frame = _predictions_only(table, location)
    else:
        frame = canonical_columns(table, location, text_column, label_column)
    if frame.empty:
        raise DataError(f"{location} holds no rows: there is nothing to monitor.")
    return CurrentData(frame, str(location), _batch_reject_rate(location))


def current_from_batch(
    scored_input: LocationLike,
    predictions: LocationLike,
    *,
    id_column: str,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
) -> CurrentData:
    """A batch output joined on ``id_column`` with the input it scored: the model's predictions
    beside the texts (for text drift) and, when the input has them, the true labels. Rows the
    batch rejected have no prediction and are left out; the summary's reject rate counts them.

    Raises:
        DataError: either file unreadable or empty, the id column missing from either, or
            an id repeated in either.
    """
    inputs = read_table(scored_input)
    scored = read_table(predictions)
    for location, table in ((scored_input, inputs), (predictions, scored)):
        if id_column not in table.columns:
            raise DataError(
                f"{location} has no {id_column!r} column to join the batch output with its "
                "input on; pass the id column the batch used."
            )
    scored = _predictions_only(scored, predictions)
    # An input row without an id (absent, null, an empty CSV cell) was rejected by the batch
    # ("missing id"): it has no prediction, and several of them would collide in the join.
    ids = inputs[id_column]
    inputs = inputs[~(ids.isna() | ids.eq(""))]
    texts = canonical_columns(inputs, scored_input, text_column, label_column)
    texts = texts[[c for c in (id_column, TEXT_COLUMN, LABEL_COLUMN) if c in texts.columns]]
    # The batch writes every id as text (``str`` of the value it read), while the input is
    # read here with its own types (integers from Parquet or JSON): compare both as text.
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
    frame = joined.drop(columns=[id_column])
    frame["model_version"] = frame["model_version"].astype(str)
    return CurrentData(frame, str(predictions), _batch_reject_rate(predictions))


def current_from_log(store: object, since: datetime | None, until: datetime | None) -> CurrentData:
    """The predictions the API logged in ``[since, until)``, with feedback labels as truth.

    A window without predictions gives a frame without rows: no traffic is an observation (the
    volume alert), not a bad input.
    """
    window: pd.DataFrame = store.read_window(since, until)  # type: ignore[attr-defined]
    label = f"log:{since.isoformat() if since else ''}..{until.isoformat() if until else ''}"
    frame = pd.DataFrame(
        {
            LABEL_COLUMN: window["feedback_label"],
            "label": window["label"],
            "score": window["score"],
            "model_version": window["model_version"].astype(str),
        }
    )
    if window["text"].notna().all():
        frame.insert(0, TEXT_COLUMN, window["text"])
    return CurrentData(frame, label)


def _id_text(ids: pd.Series, *, numeric: bool) -> pd.Series:
    """Ids as the text the batch output holds. A numeric input column with a null in it is read
    as floats (``7.0``) where the batch saw the integer (``7``): when the input's ids are
    numbers, a whole number is written without its ``.0`` on both sides."""

    def text(value: object) -> str:
        if not numeric:
            return str(value)
        if isinstance(value, int | np.integer):
            return str(int(value))
        try:
            return str(int(str(value)))  # "7" from a text column; exact for any size
        except ValueError:
            pass
        try:
            number = float(str(value))
        except ValueError:
            return str(value)
        return str(int(number)) if number.is_integer() else str(value)

    return ids.map(text).astype(object)


def _refuse_repeated_ids(ids: pd.Series, location: LocationLike, id_column: str) -> None:
    """A repeated id cannot say which row a prediction belongs to.

    Raises:
        DataError: naming the first few ids that occur more than once.
    """
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
    """A batch prediction output: predictions without their texts. CSV fields are read as
    text by the data layer, so the scores are made numbers here."""
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
