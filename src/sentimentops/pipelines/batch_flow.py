"""The ``batch`` flow: score a file, or each data file of a folder or S3 prefix, once per model
and content (while its output exists); a retried task resumes from its checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from sentimentops.batch.job import BatchPredictor
from sentimentops.batch.options import BatchOptions
from sentimentops.batch.sink import BatchSummary
from sentimentops.config import Settings, get_settings
from sentimentops.data.version import json_digest
from sentimentops.errors import BadInputError
from sentimentops.pipelines.results import SkopsResultSerializer, trusted_cache_key
from sentimentops.pipelines.runtime import (
    champion_uri,
    io_task_options,
    result_storage,
    state_label,
)
from sentimentops.storage import REJECTS, Location

__all__ = ["BatchFlowResult", "batch_flow", "plan_batch"]

DATA_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".ndjson", ".parquet", ".pq")
OUTPUT_SUFFIX = ".predictions.csv"


@dataclass(frozen=True)
class BatchFlowResult:
    """The summaries of the files scored, and whether each ran or was found cached."""

    model_uri: str
    model_version: str
    scored: list[dict[str, Any]]  # one BatchSummary per file
    steps: dict[str, str]  # input -> ran | cached

    @property
    def rows_in(self) -> int:
        """Rows read, over every file."""
        return sum(int(summary["rows_in"]) for summary in self.scored)

    @property
    def rejected(self) -> int:
        """Rows rejected, over every file."""
        return sum(int(summary["rejected"]) for summary in self.scored)

    def to_dict(self) -> dict[str, Any]:
        """Every field and the totals, as JSON-ready values."""
        return dataclasses.asdict(self) | {"rows_in": self.rows_in, "rejected": self.rejected}


def plan_batch(
    input_location: str, output: str | None, settings: Settings
) -> list[tuple[str, str]]:
    """(input, output) file pairs: outputs ``<stem>.predictions.csv`` in the ``output`` folder
    (or ``output`` itself, a data file, for one input file). BadInputError for a missing input
    or a folder (local, or ending in ``/``) without data files."""
    folder = settings.pipeline.batch_output or str(settings.state_path("predictions"))
    if output is not None and not Location(output).name.endswith(DATA_SUFFIXES):
        folder = output
    source = Location(input_location)
    is_folder = input_location.endswith("/") or (not source.remote and source.path.is_dir())
    if not is_folder:
        if not source.exists():
            raise BadInputError(f"Batch input {input_location} does not exist.")
        if output is not None and Location(output).name.endswith(DATA_SUFFIXES):
            return [(input_location, output)]
        return [(input_location, _join(folder, source.stem + OUTPUT_SUFFIX))]
    files = [
        path
        for path in source.files()
        if Location(path).name.endswith(DATA_SUFFIXES)
        and not Location(path).name.endswith((OUTPUT_SUFFIX, REJECTS))
    ]
    if not files:
        raise BadInputError(
            f"{input_location} holds no data files ({', '.join(DATA_SUFFIXES)}) to score."
        )
    return [(path, _join(folder, Location(path).stem + OUTPUT_SUFFIX)) for path in files]


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def _scored_key(_context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Same input content, model version, output and columns: the same predictions."""
    identity = {
        "input": parameters["input_location"],
        "input_fingerprint": Location(parameters["input_location"]).fingerprint(),
        "output": parameters["output"],
        "model": parameters["model_identity"],
        "text_column": parameters["text_column"],
        "id_column": parameters["id_column"],
    }
    return trusted_cache_key(
        "batch-" + json_digest(identity), result_storage(parameters["settings"])
    )


@task(name="resolve-model", cache_policy=NO_CACHE)
def resolve_model(model_uri: str) -> tuple[str, str]:
    """(identity for the cache key, version) of ``models:/...`` or a model folder."""
    if model_uri.startswith("models:/"):
        from sentimentops.tracking.loading import resolve_location

        # models:/name/version, asked of the home's registry as every command asks it.
        identity = resolve_location(model_uri).removeprefix("models:/")
        return identity, identity.rsplit("/", 1)[1]
    mlmodel = Path(model_uri) / "MLmodel"
    if not mlmodel.is_file():
        raise BadInputError(f"No MLflow model at {model_uri} (no MLmodel file).")
    return f"{Path(model_uri).resolve()}@{Location(mlmodel).fingerprint()}", "local"


@task(
    name="score-file",
    cache_key_fn=_scored_key,
    persist_result=True,
    result_serializer=SkopsResultSerializer(),  # a cached result is never unpickled
)
def score_one(
    settings: Settings,
    input_location: str,
    output: str,
    model_uri: str,
    model_identity: str,
    text_column: str,
    id_column: str | None,
    engine: str,
    workers: int,
    scheduler: str | None,
) -> BatchSummary:
    context = TaskRunContext.get()
    retry = context is not None and context.task_run.run_count > 1
    logger = get_run_logger()
    logger.info("scoring %s -> %s%s", input_location, output, " (resuming)" if retry else "")
    options = BatchOptions(
        text_column=text_column,
        id_column=id_column,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
    )
    return BatchPredictor(model_uri, options).run(input_location, output, resume=retry)


@flow(name="batch")
def batch_flow(
    input: str | None = None,
    output: str | None = None,
    model: str | None = None,
    text_column: str = "review",
    id_column: str | None = "id",
    engine: str = "local",
    workers: int = 2,
    scheduler: str | None = None,
) -> BatchFlowResult:
    """Score ``input`` (default ``pipeline.batch_input``) into ``output`` (a folder or file;
    default ``pipeline.batch_output``, else ``$SENTIMENTOPS_HOME/predictions``)."""
    settings = get_settings()
    logger = get_run_logger()
    model = model or champion_uri(settings)
    source = input or settings.pipeline.batch_input
    if source is None:
        raise BadInputError(
            "No batch input: pass --input, or set pipeline.batch_input "
            "(SENTIMENTOPS_PIPELINE__BATCH_INPUT) to a file, folder or s3:// prefix."
        )
    identity, version = resolve_model.with_options(**io_task_options(settings))(model)
    scorer = score_one.with_options(
        result_storage=result_storage(settings),
        **io_task_options(settings) | {"timeout_seconds": settings.pipeline.batch_timeout_seconds},
    )
    scored, steps = [], {}
    for input_location, output_location in plan_batch(source, output, settings):
        # A cached summary is only true while its output exists: without it, score again.
        missing = not Location(output_location).exists()
        state = scorer.with_options(refresh_cache=missing)(
            settings,
            input_location,
            output_location,
            model,
            identity,
            text_column,
            id_column,
            engine,
            workers,
            scheduler,
            return_state=True,
        )
        summary: BatchSummary = state.result()
        scored.append(summary.to_dict())
        steps[input_location] = state_label(state)
        if steps[input_location] == "cached":
            logger.info("%s: already scored by this model into %s", input_location, summary.output)
    result = BatchFlowResult(model_uri=model, model_version=version, scored=scored, steps=steps)
    _publish(result)
    return result


def _publish(result: BatchFlowResult) -> None:
    """The summary as a table in Prefect's UI (an artifact) and in the log."""
    lines = [
        f"Batch with `{result.model_uri}` (version {result.model_version})",
        "",
        "| input | rows | predicted | rejected | rows/s | output | step |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for summary in result.scored:
        lines.append(
            f"| {summary['input']} | {summary['rows_in']:,} | {summary['predicted']:,} | "
            f"{summary['rejected']:,} | {summary['rows_per_second']:,.0f} | "
            f"{summary['output']} | {result.steps[summary['input']]} |"
        )
    create_markdown_artifact(
        markdown="\n".join(lines), key="batch-summary", description="Batch scoring summary"
    )
    counts = (len(result.scored), result.rows_in, result.rejected)
    get_run_logger().info("batch: %d file(s), %d rows, %d rejected", *counts)
