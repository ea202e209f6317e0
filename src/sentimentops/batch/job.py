"""The batch job as the CLI and the flows run it: load the model, pick the engine, score.

One function so ``sentimentops predict`` and the Prefect ``batch`` flow cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from sentimentops.batch.engines import DaskEngine, Engine
from sentimentops.batch.model import load_for_scoring
from sentimentops.batch.predictor import BatchPredictor, BatchSummary, LoadedModel
from sentimentops.batch.writers import output_format
from sentimentops.errors import ConfigError
from sentimentops.storage import checked_key, object_store_errors, require_bucket

__all__ = ["score_file"]


def score_file(
    input_location: str,
    output: str,
    *,
    model_uri: str,
    text_column: str = "review",
    id_column: str | None = "id",
    engine: str = "local",
    workers: int = 2,
    scheduler: str | None = None,
    chunk_size: int = 5_000,
    max_text_chars: int = 100_000,
    max_reject_rate: float | None = None,
    explain: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
    loaded: LoadedModel | None = None,
) -> BatchSummary:
    """Score ``input_location`` into ``output`` with the model at ``model_uri`` (or ``loaded``,
    that model already loaded: a long-running worker keeps it between jobs).

    Raises:
        ConfigError: an unknown engine or output extension (before any model is loaded).
        UnsafeLocationError: an ``s3://`` input or output key with a ``.``/``..`` segment.
        BadInputError: the output's S3 bucket does not exist (before any model is loaded).
        ModelNotFoundError, DataError, RejectLimitExceededError: see :class:`BatchPredictor`.
    """
    if engine not in ("local", "dask"):
        raise ConfigError(f"--engine must be local or dask, not {engine!r}.")
    say = status or (lambda _message: None)
    output_format(output)  # a bad extension fails before a model or a cluster is loaded
    for location in (input_location, output):
        checked_key(location)  # so does an s3:// key with a '..' segment
    with object_store_errors(f"checking {output} before scoring", then="run again"):
        require_bucket(output)  # and a missing output bucket, not after scoring everything
    if loaded is None:
        say(f"Loading {model_uri}")
        loaded = load_for_scoring(model_uri)
    scoring_engine: Engine | None = None
    try:
        if engine == "dask":
            say(f"Starting Dask ({scheduler or f'{workers} local workers'})")
            scoring_engine = DaskEngine(loaded.location, workers=workers, scheduler=scheduler)
        predictor = BatchPredictor(
            loaded,
            text_column=text_column,
            id_column=id_column,
            chunk_size=chunk_size,
            max_text_chars=max_text_chars,
            max_reject_rate=max_reject_rate,
            progress=progress,
            engine=scoring_engine,
            explain=explain,
        )
        say("Scoring")
        return predictor.run(input_location, output, resume=resume)
    finally:
        if scoring_engine is not None:
            scoring_engine.close()  # idempotent; also when the predictor refused to start
