"""Score a file of reviews in chunks: every input row ends in the output or in the rejects.

A repeated id is rejected ("duplicate id"): the first record with an id keeps it, so an output
holds each id once and a prediction can be matched to its input row by id.

Each chunk is written as a part file (output rows and rejects) in ``OUTPUT.parts/`` with a
checkpoint after it, so ``resume=True`` continues a killed run from its last completed chunk.
The final output is assembled from the parts into a temporary file and renamed into place, so a
reader never sees a partial output presented as complete.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentimentops.batch.checks import check_columns
from sentimentops.batch.engines import Engine, LocalEngine, ScoreHandle
from sentimentops.batch.records import Record, read_records
from sentimentops.batch.writers import output_format, write_table
from sentimentops.errors import (
    DataError,
    ModelNotFoundError,
    RejectLimitExceededError,
    StorageFullError,
)
from sentimentops.features.blank import is_blank
from sentimentops.models.sentiment import labels_of
from sentimentops.storage import (
    Location,
    fingerprint,
    is_remote,
    local_path,
    location_exists,
    location_name,
    object_store_errors,
    open_location,
    put_file,
    rejects_location,
    sibling,
    summary_location,
)

__all__ = [
    "BatchPredictor",
    "BatchSummary",
    "LoadedModel",
    "already_scored",
    "rejects_path",
    "summary_path",
]

REJECT_COLUMNS = ["row_number", "id", "reason", "raw"]
# No space on the device, the user's quota exhausted, a file-size limit: all mean "write elsewhere".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score, and its identity.

    ``score(texts)`` returns the probability of positive per text, NaN for a text with nothing
    left after cleaning (which the predictor rejects): the model cleans each text once, on
    whichever process scores it.
    """

    score: Callable[[list[str]], Any]
    name: str
    version: str
    location: str  # what a Dask worker loads: a folder or models:/name/version
    explain: Callable[[list[str]], list[str]] | None = None  # top n-grams per text


@dataclass(frozen=True)
class BatchSummary:
    input: str
    output: str
    rejects: str
    rows_in: int
    predicted: int
    rejected: int
    # The pass over the data (read, score, write, upload an s3:// output): what rows_per_second
    # divides by.
    seconds: float
    rows_per_second: float
    model_name: str
    model_version: str
    resumed_from_chunk: int
    # The input's content when it was scored (storage.fingerprint: size and mtime locally, the
    # ETag on S3): an input rewritten under the same name is another input. None in summaries
    # written before this field existed.
    input_fingerprint: str | None = None
    # The whole job, from its start: also loading the model and starting a Dask cluster. None
    # in summaries written before this field existed.
    wall_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def already_scored(input_location: str, output: Location, model: LoadedModel) -> bool:
    """Whether ``output`` already holds ``model``'s predictions of ``input_location`` as it is
    now: the output and its summary exist, and the summary names this input, this model and
    version, and the input's current fingerprint. The same name is not enough: a producer that
    rewrites ``s3://inbox/reviews.csv`` daily sends new rows under the old name. A summary
    without a fingerprint (written before it was recorded) counts as not scored.

    The summary is uploaded last (:meth:`BatchPredictor.run`), so it never describes an output
    that is incomplete. Object-store errors are raised as they are: the caller knows what to
    say about them (:func:`~sentimentops.storage.object_store_errors`).
    """
    summary = summary_location(output)
    try:
        if not (location_exists(output) and location_exists(summary)):
            return False
        with open_location(summary, "rb") as stream:
            done = json.loads(stream.read())
        if not (
            done.get("input") == input_location
            and done.get("model_name") == model.name
            and str(done.get("model_version")) == model.version
            and done.get("input_fingerprint")
        ):
            return False
        return bool(done["input_fingerprint"] == fingerprint(input_location))
    except FileNotFoundError:  # the summary gone since the check, or no input: not done
        return False


def rejects_path(output: Path) -> Path:
    """The rejects beside a local output (:func:`~sentimentops.storage.rejects_location`)."""
    return Path(rejects_location(output))


def summary_path(output: Path) -> Path:
    """The summary beside a local output (:func:`~sentimentops.storage.summary_location`)."""
    return Path(summary_location(output))


class BatchPredictor:
    """Streams an input file through a model, ``chunk_size`` records at a time.

    An ``engine`` passed in (a Dask cluster) stays open for more runs: whoever made it closes
    it (:func:`sentimentops.batch.job.score_file` does).
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        text_column: str = "review",
        id_column: str | None = "id",
        require_id_column: bool = False,
        chunk_size: int = 5_000,
        max_text_chars: int = 100_000,
        max_reject_rate: float | None = None,
        progress: Callable[[int], None] | None = None,
        engine: Engine | None = None,
        explain: bool = False,
    ) -> None:
        """``id_column`` is carried to the output when the input has it (``row_number``
        otherwise); with ``require_id_column`` an input without it is refused instead."""
        self.model = model
        self.engine: Engine = engine or LocalEngine(model.score)
        if explain and model.explain is None:
            raise ModelNotFoundError(f"{model.name} cannot explain its predictions (--explain).")
        self.explain = explain
        self.text_column = text_column
        self.id_column = id_column
        self.require_id_column = require_id_column
        self.chunk_size = chunk_size
        self.max_text_chars = max_text_chars
        self.max_reject_rate = max_reject_rate
        self.progress = progress or (lambda _rows: None)

    def run(
        self,
        input_location: str,
        output: Location,
        *,
        resume: bool = False,
        job_started: float | None = None,
    ) -> BatchSummary:
        """Score ``input_location`` into ``output`` (format from its extension).

        ``job_started`` is when the whole job began (a :func:`time.perf_counter` value, before
        the model was loaded): the summary's ``wall_seconds`` count from it, its ``seconds``
        from this call.

        ``output`` may be a local path or an ``s3://`` URI; a remote output is assembled in a
        local staging folder under ``$SENTIMENTOPS_HOME/staging`` (where ``resume`` finds its
        parts) and uploaded with its rejects and summary when complete.

        Raises:
            DataError: the input cannot be read at all, or the text column (or the required id
                column) does not exist.
            RejectLimitExceededError: rejects exceed ``max_reject_rate`` (output still written).
            StorageFullError: the disk the output (or its staging folder) is on is full; the
                completed chunks are kept for ``resume``.
            StorageUnavailableError: S3 kept failing (or did not answer) after its retries.
            BadInputError: S3 refused a request: no such bucket or key, access denied, or a
                malformed bucket name.
            ConfigError: no AWS credentials to reach an ``s3://`` location with.
        """
        started = time.perf_counter()
        output_format(output)  # an unknown extension fails now, not after scoring everything
        remote = is_remote(output)
        local_output = _staging_path(output) if remote else local_path(output)
        with _storage_errors_as_domain_errors(input_location, output, local_output):
            done, predicted, rejected, scored_content = self._score(
                input_location, local_output, resume=resume
            )
            if remote:
                for local in (rejects_path(local_output), local_output):
                    put_file(local, sibling(output, local.name))
        seconds = time.perf_counter() - started
        rows_in = predicted + rejected
        wall_seconds = time.perf_counter() - (started if job_started is None else job_started)
        summary = BatchSummary(
            input=input_location,
            output=str(output),
            rejects=rejects_location(output),
            rows_in=rows_in,
            predicted=predicted,
            rejected=rejected,
            seconds=round(seconds, 3),
            rows_per_second=round(rows_in / seconds, 1) if seconds else 0.0,
            model_name=self.model.name,
            model_version=self.model.version,
            resumed_from_chunk=done,
            input_fingerprint=scored_content,
            wall_seconds=round(wall_seconds, 3),
        )
        with _storage_errors_as_domain_errors(input_location, output, local_output):
            _write_json_atomically(summary_path(local_output), summary.to_dict())
            if remote:
                # The summary last: it is what says the output is complete (the SQS worker's
                # duplicate check trusts it), so it never describes an output that failed to
                # upload, nor an older output beside a newer summary.
                put_file(summary_path(local_output), summary_location(output))
                shutil.rmtree(local_output.parent)
        if (
            self.max_reject_rate is not None
            and rows_in
            and rejected / rows_in > self.max_reject_rate
        ):
            raise RejectLimitExceededError(
                f"{rejected:,} of {rows_in:,} rows rejected ({rejected / rows_in:.1%}), above "
                f"--max-reject-rate {self.max_reject_rate:.1%}. Reasons are in "
                f"{summary.rejects}."
            )
        return summary

    def _score(
        self, input_location: str, output: Path, *, resume: bool
    ) -> tuple[int, int, int, str]:
        """Score into the local ``output``; returns (chunks resumed from, predicted, rejected,
        the input's fingerprint taken before reading it)."""
        parts = output.with_name(output.name + ".parts")
        checkpoint = parts / "checkpoint.json"
        records = read_records(input_location)  # refuses a missing input before it is looked at
        # Taken once, before the first record is read: a file rewritten during the run no longer
        # matches the checkpoints written from it, so they cannot be resumed onto it either.
        identity = self._run_identity(input_location)
        done = self._chunks_done(checkpoint, identity) if resume else 0
        if not resume and parts.exists():
            shutil.rmtree(parts)
        parts.mkdir(parents=True, exist_ok=True)
        with _removed_unless_resumable(parts, checkpoint):
            return self._score_chunks(input_location, records, output, parts, identity, done)

    def _score_chunks(
        self,
        input_location: str,
        records: Iterator[Record],
        output: Path,
        parts: Path,
        identity: dict[str, Any],
        done: int,
    ) -> tuple[int, int, int, str]:
        """The chunks after the first ``done`` into ``parts``, then ``output`` from them."""
        checkpoint = parts / "checkpoint.json"
        read = sum(1 for _ in islice(records, done * self.chunk_size))  # in completed parts
        taken = _ids_taken(parts, done, self.id_column)  # by the records of completed parts
        has_id: bool | None = None  # known once the first readable record is seen
        chunk_index = done
        pending: deque[tuple[_Prepared, ScoreHandle]] = deque()

        def finish_oldest() -> None:
            nonlocal chunk_index
            prepared, handle = pending.popleft()
            scores = np.asarray(handle.result() if prepared.texts else [], dtype=float)
            empty = np.isnan(scores)
            if empty.any():
                prepared = prepared.reject(empty, "text empty after cleaning")
                scores = scores[~empty]
            predictions = self._predictions(prepared, scores)
            if not predictions.empty:
                predictions.to_parquet(parts / f"output-{chunk_index:06d}.parquet", index=False)
            if not prepared.rejects.empty:
                prepared.rejects.to_parquet(
                    parts / f"rejects-{chunk_index:06d}.parquet", index=False
                )
            chunk_index += 1
            _write_json_atomically(checkpoint, identity | {"chunks_done": chunk_index})
            self.progress(prepared.records)

        for chunk in _chunks(records, self.chunk_size):
            read += len(chunk)
            if has_id is None:
                has_id = self._check_columns(chunk, input_location)
            prepared = self._prepare(chunk, has_id, taken)
            handle = self.engine.submit(prepared.texts) if prepared.texts else _NO_SCORES
            pending.append((prepared, handle))
            while len(pending) >= self.engine.in_flight:
                finish_oldest()
        while pending:
            finish_oldest()

        output_parts = sorted(parts.glob("output-*.parquet"))
        reject_parts = sorted(parts.glob("rejects-*.parquet"))
        predicted = write_table(output_parts, output)
        rejected = write_table(reject_parts, rejects_path(output), columns=REJECT_COLUMNS)
        if predicted + rejected != read:
            # Output + rejects = input is the promise of this module; never report success
            # on a run that broke it. The parts stay for inspection.
            raise RuntimeError(
                f"{read:,} records read but {predicted:,} predicted + {rejected:,} rejected "
                f"written: a bug, please report it. Parts kept in {parts}."
            )
        shutil.rmtree(parts)
        return done, predicted, rejected, str(identity["input_fingerprint"])

    def _run_identity(self, input_location: str) -> dict[str, Any]:
        """What a resumed run must share with the killed one, or its parts would not match:
        the input's content too (its fingerprint), not only its name, since a file or S3 key
        rewritten in between would have its new rows appended to chunks scored from the old."""
        return {
            "input": input_location,
            "input_fingerprint": fingerprint(input_location),
            "chunk_size": self.chunk_size,
            "max_text_chars": self.max_text_chars,
            "model": f"{self.model.name}/{self.model.version}",
            "text_column": self.text_column,
            "id_column": self.id_column,
            "explain": self.explain,
        }

    def _chunks_done(self, checkpoint: Path, identity: dict[str, Any]) -> int:
        if not checkpoint.exists():
            return 0
        state = json.loads(checkpoint.read_text())
        different = {
            key: state.get(key) for key, value in identity.items() if state.get(key) != value
        }
        if different.keys() == {"input_fingerprint"} and state.get("input_fingerprint"):
            raise DataError(
                f"--resume: {identity['input']} changed since the interrupted run (its "
                f"fingerprint was {different['input_fingerprint']!r}, is now "
                f"{identity['input_fingerprint']!r}): the chunks completed in {checkpoint.parent} "
                "were scored from the old content and would be mixed with the new. Run without "
                "--resume to score the input as it is now from the start, or put the original "
                "input back (a local file with its modification time: cp -p) and resume."
            )
        if different:
            shown = ", ".join(f"{key}={value!r}" for key, value in different.items())
            raise DataError(
                f"--resume: {checkpoint} belongs to another run ({shown}); rerun with the same "
                "input (unchanged), model, columns, --chunk-size, --explain and "
                "validation.max_text_chars, or without --resume to start over."
            )
        return int(state["chunks_done"])

    def _check_columns(self, chunk: list[Record], location: str) -> bool | None:
        """Whether the input has the id column; None while no record could be read yet."""
        readable = [record.fields for record in chunk if record.fields is not None]
        if not readable:
            return None
        return check_columns(
            readable[0], location, self.text_column, self.id_column, self.require_id_column
        )

    def _prepare(self, chunk: list[Record], has_id: bool | None, taken: set[str]) -> _Prepared:
        """Split a chunk into texts to score (with their ids) and rejects with reasons.

        ``taken`` holds the ids of the records before this chunk; this chunk's are added. A
        record whose id is taken is a reject ("duplicate id"), whatever became of the first.
        """
        identifiers: list[Any] = []
        texts: list[str] = []
        accepted: list[Record] = []
        rejects = []
        key = self.id_column if has_id and self.id_column else "row_number"
        for record in chunk:
            text = None if record.fields is None else record.fields.get(self.text_column)
            reason = record.reason or self._text_problem(text)
            identifier: Any = record.row_number
            if key != "row_number":
                # An unreadable row has no id: None, never its row number posing as one.
                identifier = None if record.fields is None else record.fields.get(key)
                if _is_missing(identifier):
                    # Absent, null, or an empty CSV cell: scored, it would have no id to be
                    # joined back on (monitoring joins by id), and many such rows would collide.
                    identifier = None
                    reason = reason or "missing id"
                else:
                    # Ids are compared as the output writes them: as text.
                    identifier = str(identifier)
                    if identifier in taken:
                        reason = reason or "duplicate id"
                    taken.add(identifier)
            if reason is None:
                texts.append(str(text))
                identifiers.append(identifier)
                accepted.append(record)
            else:
                rejects.append(
                    _reject_row(record, None if key == "row_number" else identifier, reason)
                )
        return _Prepared(key, identifiers, texts, accepted, _reject_frame(rejects), len(chunk))

    def _predictions(self, prepared: _Prepared, scores: Any) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                prepared.key: prepared.identifiers,
                "label": labels_of(scores),
                "score": [float(s) for s in scores],
                "model_name": self.model.name,
                "model_version": self.model.version,
            }
        )
        if self.explain and self.model.explain is not None:
            frame["top_ngrams"] = self.model.explain(prepared.texts) if prepared.texts else []
        return frame

    def _text_problem(self, text: Any) -> str | None:
        # An empty CSV field is how CSV spells a missing value.
        if text is None or text == "" or (isinstance(text, float) and pd.isna(text)):
            return "missing text"
        if not isinstance(text, str):
            # A number, list or object where a review belongs (JSON Lines, Parquet): a score of
            # its printed form would be a prediction about nothing.
            return f"text is not a string (got {type(text).__name__})"
        if is_blank(text):
            return "empty text"
        if len(text) > self.max_text_chars:
            return f"text longer than {self.max_text_chars:,} characters"
        return None  # "text empty after cleaning" is known once the model has cleaned it


@dataclass(frozen=True)
class _Prepared:
    key: str  # the id column of the output: the input's id column or row_number
    identifiers: list[Any]
    texts: list[str]
    accepted: list[Record]  # the records of ``texts``, for rejects found after scoring
    rejects: pd.DataFrame
    records: int

    def reject(self, mask: np.ndarray, reason: str) -> _Prepared:
        """The same chunk with the texts where ``mask`` is true moved to the rejects."""
        keep = [index for index, rejected in enumerate(mask) if not rejected]
        late = [
            _reject_row(
                record, None if self.key == "row_number" else self.identifiers[index], reason
            )
            for index, record in enumerate(self.accepted)
            if mask[index]
        ]
        rejects = pd.concat([self.rejects, _reject_frame(late)], ignore_index=True)
        return _Prepared(
            self.key,
            [self.identifiers[index] for index in keep],
            [self.texts[index] for index in keep],
            [self.accepted[index] for index in keep],
            rejects.sort_values("row_number", kind="stable", ignore_index=True),
            self.records,
        )


def _ids_taken(parts: Path, chunks: int, id_column: str | None) -> set[str]:
    """The ids of the records in the first ``chunks`` completed chunks of ``parts``: in their
    predictions' id column and their rejects' ``id``. A resumed run goes on rejecting them."""
    import pyarrow.parquet as pq

    taken: set[str] = set()
    for index in range(chunks):
        for path, column in (
            (parts / f"output-{index:06d}.parquet", id_column),
            (parts / f"rejects-{index:06d}.parquet", "id"),
        ):
            if column is None or not path.exists():
                continue
            table = pq.read_table(path)
            if column in table.column_names:
                taken.update(str(value) for value in table[column].to_pylist() if value is not None)
    return taken


@contextmanager
def _removed_unless_resumable(parts: Path, checkpoint: Path) -> Iterator[None]:
    """Remove ``parts`` when the block fails before any chunk was completed (no checkpoint):
    nothing in it to resume from, so nothing to leave behind."""
    try:
        yield
    except BaseException:
        if not checkpoint.exists():
            shutil.rmtree(parts, ignore_errors=True)
        raise


def _is_missing(value: Any) -> bool:
    """None (an absent key, a JSON null, a Parquet null), NaN, or the empty string: how CSV
    spells a missing value (the same rule as a missing text)."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _reject_row(record: Record, identifier: Any, reason: str) -> dict[str, Any]:
    return {
        "row_number": record.row_number,
        "id": None if identifier is None else str(identifier),
        "reason": reason,
        "raw": record.raw,
    }


def _reject_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REJECT_COLUMNS).astype(
        {"row_number": "int64", "id": "object", "reason": "object", "raw": "object"}
    )


_NO_SCORES = LocalEngine(lambda texts: []).submit([])


def _staging_path(output: Location) -> Path:
    """Where a remote output is assembled: one folder per output URI, so resume finds it."""
    from sentimentops.config import get_settings

    digest = hashlib.sha256(str(output).encode()).hexdigest()[:16]
    return get_settings().home / "staging" / digest / location_name(output)


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while chunk := list(islice(records, size)):
        yield chunk


@contextmanager
def _storage_errors_as_domain_errors(
    input_location: str, output: Location, local_output: Path
) -> Iterator[None]:
    """Raise a full disk as :class:`StorageFullError`, and an object store failure by
    storage's one rule (:func:`~sentimentops.storage.object_store_errors`): one that keeps
    failing as :class:`StorageUnavailableError`, one that refuses (no such bucket or key, access
    denied, a malformed bucket name) as :class:`BadInputError`, missing credentials as
    :class:`ConfigError`; each says where and what to do, instead of a bare OSError or
    botocore error; the partial file was already removed and the completed chunks are kept."""
    parts = local_output.with_name(local_output.name + ".parts")
    action = f"scoring {input_location} into {output}"
    resume = "rerun with --resume (nothing was presented as complete)"
    try:
        with object_store_errors(action, then=resume):
            yield
    except OSError as error:
        if error.errno not in DISK_FULL_ERRNOS:
            raise
        written = error.filename or local_output.parent
        raise StorageFullError(
            f"Out of space writing {written} ({errno.errorcode[error.errno]}: "
            f"{os.strerror(error.errno)}) for the output {output}; no partial output was "
            f"left as if complete. Free space on that disk (or raise its quota or file-size "
            f"limit) and rerun with --resume to continue from the last completed chunk, "
            f"kept in {parts}; or choose another OUTPUT."
        ) from error


def _write_json_atomically(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content, indent=2) + "\n")
    temporary.replace(path)
