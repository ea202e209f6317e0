"""The data a monitoring run judges (a file, a batch output, the prediction log) as one frame;
the columns present (text, truth, prediction) decide what can be measured. A file is read in
chunks and, past ``monitoring.sample_rows``, sampled as it is read, so that its size never
decides the memory a run needs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sentimentops.csv_safety import defuse_formulas
from sentimentops.data.load import (
    CHUNK_ROWS,
    LABEL_COLUMN,
    TEXT_COLUMN,
    canonical_columns,
    detect_format,
    read_table,
    read_table_chunks,
)
from sentimentops.errors import BadInputError, DataError
from sentimentops.features.blank import is_blank
from sentimentops.monitoring.compare import answered_rows
from sentimentops.storage import SUMMARY, Location, LocationLike

if TYPE_CHECKING:  # SQLAlchemy is imported only where the log is read
    from sentimentops.prediction_log.store import PredictionLogStore

__all__ = [
    "CurrentData",
    "RowCounts",
    "check_scored_input",
    "current_from_batch",
    "current_from_file",
    "current_from_log",
    "without_missing_texts",
]

# Columns the sample keeps beside a file's own while it is drawn.
_KEY, _ROW, _VERSION = "__sample_key__", "__sample_row__", "__sample_version__"


def check_scored_input(current: str | None, scored_input: str | None) -> None:
    """Raise BadInputError for ``scored_input`` without the output scored from it (``current``)."""
    if scored_input is not None and current is None:
        raise BadInputError(
            f"--scored-input {scored_input} was given without --current: pass the batch output "
            "scored from it with --current, or drop --scored-input to judge the prediction log."
        )


@dataclass(frozen=True)
class RowCounts:
    """Rows by their review text: there, missing or blank, not a string (a number), longer than
    the limit. Rows of a file without a text column (a batch output) all count as ``texts``."""

    texts: int = 0
    blank: int = 0
    not_text: int = 0
    too_long: int = 0

    @property
    def rows(self) -> int:
        """Every row counted."""
        return self.texts + self.blank + self.not_text + self.too_long

    def __add__(self, other: RowCounts) -> RowCounts:
        return RowCounts(
            self.texts + other.texts,
            self.blank + other.blank,
            self.not_text + other.not_text,
            self.too_long + other.too_long,
        )


@dataclass(frozen=True)
class CurrentData:
    """The frame to judge, where it came from, and what is known about it besides."""

    frame: pd.DataFrame
    source: str
    reject_rate: float | None = None  # known for batch outputs, from their summary
    notes: tuple[str, ...] = ()  # rows left out on the way, shown with the run's outcome
    # A file's rows as read, by model version ("" without the column): ``frame`` then holds
    # only those with review text, or a sample of them. None: ``frame`` holds every row.
    counts: Mapping[str, RowCounts] | None = None

    @property
    def rows(self) -> int:
        """The rows of the source, whether ``frame`` holds them all or a sample."""
        return len(self.frame) if self.counts is None else _total(self.counts.values()).rows

    def versions(self) -> list[str]:
        """The model versions the rows name (``model_version``), sorted."""
        if self.counts is not None:
            return sorted(self.counts)
        return sorted(set(self.frame["model_version"].astype(str)))

    def with_texts(self) -> tuple[pd.DataFrame, RowCounts]:
        """The rows with review text (all of them, or the sample read) and the source's rows
        counted by their text (:func:`without_missing_texts`)."""
        if self.counts is not None:
            return self.frame, _total(self.counts.values())
        frame, blank, not_text = without_missing_texts(self.frame)
        return frame, RowCounts(len(frame), blank, not_text)

    def of_version(self, version: str) -> tuple[CurrentData, int]:
        """Only the rows ``version`` predicted (another's scores would show spurious drift), and
        how many others were left out."""
        if "model_version" not in self.frame.columns:
            return self, 0
        mine = self.frame["model_version"].astype(str) == version
        kept = replace(self, frame=self.frame[mine].reset_index(drop=True))
        if self.counts is None:
            return kept, int((~mine).sum())
        counts = {version: self.counts[version]} if version in self.counts else {}
        kept = replace(kept, counts=counts)
        return kept, self.rows - kept.rows


def _total(counts: Iterable[RowCounts]) -> RowCounts:
    return sum(counts, RowCounts())


def without_missing_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """``frame`` without the rows whose review text is missing or blank, or not a string, and
    how many of each. A missing review would be scored as the word "nan", a blank one as
    nothing, a number (Parquet, JSON) as its digits: predict rejects them all."""
    if TEXT_COLUMN not in frame.columns:
        return frame, 0, 0
    missing, other = _text_problems(frame[TEXT_COLUMN])
    if not (missing | other).any():
        return frame, 0, 0
    kept = frame[~(missing | other)].reset_index(drop=True)
    return kept, int(missing.sum()), int(other.sum())


def _text_problems(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Which texts are missing or blank, and which are something else than a string."""
    missing = texts.isna().to_numpy() | np.array(
        [isinstance(text, str) and is_blank(text) for text in texts], dtype=bool
    )
    other = ~missing & np.array([not isinstance(text, str) for text in texts], dtype=bool)
    return missing, other


def current_from_file(
    location: LocationLike,
    *,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    sample_rows: int | None = None,
    seed: int = 0,
    chunk_rows: int = CHUNK_ROWS,
    max_text_chars: int | None = None,
) -> CurrentData:
    """Reviews, or a batch prediction output (with its reject rate), from a file read
    ``chunk_rows`` at a time: the rows with review text are kept, every row is counted
    (``CurrentData.counts``). With ``sample_rows``, at most that many are kept per model
    version, a uniform sample drawn with ``seed`` (the same file and seed give the same sample,
    whatever the chunks); a file with no more keeps them all, in order. A review longer than
    ``max_text_chars`` (default: ``validation.max_text_chars``, predict's limit) is left out,
    counted and noted. DataError when unreadable, empty (unless a batch output: every row
    rejected), holding neither texts nor predictions, or only reviews too long."""
    limit = max_text_chars if max_text_chars is not None else _max_text_chars()
    sample = _Sample(sample_rows, seed, limit)
    counts: dict[str, RowCounts] = {}
    columns: list[str] = []
    predictions: bool | None = None  # the first chunk tells a batch output from reviews
    for table in read_table_chunks(location, chunk_rows):
        columns += [name for name in table.columns if name not in columns]
        if list(table.columns) != columns:  # JSON Lines: keys missing from every record here
            table = table.reindex(columns=columns)
        if predictions is None:
            predictions = text_column not in columns and {"label", "score"} <= set(columns)
        if predictions:
            frame = _predictions_only(table, location, first_row=sample.rows_read + 1)
        else:
            frame = canonical_columns(table, location, text_column, label_column)
        sample.add(frame, counts)
    reject_rate = _batch_reject_rate(location)
    notes = _too_long_notes(_total(counts.values()), location, limit)
    current = CurrentData(sample.frame(), str(location), reject_rate, notes, counts=counts)
    if current.rows == 0 and reject_rate is None:
        raise DataError(f"{location} holds no rows: there is nothing to monitor.")
    return current


def _max_text_chars() -> int:
    from sentimentops.config import get_settings  # settings are read when a file is, not before

    return get_settings().validation.max_text_chars


def _too_long_notes(total: RowCounts, location: LocationLike, limit: int) -> tuple[str, ...]:
    """The note on the reviews left out as too long; DataError when no other review is left."""
    if not total.too_long:
        return ()
    if not total.texts:
        raise DataError(
            f"Every review in {location} is missing, blank, not text or longer than "
            f"validation.max_text_chars ({limit:,} characters): there is nothing to monitor. "
            "Check the file, or name the text column with --text-column."
        )
    return (
        f"{total.too_long:,} of {total.rows:,} current rows whose review is longer than "
        f"validation.max_text_chars ({limit:,} characters) left out: neither scored nor "
        "described, as predict rejects them",
    )


class _Sample:
    """The rows with review text of a file read in chunks: all of them, or at most ``limit``
    per model version drawn uniformly (each row a seeded random key, the smallest keys kept:
    a reservoir that stays a uniform sample whatever comes next), in file order."""

    def __init__(self, limit: int | None, seed: int, max_text_chars: int) -> None:
        self._limit = limit
        self._max_text_chars = max_text_chars
        self._random = np.random.default_rng(seed)
        self._kept: list[pd.DataFrame] = []
        self._empty: pd.DataFrame | None = None  # the columns, should no row have text
        self.rows_read = 0

    def add(self, frame: pd.DataFrame, counts: dict[str, RowCounts]) -> None:
        """Keep ``frame``'s rows with review text (as the sample draws), count all in
        ``counts`` by model version."""
        keys = self._random.random(len(frame))  # one per row read: the draw is the file's
        rows = np.arange(self.rows_read, self.rows_read + len(frame))
        self.rows_read += len(frame)
        missing, other = _problems_of(frame)
        too_long = _too_long(frame, self._max_text_chars)
        versions = _versions_of(frame)
        chunk_counts = _count_by_version(versions, missing, other, too_long)
        for version, version_counts in chunk_counts.items():
            counts[version] = counts.get(version, RowCounts()) + version_counts
        texts = ~(missing | other | too_long)
        kept = frame[texts].assign(
            **{_KEY: keys[texts], _ROW: rows[texts], _VERSION: versions[texts]}
        )
        if self._empty is None:
            self._empty = kept.iloc[:0]
        if kept.empty:
            return
        self._kept.append(kept)
        if self._limit is not None:
            self._kept = [_smallest_keys(self._kept, self._limit)]

    def frame(self) -> pd.DataFrame:
        """The rows kept, in file order, with a fresh index."""
        if not self._kept:
            kept = self._empty if self._empty is not None else pd.DataFrame()
        else:
            kept = self._kept[0] if len(self._kept) == 1 else pd.concat(self._kept)
        kept = kept.sort_values(_ROW) if _ROW in kept.columns else kept
        hidden = [name for name in (_KEY, _ROW, _VERSION) if name in kept.columns]
        return kept.drop(columns=hidden).reset_index(drop=True)


def _problems_of(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if TEXT_COLUMN not in frame.columns:  # a batch output: its rows are predictions, not texts
        nothing = np.zeros(len(frame), dtype=bool)
        return nothing, nothing
    return _text_problems(frame[TEXT_COLUMN])


def _too_long(frame: pd.DataFrame, max_text_chars: int) -> np.ndarray:
    """Which reviews are strings longer than ``max_text_chars`` (predict would reject them)."""
    if TEXT_COLUMN not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    texts = frame[TEXT_COLUMN]
    return np.array(
        [isinstance(text, str) and len(text) > max_text_chars for text in texts], dtype=bool
    )


def _versions_of(frame: pd.DataFrame) -> np.ndarray:
    if "model_version" not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame["model_version"].astype(str).to_numpy(dtype=object)


def _count_by_version(
    versions: np.ndarray, missing: np.ndarray, other: np.ndarray, too_long: np.ndarray
) -> dict[str, RowCounts]:
    counts: dict[str, RowCounts] = {}
    for version in dict.fromkeys(versions):
        mine = versions == version
        blank, not_text = int((missing & mine).sum()), int((other & mine).sum())
        long = int((too_long & mine).sum())
        texts = int(mine.sum()) - blank - not_text - long
        counts[str(version)] = RowCounts(texts, blank, not_text, long)
    return counts


def _smallest_keys(frames: list[pd.DataFrame], limit: int) -> pd.DataFrame:
    """The ``limit`` rows with the smallest keys per model version among ``frames``."""
    rows = frames[0] if len(frames) == 1 else pd.concat(frames)
    if (rows[_VERSION].value_counts() <= limit).all():
        return rows
    return rows.sort_values(_KEY, kind="stable").groupby(_VERSION, sort=False).head(limit)


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


def current_from_log(
    store: PredictionLogStore, since: datetime | None, until: datetime | None
) -> CurrentData:
    """The answers the API logged in ``[since, until)``, feedback labels as truth; an empty
    window is not an error (the volume alert reports it)."""
    window = answered_rows(store.read_window(since, until))
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


def _predictions_only(
    table: pd.DataFrame, location: LocationLike, *, first_row: int = 1
) -> pd.DataFrame:
    """The table with numeric scores; DataError if one is not a probability (naming its data
    row, ``table`` starting at ``first_row``)."""
    scores = pd.to_numeric(table["score"], errors="coerce")
    invalid = (scores.isna() | ~scores.between(0, 1)).to_numpy()
    if invalid.any():
        row = int(invalid.argmax())
        raise DataError(
            f"{location}: the score in data row {row + first_row} is not a probability between "
            f"0 and 1 ({table['score'].iloc[row]!r}); is this a sentimentops prediction output?"
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
