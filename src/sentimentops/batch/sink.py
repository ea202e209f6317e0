"""Where a batch run's rows go: a part and a checkpoint per chunk (what ``--resume`` continues
from), then the output and rejects assembled atomically (uploaded when remote), the summary last."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentimentops.batch.rules import Scored, no_rejects
from sentimentops.batch.writers import output_format, write_table
from sentimentops.errors import BadInputError, DataError
from sentimentops.storage import REJECTS, SUMMARY, Location, storage_errors
from sentimentops.tracking.loading import LoadedModel

__all__ = [
    "BatchSummary",
    "Sink",
    "already_scored",
    "check_output",
    "rejects_path",
    "summary_path",
]


@dataclass(frozen=True)
class BatchSummary:
    input: str
    output: str
    rejects: str
    rows_in: int
    predicted: int
    rejected: int
    seconds: float  # the pass over the data (read, score, write, upload): rows_per_second's
    rows_per_second: float
    model_name: str
    model_version: str
    resumed_from_chunk: int
    input_fingerprint: str | None = None  # None in summaries older than the field, as below
    wall_seconds: float | None = None  # the whole job: loading the model, starting Dask too

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rejects_path(output: Path) -> Path:
    """The rejects beside a local output."""
    return Location(output).beside(REJECTS).path


def summary_path(output: Path) -> Path:
    """The summary beside a local output."""
    return Location(output).beside(SUMMARY).path


def already_scored(input_location: str, output: str, model: LoadedModel) -> bool:
    """Whether ``output`` holds ``model``'s predictions of ``input_location`` as it is now: its
    summary (written last) names this input, model, version and the input's current fingerprint."""
    target = Location(output)
    summary = target.beside(SUMMARY)
    try:
        if not (target.exists() and summary.exists()):
            return False
        with summary.open("rb") as stream:
            done = json.loads(stream.read())
    except FileNotFoundError:  # the summary gone since the check: not done
        return False
    return bool(
        done.get("input") == input_location
        and done.get("model_name") == model.name
        and str(done.get("model_version")) == model.version
        and done.get("input_fingerprint")  # older summaries have none: scored again
        and done["input_fingerprint"] == Location(input_location).fingerprint()
    )


def check_output(output: Location, input_location: Location) -> None:
    """Refuse, creating nothing, an output that cannot be written: DataError for an unknown
    extension, BadInputError when it would overwrite the input or cannot be written there."""
    output_format(output)
    written = [output, output.beside(REJECTS), output.beside(SUMMARY)]
    if any(input_location.same_place(location) for location in written):
        raise BadInputError(
            f"The output {output} (or its rejects or summary beside it) would overwrite the "
            f"input {input_location}. Choose another OUTPUT."
        )
    if output.remote:
        with storage_errors(f"checking {output} before scoring"):
            output.require_bucket()
        return
    path = output.path
    if path.is_dir():
        raise BadInputError(
            f"The output {path} is a folder: name a file in it, such as {path / 'scored.csv'}."
        )
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInputError(
            f"Cannot write the output {path}: {folder} is a file, not a folder. Choose another "
            "OUTPUT."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInputError(
            f"Cannot write the output {path}: no permission to write in {folder}. Choose "
            "another OUTPUT, or a folder you may write to."
        )


class Sink:
    """The parts of one output in ``OUTPUT.parts/`` (in staging when remote): cleared, or with
    ``resume`` continued; DataError when their checkpoint is not ``identity``'s, BadInputError
    when their folder cannot be created."""

    def __init__(self, output: Location, identity: dict[str, Any], *, resume: bool) -> None:
        self.output = output
        # One staging folder per output URI, so that resume finds it.
        digest = hashlib.sha256(output.text.encode()).hexdigest()[:16]
        self.assembled = _staging() / digest / output.name if output.remote else output.path
        self.parts = self._beside(".parts")
        self.checkpoint = self.parts / "checkpoint.json"
        self.identity = identity
        self.done = self._chunks_done() if resume else 0  # chunks an interrupted run completed
        if not resume:
            shutil.rmtree(self.parts, ignore_errors=True)
        try:
            with storage_errors(f"creating {self.parts}", writes=True):
                self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a full disk is StorageFullError by now
            # check_output passed, as permissions tell; the file system may still refuse (/proc).
            raise BadInputError(
                f"Cannot write the output {output}: {self.parts} cannot be created "
                f"({error.strerror or error}). Choose another OUTPUT."
            ) from None
        self.chunks = self.done

    @contextmanager
    def removed_unless_resumable(self) -> Iterator[None]:
        """Remove the parts when the block fails before a chunk was completed: nothing to
        resume from, nothing to leave behind."""
        try:
            yield
        except BaseException:
            if not self.checkpoint.exists():
                shutil.rmtree(self.parts, ignore_errors=True)
            raise

    def taken_ids(self, id_column: str | None) -> set[str]:
        """The ids in the completed parts: a resumed run goes on rejecting them as repeats."""
        import pyarrow.parquet as pq

        taken: set[str] = set()
        for index in range(self.done):
            for name, column in (
                (f"output-{index:06d}", id_column),
                (f"rejects-{index:06d}", "id"),
            ):
                path = self.parts / f"{name}.parquet"
                if column is not None and path.exists():
                    table = pq.read_table(path)
                    if column in table.column_names:
                        values = table[column].to_pylist()
                        taken.update(str(value) for value in values if value is not None)
        return taken

    def write(self, chunks: Iterable[Scored], progress: Callable[[int], None]) -> int:
        """Each chunk as its part files, then its checkpoint; ``progress`` is told its records.
        Returns the records written."""
        records = 0
        for chunk in chunks:
            for name, frame in (("output", chunk.predictions), ("rejects", chunk.rejects)):
                if not frame.empty:
                    frame.to_parquet(self.parts / f"{name}-{self.chunks:06d}.parquet", index=False)
            self.chunks += 1
            _write_json(self.checkpoint, self.identity | {"chunks_done": self.chunks})
            records += chunk.records
            progress(chunk.records)
        return records

    def finish(
        self,
        read: int,
        model: LoadedModel,
        started: float,
        *,
        job_started: float,
        empty: pd.DataFrame,
        skipped: int = 0,
    ) -> BatchSummary:
        """Assemble output and rejects from the parts (uploaded when remote), then the summary,
        which says the output is complete; an output without parts gets ``empty``'s columns.
        ``skipped``: rows an earlier run scored. RuntimeError (parts kept) unless the parts hold
        ``read``."""
        outputs = sorted(self.parts.glob("output-*.parquet"))
        predicted = write_table(outputs, self.assembled, empty)
        rejects = self._beside(REJECTS)
        parts = sorted(self.parts.glob("rejects-*.parquet"))
        rejected = write_table(parts, rejects, no_rejects())
        if predicted + rejected != read:
            raise RuntimeError(
                f"{read:,} records read but {predicted:,} predicted + {rejected:,} rejected "
                f"written: a bug, please report it. Parts kept in {self.parts}."
            )
        shutil.rmtree(self.parts)
        if self.output.remote:
            self.output.beside(REJECTS).put(rejects)
            self.output.put(self.assembled)
        seconds = time.perf_counter() - started
        summary = BatchSummary(
            input=self.identity["input"],
            output=str(self.output),
            rejects=str(self.output.beside(REJECTS)),
            rows_in=read,
            predicted=predicted,
            rejected=rejected,
            seconds=round(seconds, 3),
            # Of this run: rows a resumed run skipped were scored by the one before.
            rows_per_second=round((read - skipped) / seconds, 1) if seconds else 0.0,
            model_name=model.name,
            model_version=model.version,
            resumed_from_chunk=self.done,
            input_fingerprint=self.identity["input_fingerprint"],
            wall_seconds=round(time.perf_counter() - job_started, 3),
        )
        _write_json(self._beside(SUMMARY), summary.to_dict())
        if self.output.remote:
            self.output.beside(SUMMARY).put(self._beside(SUMMARY))
            shutil.rmtree(self.assembled.parent)
        return summary

    def _beside(self, suffix: str) -> Path:
        return self.assembled.with_name(self.assembled.name + suffix)

    def _chunks_done(self) -> int:
        if not self.checkpoint.exists():
            return 0
        state = json.loads(self.checkpoint.read_text())
        identity = self.identity
        different = {
            key: state.get(key) for key, value in identity.items() if state.get(key) != value
        }
        if different.keys() == {"input_fingerprint"} and state.get("input_fingerprint"):
            raise DataError(
                f"--resume: {identity['input']} changed since the interrupted run (its "
                f"fingerprint was {different['input_fingerprint']!r}, is now "
                f"{identity['input_fingerprint']!r}): the chunks completed in {self.parts} were "
                "scored from the old content and would be mixed with the new. Run without "
                "--resume to score the input as it is now from the start, or put the original "
                "input back (a local file with its modification time: cp -p) and resume."
            )
        if different:
            shown = ", ".join(f"{key}={value!r}" for key, value in different.items())
            raise DataError(
                f"--resume: {self.checkpoint} belongs to another run ({shown}); rerun with the "
                "same input (unchanged), model, columns, --chunk-size, --explain and "
                "validation.max_text_chars, or without --resume to start over."
            )
        return int(state["chunks_done"])


def _staging() -> Path:
    from sentimentops.config import get_settings

    return get_settings().home / "staging"


def _write_json(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content, indent=2) + "\n")
    temporary.replace(path)
