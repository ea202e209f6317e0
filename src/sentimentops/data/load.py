"""Read review datasets (CSV, Parquet, JSON Lines, gzip or not, local or ``s3://``; an ``aclImdb/``
folder) into one table with ``review`` and ``sentiment``; a file not read whole is a DataError."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Literal

import pandas as pd

from sentimentops.config import DataSettings, source_checkout
from sentimentops.data.aclimdb import is_aclimdb_folder, read_aclimdb_folder
from sentimentops.data.version import sha256_file
from sentimentops.errors import ChecksumMismatchError, DataError
from sentimentops.features.blank import is_blank
from sentimentops.storage import Location, LocationLike

__all__ = [
    "LABEL_COLUMN",
    "SUPPORTED_FORMATS",
    "TEXT_COLUMN",
    "DatasetFormat",
    "canonical_columns",
    "detect_format",
    "load_reference_dataset",
    "load_reviews",
    "load_verified_parquet",
    "read_expected_sha256",
    "read_table",
]

TEXT_COLUMN = "review"
LABEL_COLUMN = "sentiment"

DatasetFormat = Literal["csv", "parquet", "jsonl", "aclimdb"]
SUPPORTED_FORMATS = (
    ".csv, .csv.gz, .parquet, .pq, .jsonl, .ndjson, .jsonl.gz, or an aclImdb/ folder"
)


def detect_format(location: LocationLike) -> DatasetFormat:
    """The format of a dataset from its name (and, for local folders, its layout)."""
    where = Location(location)
    if not where.remote and where.path.is_dir():
        if is_aclimdb_folder(where.path):
            return "aclimdb"
        raise DataError(
            f"{location} is a folder but not the aclImdb layout "
            "(train|test/pos|neg/<id>_<rating>.txt). Point at a data file or an aclImdb folder."
        )
    if where.format is not None:
        return where.format
    raise DataError(
        f"Cannot tell the format of {location} from its name. Supported: {SUPPORTED_FORMATS}."
    )


def load_reviews(
    location: LocationLike,
    *,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    require_labels: bool = False,
) -> pd.DataFrame:
    """A dataset's rows in file order as :func:`canonical_columns` (labels not validated yet).
    Raises DataError as :func:`read_table` and :func:`canonical_columns` do."""
    return canonical_columns(
        read_table(location), location, text_column, label_column, require_labels=require_labels
    )


def read_table(location: LocationLike) -> pd.DataFrame:
    """The rows of any supported file or folder as they are. Raises DataError (missing, unknown
    format, undecodable, malformed), ConfigError or StorageUnavailableError (S3)."""
    where = Location(location)
    if not where.exists():
        raise DataError(f"{location} does not exist. Check the path (or the S3 bucket and key).")
    dataset_format = detect_format(where)
    if dataset_format == "aclimdb":
        return read_aclimdb_folder(where.path)
    parse = {"csv": _parse_csv, "parquet": _parse_parquet, "jsonl": _parse_jsonl}[dataset_format]
    return parse(_read_bytes(where), where)


def read_expected_sha256(checksum_file: Path) -> str:
    """The digest from a ``sha256sum``-format file (``<hex>  <name>``)."""
    try:
        first_field = checksum_file.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError) as error:
        raise DataError(
            f"Cannot read the checksum file {checksum_file} ({error}). "
            "It must hold a line '<sha256>  <file name>' as written by sha256sum."
        ) from None
    return first_field.lower()


def load_reference_dataset(settings: DataSettings) -> tuple[pd.DataFrame, Path]:
    """The reference dataset (the vendored IMDB data by default), checked against its sha256, and
    where it was found (here, else the project folder); DataError or ChecksumMismatchError."""
    path, checksum_file = settings.reference_files()
    if not path.is_file():
        checkout = source_checkout()
        where = f"the working directory {Path.cwd()}" + (
            f" or the project folder {checkout}" if checkout else ""
        )
        raise DataError(
            f"The reference dataset {path} is not in {where}. Set data.reference_path "
            "(SENTIMENTOPS_DATA__REFERENCE_PATH) to where it is, or name a dataset of your own."
        )
    return load_verified_parquet(path, checksum_file), path


def load_verified_parquet(path: Path, checksum_file: Path) -> pd.DataFrame:
    """A vendored dataset, its bytes checked against the recorded sha256 first; DataError when
    ``path`` is missing, ChecksumMismatchError when the bytes differ."""
    if not path.is_file():
        raise DataError(
            f"The dataset {path} does not exist. Set data.reference_path "
            "(SENTIMENTOPS_DATA__REFERENCE_PATH) to where it is."
        )
    expected = read_expected_sha256(checksum_file)
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{path} has sha256 {actual}, but {checksum_file} records {expected}. The file was "
            f"changed or truncated: restore it with `git checkout -- {path}`."
        )
    return load_reviews(path)


def _read_bytes(location: Location) -> bytes:
    try:
        with location.open("rb") as stream:  # S3's failures come as errors of ours
            raw: bytes = stream.read()
    except OSError as error:
        raise DataError(f"Cannot read {location}: {error}.") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic number: decompress whatever the name says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:  # a bad header, CRC, data; truncated
            raise DataError(
                f"{location} looks gzip-compressed but is corrupt or truncated ({error}). "
                "Re-create or re-download it."
            ) from None
    return raw


def _decode(raw: bytes, location: Location) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{location} is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} cannot "
            "be decoded. Re-save the file as UTF-8 (or check that it is the file you meant)."
        ) from None


def _parse_csv(raw: bytes, location: Location) -> pd.DataFrame:
    text = _decode(raw, location)
    if is_blank(text):
        raise DataError(f"{location} is empty. A CSV needs a header line such as review,sentiment.")
    if "\x00" in text:
        # pandas' CSV parser ends a field at a NUL without a word: the review would be cut short.
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataError(
            f"{location} holds a NUL byte on line {line}: a CSV of reviews never does, so the "
            "file is binary or corrupt. Check that it is the file you meant, or remove the NULs."
        )
    try:
        # Every field stays text; only empty fields are missing ("NA" or "null" can be a review).
        return pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], engine="c"
        )
    except pd.errors.ParserError as error:
        detail = str(error).strip().removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"{location} is not a well-formed CSV: {detail}. Every row needs as many fields as "
            "the header, and a review containing commas, quotes or line breaks must be enclosed "
            'in double quotes with inner quotes doubled (""). Fix the row or re-export the file.'
        ) from None


def _parse_parquet(raw: bytes, location: Location) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(raw))
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise DataError(
            f"{location} is not a readable Parquet file ({type(error).__name__}: {error}). "
            "Check the file or convert it again."
        ) from None


def _parse_jsonl(raw: bytes, location: Location) -> pd.DataFrame:
    records = []
    for line_number, line in enumerate(_decode(raw, location).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{location} line {line_number} is not valid JSON ({error.msg}). "
                "JSON Lines needs one complete JSON object per line."
            ) from None
        except RecursionError:  # [[[[...]]]] thousands deep: refused, not a crash
            raise DataError(
                f"{location} line {line_number} is nested too deeply to be a review record. "
                "JSON Lines needs one flat JSON object per line."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{location} line {line_number} holds a JSON {type(record).__name__}, not an "
                'object. Write each review as {"review": "...", "sentiment": "..."}.'
            )
        records.append(record)
    if not records:
        raise DataError(f"{location} holds no JSON records.")
    return pd.DataFrame.from_records(records)


def canonical_columns(
    frame: pd.DataFrame,
    location: LocationLike,
    text_column: str,
    label_column: str,
    *,
    require_labels: bool = False,
) -> pd.DataFrame:
    """``frame`` with a fresh index, its text column named ``review`` and labels ``sentiment``;
    DataError when a column is missing (labels: with ``require_labels``, or when named other than
    ``sentiment``) or would be shadowed."""
    available = ", ".join(map(str, frame.columns)) or "none"
    if text_column not in frame.columns:
        raise DataError(
            f"{location} has no text column '{text_column}' (columns: {available}). "
            "Name the column holding the review text with --text-column."
        )
    if require_labels and label_column not in frame.columns:
        raise DataError(
            f"{location} has no label column '{label_column}' (columns: {available}). Name the "
            "column holding the labels with --label-column, or validate reviews without "
            "labels with `sentimentops data validate --no-labels`."
        )
    # Only the default label column may be absent (unlabelled reviews); another was named.
    if label_column != LABEL_COLUMN and label_column not in frame.columns:
        raise DataError(
            f"{location} has no label column '{label_column}' (columns: {available}). Name the "
            "column holding the labels with --label-column, or leave it out for reviews without "
            "labels."
        )
    renames = {text_column: TEXT_COLUMN}
    if label_column in frame.columns:
        renames[label_column] = LABEL_COLUMN
    for source, target in renames.items():
        if source != target and target in frame.columns:
            raise DataError(
                f"{location} has both '{source}' and '{target}' columns; renaming '{source}' to "
                f"'{target}' would shadow one. Rename or drop one of them first."
            )
    return frame.rename(columns=renames).reset_index(drop=True)
