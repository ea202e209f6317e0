"""The batch job the CLI, the flows and the SQS worker run: check input and output, load the
model, then stream source -> reject rules -> engine -> sink."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice

from sentimentops.batch.engines import open_engine, scored
from sentimentops.batch.options import BatchOptions
from sentimentops.batch.rules import RejectRules, no_predictions
from sentimentops.batch.sink import BatchSummary, Sink, check_output
from sentimentops.batch.source import Source
from sentimentops.errors import DataError, RejectLimitExceededError
from sentimentops.storage import Location, LocationLike, storage_errors
from sentimentops.tracking.loading import LoadedModel, load_version

__all__ = ["BatchPredictor", "check_job"]


def check_job(input_location: LocationLike, output: LocationLike, options: BatchOptions) -> Source:
    """The input's Source, checked with ``output`` before any model load or write. Raises
    DataError (input), BadInputError (output), ConfigError/StorageUnavailableError (S3)."""
    with storage_errors(f"checking {input_location} before scoring", refused_as=DataError):
        source = Source(input_location, options)
    check_output(Location(output), source.location)
    return source


class BatchPredictor:
    """Scores files with ``model`` (a URI, loaded once a run is known possible, or a loaded model);
    ``status`` is told each step, ``progress`` the records done after each chunk."""

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
        self._sink: Sink | None = None

    @property
    def resumable(self) -> bool:
        """Whether a :meth:`run` cut short left completed chunks that ``resume`` goes on from."""
        return self._sink is not None and self._sink.checkpoint.exists()

    def run(
        self, input_location: LocationLike, output: LocationLike, *, resume: bool = False
    ) -> BatchSummary:
        """Score the input into ``output`` (each named by path or URI, format by extension): every
        record ends in the output or its rejects; ``resume`` continues from the last chunk done.

        Raises:
            DataError, BadInputError: as :func:`check_job`; ``resume`` onto another run's parts.
            ModelNotFoundError, TrackingUnavailableError: the model cannot be loaded.
            RejectLimitExceededError: rejects above ``options.max_reject_rate`` (all written).
            StorageFullError, StorageUnavailableError, ConfigError: a full disk (the chunks done
                are kept for ``resume``), S3 failing after retries, no AWS credentials.
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
            doing, then = f"scoring {source} into {target}", "rerun with --resume to continue"
            with storage_errors(doing, then=then, writes=True):
                sink = self._sink = Sink(target, identity, resume=resume)
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
                empty = no_predictions(source.key, explain)
                summary = sink.finish(
                    read, model, scoring, job_started=started, empty=empty, skipped=skipped
                )
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
