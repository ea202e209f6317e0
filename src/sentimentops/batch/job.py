"""The batch job as the CLI and the flows run it: check, load the model, pick the engine, score.

One function so ``sentimentops predict`` and the Prefect ``batch`` flow cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sentimentops.batch.checks import check_job
from sentimentops.batch.engines import DaskEngine, Engine
from sentimentops.batch.model import load_for_scoring
from sentimentops.batch.predictor import BatchPredictor, BatchSummary, LoadedModel
from sentimentops.errors import ConfigError

__all__ = ["score_file"]


def score_file(
    input_location: str,
    output: str,
    *,
    model_uri: str,
    text_column: str = "review",
    id_column: str | None = "id",
    require_id_column: bool = False,
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

    ``status`` is told each step as it starts (checking, loading the model, starting Dask,
    scoring); ``progress`` the records done after each chunk.

    Raises:
        ConfigError: an unknown engine.
        DataError, BadInputError, UnsafeLocationError: the input or output is unusable
            (:func:`~sentimentops.batch.checks.check_job`); all these before any model is
            loaded or anything written.
        ModelNotFoundError, RejectLimitExceededError: see :class:`BatchPredictor`.
    """
    started = time.perf_counter()
    if engine not in ("local", "dask"):
        raise ConfigError(f"--engine must be local or dask, not {engine!r}.")
    say = status or (lambda _message: None)
    say(f"Checking {input_location} and {output}")
    check_job(
        input_location,
        output,
        text_column=text_column,
        id_column=id_column,
        require_id_column=require_id_column,
    )
    if loaded is None:
        say(f"Loading model {model_uri}")
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
            require_id_column=require_id_column,
            chunk_size=chunk_size,
            max_text_chars=max_text_chars,
            max_reject_rate=max_reject_rate,
            progress=progress,
            engine=scoring_engine,
            explain=explain,
        )
        say("Scoring")
        return predictor.run(input_location, output, resume=resume, job_started=started)
    finally:
        if scoring_engine is not None:
            scoring_engine.close()  # idempotent; also when the predictor refused to start
