"""The batch job, as the CLI, the flows and the SQS worker run it: check the input and the
output, load the model, then stream the source through the reject rules and an engine into
the sink."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice

from sentimentops.batch.engines import open_engine, scored
from sentimentops.batch.options import BatchOptions
from sentimentops.batch.rules import RejectRules
from sentimentops.batch.sink import BatchSummary, Sink, check_output
from sentimentops.batch.source import Source
from sentimentops.errors import DataError, RejectLimitExceededError
from sentimentops.storage import Location, LocationLike, storage_errors
from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = ["BatchPredictor", "check_job"]


def check_job(input_location: LocationLike, output: LocationLike, options: BatchOptions) -> Source:
    """The input, once a run of it into ``output`` is known to be possible: checked before a
    model is loaded (seconds) or anything is written.

    Raises:
        DataError: the input does not exist, cannot be read, lacks the columns named; or a
            format is unknown.
        BadInputError: the output cannot be written, or would overwrite the input.
        UnsafeLocationError: an ``s3://`` key with a ``.`` or ``..`` segment.
        ConfigError, StorageUnavailableError: no AWS credentials; S3 failing after retries.
    """
    with storage_errors(f"checking {input_location} before scoring", refused_as=DataError):
        source = Source(input_location, options)
    check_output(Location(output), source.location)
    return source


class BatchPredictor:
    """Scores files with ``model``: a URI (loaded once a run is known to be possible), or a
    model already loaded (a long-running worker keeps it between jobs). ``status`` is told
    each step as it starts; ``progress`` the records done after each chunk."""

    def __init__(
        self,
        model: str | LoadedModel,
        options: BatchOptions | None = None,
        *,
        progress: Callable[[int], None] | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.options = options or BatchOptions()
        self.progress = progress or (lambda _records: None)
        self.status = status or (lambda _step: None)

    def run(
        self, input_location: LocationLike, output: LocationLike, *, resume: bool = False
    ) -> BatchSummary:
        """Score the input (CSV, JSON Lines or Parquet: a path or URI) into ``output`` (its
        extension names the format). Every record ends in the output or in its rejects, with
        a reason; ``resume`` continues a killed run from its last completed chunk.

        Raises:
            DataError: the input does not exist, cannot be read, or lacks the columns named;
                ``resume`` onto another run's parts (or an input changed since).
            BadInputError: the output cannot be written, or would overwrite the input.
            UnsafeLocationError: an ``s3://`` key with a ``.`` or ``..`` segment.
            ModelNotFoundError, TrackingUnavailableError: the model cannot be loaded.
            RejectLimitExceededError: rejects above ``options.max_reject_rate`` (all written).
            StorageFullError: the disk of the output (or its staging) is full; the completed
                chunks are kept for ``resume``.
            StorageUnavailableError, ConfigError: S3 failing after its retries; no credentials.
        """
        started = time.perf_counter()
        self.status(f"Checking {input_location} and {output}")
        source, target = check_job(input_location, output, self.options), Location(output)
        model = self._loaded()
        identity = {"input": str(source), "input_fingerprint": source.fingerprint}
        identity |= {"model": f"{model.name}/{model.version}"} | self.options.resumable_as()
        with open_engine(self.options, model, self.status) as engine:
            self.status("Scoring")
            scoring = time.perf_counter()
            sink = Sink(target, identity, resume=resume)
            doing, then = f"scoring {source} into {target}", "rerun with --resume to continue"
            with sink.removed_unless_resumable(), storage_errors(doing, then=then, writes=True):
                records = source.records()
                skipped = sum(1 for _ in islice(records, sink.done * self.options.chunk_size))
                rules = RejectRules(
                    self.options, source.key, sink.taken_ids(self.options.id_column)
                )
                chunks = scored(engine, rules.chunks(records))
                explain = self.options.explain
                outcomes = (chunk.scored(scores, model, explain) for chunk, scores in chunks)
                read = skipped + sink.write(outcomes, self.progress)
                summary = sink.finish(read, model, scoring, job_started=started)
        rejected, rows_in, limit = summary.rejected, summary.rows_in, self.options.max_reject_rate
        if limit is not None and rows_in and rejected / rows_in > limit:
            raise RejectLimitExceededError(
                f"{rejected:,} of {rows_in:,} rows rejected ({rejected / rows_in:.1%}), above "
                f"--max-reject-rate {limit:.1%}. Reasons are in {summary.rejects}."
            )
        return summary

    def _loaded(self) -> LoadedModel:
        if isinstance(self.model, str):
            self.status(f"Loading model {self.model}")
            self.model = load_version(self.model)
        return self.model
