"""``sentimentops predict``: score a file of reviews in batch, nothing lost, resumable."""

from __future__ import annotations

import typer

from sentimentops.batch.options import BatchOptions
from sentimentops.cli.output import console, print_error, workers_within_cores
from sentimentops.cli.progress import steps

__all__ = ["predict_command"]


def predict_command(
    input_path: str = typer.Argument(
        ..., metavar="INPUT", help="CSV (.gz), JSONL or Parquet: a path or an s3:// URI."
    ),
    output: str = typer.Argument(
        ..., metavar="OUTPUT", help="A path or s3:// URI; its extension picks the format."
    ),
    model: str = typer.Option(
        "models:/imdb-sentiment@champion", "--model", help="Registry URI or local model folder."
    ),
    text_column: str = typer.Option(BatchOptions.text_column, "--text-column"),
    id_column: str | None = typer.Option(
        None,
        "--id-column",
        help="Column of unique ids carried to the output; must exist when named. Default: id "
        "when the input has it, else row_number.",
    ),
    engine: str = typer.Option(
        BatchOptions.engine, "--engine", help="local, or dask (a Dask cluster)."
    ),
    workers: int = typer.Option(
        BatchOptions.workers,
        "--workers",
        min=1,
        callback=workers_within_cores,
        help="Dask LocalCluster worker processes (at most 4 per core).",
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="An existing Dask scheduler (tcp://HOST:PORT) instead."
    ),
    chunk_size: int = typer.Option(BatchOptions.chunk_size, "--chunk-size", min=1),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run of this output."),
    explain: bool = typer.Option(
        False, "--explain", help="Add top_ngrams: the 5 n-grams that moved each score most."
    ),
    max_reject_rate: float | None = typer.Option(
        None, "--max-reject-rate", min=0.0, max=1.0, help="Exit 4 when rejects exceed this share."
    ),
) -> None:
    """Score INPUT into OUTPUT. Every row lands in OUTPUT or in OUTPUT.rejects.csv with a
    reason (a repeated id is rejected, the first kept); a summary is printed and written as
    OUTPUT.summary.json. Exit codes: 2 bad input or model, 4 rejects above --max-reject-rate.
    """
    from sentimentops.tracking.loading import prefetch

    prefetch(model)  # the registry lookup runs on the other core while the model's libraries load
    from sentimentops.batch.job import BatchPredictor

    options = BatchOptions(
        text_column=text_column,
        id_column=id_column or BatchOptions.id_column,
        require_id_column=id_column is not None,
        chunk_size=chunk_size,
        max_reject_rate=max_reject_rate,
        explain=explain,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
    )
    predictor: BatchPredictor | None = None
    try:
        with steps() as shown:
            predictor = BatchPredictor(model, options, progress=shown.advance, status=shown.start)
            summary = predictor.run(input_path, output, resume=resume)
    except KeyboardInterrupt:
        print_error(
            "Interrupted. The chunks scored so far are kept beside OUTPUT: run the same command "
            "with --resume to go on from there (without it, the run starts again)."
            if resume or (predictor is not None and predictor.resumable)
            else "Interrupted before a chunk was scored: nothing was kept. Run the command again."
        )
        raise typer.Exit(code=130) from None
    console.print(
        f"{summary.rows_in:,} {'row' if summary.rows_in == 1 else 'rows'} in: "
        f"{summary.predicted:,} predicted -> {summary.output}, "
        f"{summary.rejected:,} rejected -> {summary.rejects}",
        highlight=False,
    )
    console.print(
        f"Scored in {summary.seconds:,.2f} s ({summary.rows_per_second:,.0f} rows/s) with "
        f"{summary.model_name} version {summary.model_version}; {summary.wall_seconds or 0:,.2f} "
        "s in all, loading the model included",
        highlight=False,
    )
