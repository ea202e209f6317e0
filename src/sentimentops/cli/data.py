"""``sentimentops data``: validate, split and download review datasets."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sentimentops.cli.output import check_output_folder, console, key_value_table
from sentimentops.cli.progress import steps
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError

if TYPE_CHECKING:
    from sentimentops.data.validate import ValidationResult

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Load, validate, split and download review datasets.", no_args_is_help=True
)

TEXT_COLUMN_OPTION = typer.Option("review", "--text-column", help="Column holding the review text.")
LABEL_COLUMN_OPTION = typer.Option("sentiment", "--label-column", help="Column holding the label.")


@data_app.command("validate")
def validate_command(
    path: str = typer.Argument(
        ..., help="CSV (.csv/.csv.gz), Parquet, JSON Lines, aclImdb/ folder, or s3:// URI."
    ),
    report: Path | None = typer.Option(None, "--report", help="Write the JSON report here."),
    quarantine: Path | None = typer.Option(
        None,
        "--quarantine",
        help="Write quarantined rows here (default: $SENTIMENTOPS_HOME/quarantine/NAME.csv).",
    ),
    text_column: str = TEXT_COLUMN_OPTION,
    label_column: str = LABEL_COLUMN_OPTION,
    labels: bool = typer.Option(
        True,
        "--labels/--no-labels",
        help="Whether every row must carry a valid label (--no-labels: reviews to score).",
    ),
) -> None:
    """Check a dataset and quarantine bad rows with a reason, rows that cannot be read too (as
    predict rejects them); nothing is silently dropped. Exit code 2 when the file cannot be
    read at all or has no label column (unless --no-labels)."""
    from sentimentops.data.load import load_readable_reviews
    from sentimentops.data.validate import validate_reviews
    from sentimentops.storage import Location, write_atomically  # fsspec: not at CLI start-up

    settings = get_settings()
    _check_output_file(report, "--report", "report.json", path)
    _check_output_file(quarantine, "--quarantine", "quarantine.csv", path)
    if report and quarantine and Location(report).same_place(Location(quarantine)):
        raise BadInputError(f"--report and --quarantine both name {report}: give two files.")
    with console.status(f"Reading {path}"):
        rows = load_readable_reviews(
            path, text_column=text_column, label_column=label_column, require_labels=labels
        )
    with console.status(f"Validating {len(rows.frame) + len(rows.unreadable):,} rows"):
        result = validate_reviews(
            rows.frame,
            settings.validation,
            source=str(path),
            require_labels=labels,
            unreadable=rows.unreadable,
        )
    _print_validation(result)
    name = f"{Location(str(path)).stem or 'dataset'}.quarantine.csv"
    target = quarantine or settings.state_path("quarantine", name)
    with _writing(target, "--quarantine"):
        written = result.write_quarantine(target)
        if written is None and target.is_file():  # an earlier run's, which would read as this one's
            target.unlink()
            console.print(f"No row quarantined: the earlier {target} was removed")
    if written is not None:
        console.print(f"Quarantined rows written to {written}")
    if report is not None:
        text = json.dumps(result.report.to_dict(), indent=2) + "\n"
        with _writing(report, "--report"):
            report.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(report, lambda temporary: temporary.write_text(text, "utf-8"))
        console.print(f"Report written to {report}")


@data_app.command("split")
def split_command(
    path: str | None = typer.Argument(
        None, help="Dataset to split (default: the vendored IMDB data, checksum verified)."
    ),
    mode: str | None = typer.Option(
        None, "--mode", help="random (70/10/20, grouped by movie) or official (25k/25k)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2**32 - 1, help="Random seed (default from config)."
    ),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", help="Default: $SENTIMENTOPS_HOME/splits/[NAME-]MODE-seedSEED/."
    ),
    text_column: str | None = typer.Option(
        None, "--text-column", help="Column holding the review text (default: data.text_column)."
    ),
    label_column: str | None = typer.Option(
        None, "--label-column", help="Column holding the label (default: data.label_column)."
    ),
) -> None:
    """Validate, then split into train/validation/test Parquet files and print their digests.
    No movie and no duplicate text crosses splits in random mode; a seed gives the same digests
    on every run and machine."""
    from sentimentops.data.load import load_reference_dataset, load_reviews
    from sentimentops.data.split import leakage_between, split_reviews
    from sentimentops.data.validate import validate_reviews
    from sentimentops.data.version import short_digest
    from sentimentops.errors import ConfigError
    from sentimentops.storage import Location  # fsspec: not at CLI start-up

    settings = get_settings()
    if mode not in (None, "random", "official"):
        raise ConfigError(f"--mode must be random or official, not {mode!r}.")
    check_output_folder(output_dir, "the splits")
    overrides = {key: value for key, value in (("mode", mode), ("seed", seed)) if value is not None}
    split_settings = settings.split.model_copy(update=overrides)
    # A user's dataset must not overwrite the vendored data's splits (or another dataset's).
    dataset = f"{Location(path).stem or 'dataset'}-" if path is not None else ""
    directory = output_dir or settings.state_path(
        "splits", f"{dataset}{split_settings.mode}-seed{split_settings.seed}"
    )
    with steps() as shown:
        shown.start(f"Reading {path or settings.data.reference_path}")
        if path is None:
            frame, found = load_reference_dataset(settings.data)
            source = str(found)
        else:
            source = path
            frame = load_reviews(
                path,
                text_column=text_column or settings.data.text_column,
                label_column=label_column or settings.data.label_column,
            )
        shown.finish(f"Read {len(frame):,} rows from {source}")
        shown.start(f"Validating {len(frame):,} rows")
        result = validate_reviews(frame, settings.validation, source=source)
        shown.finish(
            f"Validated {len(frame):,} rows: {result.report.valid_rows:,} valid, "
            f"{result.report.quarantined_rows:,} quarantined"
        )
        shown.start(f"Splitting ({split_settings.mode}, seed {split_settings.seed})")
        splits = split_reviews(result.valid, split_settings)
        digests = splits.digests()
        leakage = leakage_between(splits)
        shown.finish(f"Split ({split_settings.mode}, seed {split_settings.seed})")
        shown.start(f"Writing to {directory}")
        paths = splits.write(directory)
        quarantine = directory / "quarantine.csv"
        quarantine.unlink(missing_ok=True)  # an earlier split's rejects are not this one's
        written = result.write_quarantine(quarantine)
        shown.finish(f"Wrote {directory}")
    manifest = {
        "source": source,
        "source_digest": result.report.digest,
        "mode": splits.mode,
        "seed": splits.seed,
        "quarantined_rows": result.report.quarantined_rows,
        "quarantine": str(written) if written else None,
        "leakage": leakage,
        "splits": {
            name: {
                "rows": len(split_frame),
                "digest": digests[name],
                "labels": split_frame["sentiment"].value_counts().to_dict(),
                "path": str(paths[name]),
            }
            for name, split_frame in splits.frames().items()
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    from rich.table import Table

    title = f"Splits ({splits.mode}, seed {splits.seed})"
    table = Table(
        "split", "rows", "positive", "negative", "digest", title=title, title_justify="left"
    )
    for name, split_frame in splits.frames().items():
        counts = split_frame["sentiment"].value_counts()
        numbers = [len(split_frame), counts.get("positive", 0), counts.get("negative", 0)]
        table.add_row(name, *(f"{number:,}" for number in numbers), short_digest(digests[name]))
    console.print(table)
    console.print(
        "Shared across splits: "
        + ", ".join(f"{count} {kind.removeprefix('shared_')}" for kind, count in leakage.items())
        + (" (the dataset's own split, kept as published)" if splits.mode == "official" else "")
    )
    if written is not None:
        console.print(
            f"[yellow]{result.report.quarantined_rows:,} invalid rows left out of the splits; "
            f"they and the reasons are in {written}[/yellow]"
        )
    console.print(f"Written to {directory} (manifest.json lists the full digests)")


def _check_output_file(path: Path | None, option: str, example: str, source: str) -> None:
    """A file option is refused before the work when it names a folder, the input itself (it
    would be overwritten) or a place this user cannot write: the write would fail after it."""
    from sentimentops.storage import Location  # fsspec: not at CLI start-up

    if path is None:
        return
    if path.is_dir():
        raise BadInputError(f"{option} {path} is a folder: give a file, e.g. {path / example}.")
    if Location(path).same_place(Location(source)):
        raise BadInputError(
            f"{option} {path} is the input itself: writing it would overwrite the data. Name "
            f"another file, e.g. {path.with_name(example)}."
        )
    folder = next(parent for parent in path.absolute().parents if parent.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise BadInputError(
            f"{option} {path} cannot be written: {folder} is not a folder you may write in. "
            "Name another file."
        )


@contextmanager
def _writing(path: Path, option: str) -> Iterator[None]:
    """An OSError while ``path`` is written, as the BadInputError of a place it cannot go (root
    passes the permission check, yet not an immutable folder or a full disk)."""
    try:
        yield
    except OSError as error:
        raise BadInputError(
            f"{option} {path} cannot be written ({error.strerror or error}). Name another file."
        ) from None


@data_app.command("download")
def download_command(
    destination: Path = typer.Option(
        Path("data/aclimdb"), "--dest", help="Folder for the tarball and the converted Parquet."
    ),
    url: str | None = typer.Option(None, "--url", help="Source URL (default from config)."),
    sha256: str | None = typer.Option(None, "--sha256", help="Expected sha256 of the tarball."),
) -> None:
    """Fetch the original Stanford aclImdb_v1.tar.gz, verify its checksum and convert it (the
    same data is vendored in data/imdb/: this rebuilds it from the source)."""
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from sentimentops.data.download import download_aclimdb

    settings = get_settings().download
    with Progress(
        *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=console
    ) as progress:
        task = progress.add_task("Downloading aclImdb", total=None)

        def report(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        parquet = download_aclimdb(
            destination,
            url=url or settings.url,
            sha256=sha256 or settings.sha256,
            timeout_seconds=settings.timeout_seconds,
            progress=report,
        )
    console.print(f"Converted dataset written to {parquet}")


def _print_validation(result: ValidationResult) -> None:
    report = result.report
    rows: dict[str, object] = {
        "source": report.source,
        "rows": f"{report.rows:,}",
        "valid rows": f"{report.valid_rows:,}",
        "quarantined rows": f"{report.quarantined_rows:,}",
        "duplicate rows": f"{report.duplicate_rows:,}",
    }
    if report.label_counts:
        rows["labels"] = ", ".join(f"{k} {v:,}" for k, v in report.label_counts.items())
    if report.length:
        chars = report.length["chars"]
        rows["length (chars)"] = (
            f"min {chars['min']:.0f}, median {chars['median']:.0f}, "
            f"p95 {chars['p95']:.0f}, max {chars['max']:.0f}"
        )
    for reason, count in report.quarantine_reasons.items():
        rows[f"  {reason}"] = f"{count:,}"
    rows["digest"] = report.digest[:12]
    console.print(key_value_table("Data validation", rows))
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
