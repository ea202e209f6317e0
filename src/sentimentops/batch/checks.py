"""What a batch run checks before it loads a model: that its input can be read and has the
columns it names, and that its output can be written.

Loading a model takes seconds (a registry, a large vocabulary); a typo in a path or a column
name is told at once instead, and nothing is written on the way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

from sentimentops.batch.records import read_records
from sentimentops.batch.writers import output_format
from sentimentops.errors import BadInputError, DataError
from sentimentops.storage import (
    Location,
    checked_key,
    is_remote,
    local_path,
    object_store_error,
    object_store_errors,
    rejects_location,
    require_bucket,
    summary_location,
)

__all__ = ["check_columns", "check_job"]

# How far the check reads for the first readable record: an input that opens with more unreadable
# rows than this has its columns checked by the run itself, on its first readable record.
FIRST_RECORDS = 1_000


def check_job(
    input_location: str,
    output: Location,
    *,
    text_column: str,
    id_column: str | None,
    require_id_column: bool = False,
) -> None:
    """Refuse a run that cannot succeed, before a model is loaded or anything is written.

    Raises:
        DataError: the input does not exist or cannot be read, its format or the output's is
            unknown, or its first readable record lacks ``text_column`` (or ``id_column``, when
            ``require_id_column``).
        BadInputError: the output cannot be written (its folder is a file, or not writable; it
            is a folder itself), it would overwrite the input, or its S3 bucket does not exist.
        UnsafeLocationError: an ``s3://`` input or output key with a ``.``/``..`` segment.
        ConfigError: no AWS credentials to reach an ``s3://`` location with.
        StorageUnavailableError: S3 kept failing (or did not answer) after its retries.
    """
    output_format(output)
    for location in (input_location, output):
        checked_key(location)
    _check_output(input_location, output)
    with object_store_errors(
        f"checking {input_location} before scoring", then="run again", refused_as=DataError
    ):
        first = _first_readable_record(input_location)
    if first is not None:
        check_columns(first, input_location, text_column, id_column, require_id_column)


def check_columns(
    fields: Mapping[str, Any],
    location: str,
    text_column: str,
    id_column: str | None,
    require_id_column: bool = False,
) -> bool:
    """Whether a record (``fields``) of ``location`` has ``id_column``, once it is known to
    have ``text_column``.

    Raises:
        DataError: no ``text_column``; or no ``id_column`` when ``require_id_column``.
    """
    columns = ", ".join(map(str, fields))
    if text_column not in fields:
        raise DataError(
            f"{location} has no text column '{text_column}' (columns: {columns}). "
            "Name it with --text-column."
        )
    if id_column is not None and id_column in fields:
        return True
    if require_id_column:
        raise DataError(
            f"{location} has no id column '{id_column}' (columns: {columns}). Name it with "
            "--id-column, or leave the option out to number the rows (row_number)."
        )
    return False


def _first_readable_record(input_location: str) -> dict[str, Any] | None:
    """The fields of the input's first readable record, None when none of the first
    :data:`FIRST_RECORDS` can be read (or the input has no records)."""
    try:
        with closing(read_records(input_location)) as records:
            readable = (record.fields for record in islice(records, FIRST_RECORDS))
            return next((fields for fields in readable if fields is not None), None)
    except OSError as error:
        if object_store_error(error) is not None:
            raise  # S3's answer, mapped by the caller's rule
        # A folder, no read permission: the file is there, but is not a file to read.
        raise DataError(
            f"{input_location} cannot be read ({error.strerror or error}). Check that it is a "
            "file you may read."
        ) from None


def _check_output(input_location: str, output: Location) -> None:
    written = [str(output), rejects_location(output), summary_location(output)]
    if any(_same_location(input_location, location) for location in written):
        raise BadInputError(
            f"The output {output} (or its rejects or summary beside it) would overwrite the "
            f"input {input_location}. Choose another OUTPUT."
        )
    if is_remote(output):
        with object_store_errors(f"checking {output} before scoring", then="run again"):
            require_bucket(output)
        return
    _check_writable(local_path(output))


def _same_location(first: Location, second: Location) -> bool:
    if is_remote(first) or is_remote(second):
        return str(first) == str(second)
    return os.path.realpath(local_path(first)) == os.path.realpath(local_path(second))


def _check_writable(output: Path) -> None:
    """Refuse a local output that cannot be written, without creating anything: the folders
    that do not exist yet are made by the run."""
    if output.is_dir():
        raise BadInputError(
            f"The output {output} is a folder: name a file in it, such as {output / 'scored.csv'}."
        )
    folder = output.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInputError(
            f"Cannot write the output {output}: {folder} is a file, not a folder. Choose "
            "another OUTPUT."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInputError(
            f"Cannot write the output {output}: no permission to write in {folder}. Choose "
            "another OUTPUT, or a folder you may write to."
        )
