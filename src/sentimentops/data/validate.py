"""Validate a review table (pandera schema, quality checks): every row ends valid (labels
normalised) or quarantined with its reason, never silently dropped."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from sentimentops.config import ValidationSettings
from sentimentops.data.load import LABEL_COLUMN, TEXT_COLUMN, UnreadableRow
from sentimentops.data.version import frame_digest
from sentimentops.errors import DataValidationError
from sentimentops.features.blank import is_blank
from sentimentops.features.text import strip_html_markup

__all__ = [
    "LABELS",
    "LABEL_ALIASES",
    "QUARANTINE_COLUMNS",
    "ValidationReport",
    "ValidationResult",
    "normalise_labels",
    "validate_reviews",
]

LABELS = ("negative", "positive")
LABEL_ALIASES: dict[str, str] = {
    **dict.fromkeys(("positive", "pos", "1"), "positive"),
    **dict.fromkeys(("negative", "neg", "0"), "negative"),
}
QUARANTINE_COLUMNS = ["row_number", "column", "reason", "value"]
_PREVIEW_CHARS = 200
_PANDERA_CONCAT_WARNING = "The behavior of DataFrame concatenation with empty or all-NA entries"

# The reason shown for each failed check, by pandera check name.
_REASONS = {
    "not_nullable": "missing value",
    "is_text": "text is not a string",
    "not_blank": "text is empty or whitespace only",
    "not_empty_after_html": "text is empty after HTML removal",
    "max_length": "text is longer than the maximum length",
    "no_nul": "NUL byte in text",
    "known_label": "unknown label (accepted: positive/negative, pos/neg, 1/0)",
}


@dataclass(frozen=True)
class ValidationReport:
    """The summary written as JSON by ``sentimentops data validate --report``."""

    source: str
    rows: int
    valid_rows: int
    quarantined_rows: int
    duplicate_rows: int
    quarantine_reasons: dict[str, int]
    label_counts: dict[str, int]
    minority_label_share: float | None
    length: dict[str, dict[str, float]]
    digest: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class ValidationResult:
    """Valid rows (original index kept, labels normalised), quarantined rows and the report."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame
    report: ValidationReport

    def write_quarantine(self, target: Path) -> Path | None:
        """Write the quarantined rows as CSV to ``target``; None when there are none."""
        from sentimentops.csv_safety import write_csv

        if self.quarantined.empty:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        # Quarantined rows hold review text as sent: no cell may open as a live formula.
        with target.open("w", encoding="utf-8", newline="") as stream:
            write_csv(self.quarantined, stream)
        return target


def normalise_labels(labels: pd.Series) -> pd.Series:
    """Accepted label spellings as ``positive``/``negative``; anything else is left as it is."""

    def normalise(value: Any) -> Any:
        if value is None or isinstance(value, bool):  # True/False are not an accepted spelling
            return value
        if isinstance(value, float):
            if pd.isna(value):
                return value
            value = int(value) if value.is_integer() else value
        return LABEL_ALIASES.get(str(value).strip().lower(), value)

    return labels.map(normalise)


def validate_reviews(
    frame: pd.DataFrame,
    settings: ValidationSettings,
    *,
    source: str = "<frame>",
    require_labels: bool = True,
    unreadable: Sequence[UnreadableRow] = (),
) -> ValidationResult:
    """Split a review table into valid and quarantined rows, with the report (``source`` names
    the rows). ``unreadable``: the rows of the same file that could not be read
    (:func:`~sentimentops.data.load.load_readable_reviews`), quarantined with their reason;
    ``frame`` then holds the others in file order. Raises DataValidationError when
    ``require_labels`` and there is no label column."""
    frame = frame.copy()
    has_labels = LABEL_COLUMN in frame.columns
    if require_labels and not has_labels:
        raise DataValidationError(
            f"{source} has no '{LABEL_COLUMN}' column, and every row needs a label: name the "
            "label column (--label-column, or data.label_column), or validate reviews without "
            "labels with `sentimentops data validate --no-labels`."
        )
    if has_labels:
        frame[LABEL_COLUMN] = normalise_labels(frame[LABEL_COLUMN])

    failures = _schema_failures(frame, settings, has_labels, require_labels)
    duplicated = frame[TEXT_COLUMN].duplicated(keep="first") & frame[TEXT_COLUMN].notna()
    if settings.quarantine_duplicates and duplicated.any():
        rows = frame.index[duplicated.to_numpy()]
        texts = frame.loc[rows, TEXT_COLUMN].to_numpy()
        reason = "exact duplicate of an earlier row"
        duplicates = pd.DataFrame(
            {"index": rows, "column": TEXT_COLUMN, "reason": reason, "value": texts}
        )
        failures = duplicates if failures.empty else pd.concat([failures, duplicates])

    quarantined = _quarantine_table(frame, failures, _row_numbers(len(frame), unreadable))
    valid = frame.drop(index=quarantined.index)
    if unreadable:  # no column to name: the whole row could not be read
        unread = pd.DataFrame(
            [(row.row_number, "", row.reason, row.raw) for row in unreadable],
            columns=QUARANTINE_COLUMNS,
        )
        both = [unread] if quarantined.empty else [quarantined, unread]  # pandas warns on empty
        quarantined = pd.concat(both).sort_values("row_number", kind="stable")
    report = _build_report(
        len(frame) + len(unreadable),
        valid,
        quarantined,
        int(duplicated.sum()),
        source,
        settings,
        has_labels,
        unreadable=len(unreadable),
    )
    return ValidationResult(
        valid=valid, quarantined=quarantined.reset_index(drop=True), report=report
    )


def _row_numbers(readable: int, unreadable: Sequence[UnreadableRow]) -> np.ndarray:
    """The 1-based data row of each of ``readable`` rows: the numbers ``unreadable`` leaves."""
    numbers = np.arange(1, readable + len(unreadable) + 1)
    taken = np.array([row.row_number for row in unreadable], dtype=numbers.dtype)
    free = np.setdiff1d(numbers, taken)
    if len(free) != readable:
        raise ValueError(
            f"{len(unreadable)} unreadable rows do not fit {readable} readable ones: their row "
            "numbers must be distinct data rows of the same file."
        )
    return free


def _text_check(predicate: Callable[[str], bool]) -> Callable[[pd.Series], pd.Series]:
    """A check that judges strings only: other values fail ``is_text`` alone."""

    def check(texts: pd.Series) -> pd.Series:
        return texts.map(lambda value: not isinstance(value, str) or predicate(value)).astype(bool)

    return check


def _schema(
    settings: ValidationSettings, has_labels: bool, require_labels: bool
) -> pa.DataFrameSchema:
    text_checks = [
        pa.Check(lambda s: s.map(lambda v: isinstance(v, str)).astype(bool), name="is_text"),
        pa.Check(_text_check(lambda t: not is_blank(t)), name="not_blank"),
        pa.Check(
            _text_check(lambda t: is_blank(t) or not is_blank(strip_html_markup(t))),
            name="not_empty_after_html",
        ),
        pa.Check(_text_check(lambda t: len(t) <= settings.max_text_chars), name="max_length"),
        # NUL: binary or corrupt input (batch prediction rejects it too); PostgreSQL refuses it.
        pa.Check(_text_check(lambda t: "\x00" not in t), name="no_nul"),
    ]
    columns = {TEXT_COLUMN: pa.Column(checks=text_checks, nullable=False, coerce=False)}
    if has_labels:
        columns[LABEL_COLUMN] = pa.Column(
            checks=[pa.Check(lambda labels: labels.isin(LABELS), name="known_label")],
            nullable=not require_labels,
        )
    return pa.DataFrameSchema(columns, strict=False)


def _schema_failures(
    frame: pd.DataFrame, settings: ValidationSettings, has_labels: bool, require_labels: bool
) -> pd.DataFrame:
    """One row per failed check: index, column, reason, value."""
    try:
        with warnings.catch_warnings():
            # pandera's error formatter trips a pandas 2.x warning about its own internals.
            warnings.filterwarnings(
                "ignore", message=_PANDERA_CONCAT_WARNING, category=FutureWarning
            )
            _schema(settings, has_labels, require_labels).validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna()]
        return pd.DataFrame(
            {
                "index": cases["index"].astype(int).to_numpy(),
                "column": cases["column"].to_numpy(),
                "reason": cases["check"].map(lambda check: _REASONS.get(str(check), str(check))),
                "value": cases["failure_case"].to_numpy(),
            }
        )
    return pd.DataFrame(columns=["index", "column", "reason", "value"])


def _quarantine_table(
    frame: pd.DataFrame, failures: pd.DataFrame, row_numbers: np.ndarray
) -> pd.DataFrame:
    """One row per quarantined input row, indexed like ``frame``, numbered by ``row_numbers``
    (each row's, in order); several reasons are joined."""
    if failures.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS, index=frame.index[:0])
    preview = failures["value"].map(
        lambda v: "" if pd.api.types.is_scalar(v) and pd.isna(v) else str(v)[:_PREVIEW_CHARS]
    )  # a missing value is shown empty, not as "nan"
    failures = failures.assign(value=preview)
    grouped = failures.groupby("index", sort=True).agg(
        column=("column", lambda c: "; ".join(dict.fromkeys(map(str, c)))),
        reason=("reason", lambda r: "; ".join(dict.fromkeys(map(str, r)))),
        value=("value", "first"),
    )
    positions = frame.index.get_indexer(grouped.index)
    grouped.insert(0, "row_number", row_numbers[positions])  # 1-based data row, header not counted
    grouped.index.name = None
    return grouped[QUARANTINE_COLUMNS]


def _length_stats(texts: pd.Series) -> dict[str, dict[str, float]]:
    if texts.empty:
        return {}
    # str.split's whitespace is the regex \s: runs of \S counted three times faster.
    lengths = {"chars": texts.str.len(), "words": texts.map(lambda text: len(text.split()))}
    return {
        name: {
            "min": float(values.min()),
            "mean": round(float(values.mean()), 2),
            "median": float(values.median()),
            "p95": float(values.quantile(0.95)),
            "max": float(values.max()),
        }
        for name, values in lengths.items()
    }


def _build_report(
    rows: int,
    valid: pd.DataFrame,
    quarantined: pd.DataFrame,
    duplicate_rows: int,
    source: str,
    settings: ValidationSettings,
    has_labels: bool,
    *,
    unreadable: int = 0,
) -> ValidationReport:
    label_counts: dict[str, int] = {}
    minority_share: float | None = None
    warnings = []
    if has_labels and not valid.empty:
        counts = valid[LABEL_COLUMN].value_counts()
        label_counts = {label: int(counts.get(label, 0)) for label in LABELS}
        minority_share = round(min(label_counts.values()) / max(sum(label_counts.values()), 1), 4)
        if minority_share < settings.min_label_share:
            warnings.append(
                f"labels are imbalanced: the rarer label is {minority_share:.1%} of valid rows "
                f"(threshold {settings.min_label_share:.0%})"
            )
    if duplicate_rows:
        kept = (
            "quarantined" if settings.quarantine_duplicates else "kept; splits keep copies together"
        )
        repeat = "row repeats" if duplicate_rows == 1 else "rows repeat"
        warnings.append(f"{duplicate_rows} {repeat} the text of an earlier row ({kept})")
    if unreadable:
        warnings.append(
            f"{_rows(unreadable)} could not be read (not UTF-8, NUL bytes, broken JSON or CSV)"
        )
    if not quarantined.empty:
        warnings.append(f"{_rows(len(quarantined))} quarantined")
    if valid.empty:
        warnings.append("no row is valid" if rows else "no rows: the file holds none to validate")
    reasons = Counter(r for joined in quarantined["reason"] for r in str(joined).split("; "))
    data_columns = [c for c in (TEXT_COLUMN, LABEL_COLUMN) if c in valid.columns]
    return ValidationReport(
        source=source,
        rows=rows,
        valid_rows=len(valid),
        quarantined_rows=len(quarantined),
        duplicate_rows=duplicate_rows,
        quarantine_reasons=dict(reasons),
        label_counts=label_counts,
        minority_label_share=minority_share,
        length=_length_stats(valid[TEXT_COLUMN]),
        digest=frame_digest(valid, data_columns),
        warnings=warnings,
    )


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"
