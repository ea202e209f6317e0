"""``sentimentops data``: validate, split and download as a user runs them."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from tests.user import REPO_ROOT, run_cli

runner = CliRunner()


def write_kaggle_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The Kaggle layout: review,sentiment, shuffled, gzip."""
    shuffled = frame[["review", "sentiment"]].sample(frac=1.0, random_state=1)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as stream:
        shuffled.to_csv(stream, index=False)
    return path


def test_validate_kaggle_csv_reports_rows_and_duplicates(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    csv = write_kaggle_csv(reference_reviews, tmp_path / "IMDB Dataset.csv.gz")
    report = tmp_path / "report.json"

    result = runner.invoke(app, ["data", "validate", str(csv), "--report", str(report)])

    assert result.exit_code == 0, result.output
    assert "50,000" in result.output
    assert "418" in result.output
    written = json.loads(report.read_text())
    assert written["rows"] == 50_000
    assert written["valid_rows"] == 50_000
    assert written["quarantined_rows"] == 0
    assert written["duplicate_rows"] == 418
    assert written["label_counts"] == {"negative": 25_000, "positive": 25_000}
    assert set(written["length"]) == {"chars", "words"}


def test_validate_quarantines_bad_rows_to_a_file(tmp_path: Path, isolated_settings: Path) -> None:
    csv = tmp_path / "mixed.csv"
    csv.write_text('review,sentiment\n"Great fun",pos\n,negative\n"<br />",neg\n"Ok",maybe\n')

    result = runner.invoke(app, ["data", "validate", str(csv)])

    assert result.exit_code == 0, result.output
    quarantine = isolated_settings / "quarantine" / "mixed.quarantine.csv"
    rows = pd.read_csv(quarantine)
    assert rows["row_number"].tolist() == [2, 3, 4]
    assert rows["reason"].tolist() == [
        "missing value",
        "text is empty after HTML removal",
        "unknown label (accepted: positive/negative, pos/neg, 1/0)",
    ]


def test_a_clean_file_leaves_no_earlier_quarantine_under_its_name(
    tmp_path: Path, isolated_settings: Path
) -> None:
    """A clean file of the same name left the dirty one's quarantine, which read as its own."""
    (tmp_path / "clean").mkdir()
    dirty, clean = tmp_path / "reviews.csv", tmp_path / "clean" / "reviews.csv"
    dirty.write_text('review,sentiment\n"Great fun",pos\n"Ok",maybe\n')
    clean.write_text('review,sentiment\n"Great fun",pos\n"Dull",neg\n')
    quarantine = isolated_settings / "quarantine" / "reviews.quarantine.csv"

    first = runner.invoke(app, ["data", "validate", str(dirty)])
    assert first.exit_code == 0, first.output
    assert quarantine.is_file()
    second = runner.invoke(app, ["data", "validate", str(clean)])

    assert second.exit_code == 0, second.output
    assert not quarantine.exists()
    assert f"No row quarantined: the earlier {quarantine} was removed" in " ".join(
        second.output.split()
    )


def test_malformed_csv_row_is_quarantined_as_predict_rejects_it(
    tmp_path: Path, isolated_settings: Path
) -> None:
    """Such a file was refused whole (exit 2, "not a well-formed CSV")."""
    csv = tmp_path / "broken.csv"
    csv.write_text('review,sentiment\n"fine",positive\n"a, b",negative,oops\n')

    result = runner.invoke(app, ["data", "validate", str(csv)])

    assert result.exit_code == 0, result.output
    rows = pd.read_csv(isolated_settings / "quarantine" / "broken.quarantine.csv")
    assert rows[["row_number", "reason"]].values.tolist() == [
        [2, "malformed CSV line: expected 2 fields, got 3"]
    ]


def test_a_csv_without_a_well_formed_row_exits_2_with_one_paragraph(tmp_path: Path) -> None:
    csv = tmp_path / "broken.csv"
    csv.write_text('review,sentiment\n"a, b",negative,oops\n')

    result = runner.invoke(app, ["data", "validate", str(csv)])

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(csv) in " ".join(result.output.split())
    assert "well-formed CSV" in result.output
    assert result.output.strip().count("\n\n") == 0  # one paragraph


@pytest.mark.parametrize(
    ("name", "content", "bad_rows"),
    [
        pytest.param(
            "reviews.jsonl",
            b'{"review": "Fine.", "sentiment": "pos"}\nnot json\n'
            b'{"review": "Dull.", "sentiment": "neg"}\n{"review": "caf\xe9", "sentiment": "pos"}\n',
            [(2, "invalid JSON (Expecting value)", "not json"),
             (4, "undecodable bytes (not UTF-8)", '{"review": "caf?", "sentiment": "pos"}')],
            id="jsonl",
        ),
        pytest.param(
            "reviews.csv",
            "review,sentiment\nFine.,pos\nDéjà vu.,neg\nDull.,neg\n".encode("latin-1"),
            [(2, "undecodable bytes (not UTF-8)", "D?j? vu.,neg")],
            id="latin-1-csv",
        ),
    ],
)  # fmt: skip
def test_validate_quarantines_unreadable_rows_and_validates_the_rest(
    tmp_path: Path, name: str, content: bytes, bad_rows: list[tuple[int, str, str]]
) -> None:
    """One bad line refused the whole file, where predict rejects that row alone."""
    path = tmp_path / name
    path.write_bytes(content)
    report, quarantine = tmp_path / "report.json", tmp_path / "quarantine.csv"

    result = runner.invoke(
        app,
        ["data", "validate", str(path), "--report", str(report), "--quarantine", str(quarantine)],
    )

    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert written["rows"] == 2 + len(bad_rows)
    assert (written["valid_rows"], written["quarantined_rows"]) == (2, len(bad_rows))
    assert sum(written["quarantine_reasons"].values()) == len(bad_rows)
    rows = pd.read_csv(quarantine, keep_default_na=False)
    assert list(rows.itertuples(index=False, name=None)) == [
        (number, "", reason, raw) for number, reason, raw in bad_rows
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("utf16.csv", "review,sentiment\nFine.,pos\n".encode("utf-16"), "UTF-16's byte-order mark"),
        ("binary.csv", bytes(range(256)) * 8, "is not UTF-8 text: its header line holds NUL"),
        ("reviews.csv", None, "is a Parquet file, not CSV text"),
        ("binary.jsonl", bytes(range(256)) * 8, "is not UTF-8 text: no row can be read"),
    ],
)
def test_validate_refuses_a_wholly_unreadable_file_in_one_line(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:
        pd.DataFrame({"review": ["Fine."], "sentiment": ["pos"]}).to_parquet(path)
    else:
        path.write_bytes(content)

    result = runner.invoke(app, ["data", "validate", str(path)])

    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_damaged_gzip_exits_2(reference_reviews: pd.DataFrame, tmp_path: Path) -> None:
    packed = gzip.compress(reference_reviews.head(500).to_csv(index=False).encode())
    damaged = bytearray(packed)
    damaged[20] ^= 0xFF  # a flipped byte in the compressed data: zlib, not gzip, raises
    csv = tmp_path / "reviews.csv.gz"
    csv.write_bytes(bytes(damaged))

    result = runner.invoke(app, ["data", "validate", str(csv)])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert f"{csv} looks gzip-compressed but is corrupt or truncated" in message
    assert "Re-create or re-download it." in message


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "nope.csv")])

    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_validate_without_the_label_column_exits_2_saying_how_to_validate_unlabelled(
    tmp_path: Path,
) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("review\nA fine film.\nDull.\n", encoding="utf-8")
    home = tmp_path / "home"

    refused = run_cli("data", "validate", str(unlabelled), home=home)
    accepted = run_cli("data", "validate", str(unlabelled), "--no-labels", home=home)

    message = " ".join(refused.stderr.split())
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{unlabelled} has no label column 'sentiment' (columns: review)" in message
    assert "--label-column" in message
    assert "--no-labels" in message
    assert not (home / "quarantine").exists()  # no row was quarantined for the file's fault
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "valid rows" in accepted.stdout


def test_split_writes_parquet_and_manifest_with_stable_digests(isolated_settings: Path) -> None:
    first = runner.invoke(app, ["data", "split", "--mode", "random", "--seed", "3"])
    directory = isolated_settings / "splits" / "random-seed3"
    manifest = json.loads((directory / "manifest.json").read_text())
    second = runner.invoke(app, ["data", "split", "--mode", "random", "--seed", "3"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert json.loads((directory / "manifest.json").read_text()) == manifest
    assert manifest["leakage"] == {"shared_texts": 0, "shared_movies": 0}
    assert sum(split["rows"] for split in manifest["splits"].values()) == 50_000
    for name, split in manifest["splits"].items():
        assert len(pd.read_parquet(directory / f"{name}.parquet")) == split["rows"]
        assert split["digest"][:12] in first.output


def test_split_finds_the_vendored_data_from_any_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    completed = run_cli("data", "split", home=tmp_path / "home", cwd=elsewhere)

    assert completed.returncode == 0, completed.stderr
    manifest = json.loads((tmp_path / "home/splits/random-seed42/manifest.json").read_text())
    assert sum(split["rows"] for split in manifest["splits"].values()) == 50_000


def test_split_says_where_it_looked_for_a_missing_reference_dataset(tmp_path: Path) -> None:
    completed = run_cli(
        "data", "split", home=tmp_path / "home", cwd=tmp_path,
        SENTIMENTOPS_DATA__REFERENCE_PATH="no/such.parquet",
    )  # fmt: skip

    assert completed.returncode == 2
    message = " ".join(completed.stderr.split())
    assert f"no/such.parquet is not in the working directory {tmp_path}" in message
    assert f"or the project folder {REPO_ROOT}" in message


def test_split_rejects_an_unknown_mode() -> None:
    result = runner.invoke(app, ["data", "split", "--mode", "sideways"])

    assert result.exit_code == 2
    assert "random or official" in result.output


def test_split_quarantines_invalid_rows_beside_the_splits_and_says_so(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    valid = reference_reviews.sample(300, random_state=4)[["review", "sentiment", "movie_id"]]
    invalid = pd.DataFrame(
        {
            "review": ["", "<br /><br />", "A label nobody knows."],
            "sentiment": ["positive", "negative", "maybe"],
            "movie_id": ["tt0000001"] * 3,
        }
    )
    csv = tmp_path / "reviews.csv"
    pd.concat([valid, invalid], ignore_index=True).to_csv(csv, index=False)
    directory = tmp_path / "splits"

    result = runner.invoke(app, ["data", "split", str(csv), "--output-dir", str(directory)])

    assert result.exit_code == 0, result.output
    quarantine = directory / "quarantine.csv"
    output = " ".join(result.output.split())
    said = f"3 invalid rows left out of the splits; they and the reasons are in {quarantine}"
    assert said in output
    assert pd.read_csv(quarantine)["row_number"].tolist() == [301, 302, 303]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["quarantined_rows"] == 3
    assert manifest["quarantine"] == str(quarantine)


def test_split_shows_each_step_with_its_time_then_the_summary(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    """Splitting the 50k reviews takes seconds; it used to show nothing until the table."""
    csv = tmp_path / "reviews.csv"
    reference_reviews.sample(300, random_state=5).to_csv(csv, index=False)
    directory = tmp_path / "splits"

    completed = run_cli(
        "data", "split", str(csv), "--output-dir", str(directory), home=tmp_path / "home"
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    steps = [line for line in lines if line.startswith("✓")]
    assert [step.split()[:2] for step in steps] == [
        ["✓", "Read"],
        ["✓", "Validated"],
        ["✓", "Split"],
        ["✓", "Wrote"],
    ]
    assert f"Read 300 rows from {csv}" in steps[0]
    assert "300 valid, 0 quarantined" in steps[1]
    assert all(re.search(r"\d+:\d\d:\d\d$", step) for step in steps)  # each with its time
    # Then the summary: the splits table, after the steps.
    assert lines.index(steps[-1]) < next(i for i, line in enumerate(lines) if "Splits" in line)


def test_split_of_a_file_with_other_column_names_goes_to_its_own_folder(
    reference_reviews: pd.DataFrame, isolated_settings: Path, tmp_path: Path
) -> None:
    """The columns are named on the command line, and the splits of a user's file do not
    replace the vendored data's (which go to random-seed42/)."""
    csv = tmp_path / "reviews.csv"
    sample = reference_reviews.sample(300, random_state=6)
    sample.rename(columns={"review": "text", "sentiment": "label"}).to_csv(csv, index=False)

    result = runner.invoke(
        app, ["data", "split", str(csv), "--text-column", "text", "--label-column", "label"]
    )

    assert result.exit_code == 0, result.output
    manifest = json.loads(
        (isolated_settings / "splits/reviews-random-seed42/manifest.json").read_text()
    )
    assert sum(split["rows"] for split in manifest["splits"].values()) == 300
    assert not (isolated_settings / "splits/random-seed42").exists()


def test_file_options_naming_folders_are_refused_before_the_work(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    csv = write_kaggle_csv(reference_reviews.head(20), tmp_path / "reviews.csv.gz")
    folder = tmp_path / "a-folder"
    folder.mkdir()

    report = runner.invoke(app, ["data", "validate", str(csv), "--report", str(folder)])
    quarantine = runner.invoke(app, ["data", "validate", str(csv), "--quarantine", str(folder)])
    split = runner.invoke(app, ["data", "split", str(csv), "--output-dir", str(csv)])

    assert (report.exit_code, quarantine.exit_code, split.exit_code) == (2, 2, 2)
    assert f"--report {folder} is a folder" in " ".join(report.output.split())
    assert f"--quarantine {folder} is a folder" in " ".join(quarantine.output.split())
    assert f"--output-dir {csv} is a file" in " ".join(split.output.split())
    assert "Traceback" not in report.output + quarantine.output + split.output
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("option", ["--report", "--quarantine"])
def test_validate_refuses_to_write_over_its_input(
    reference_reviews: pd.DataFrame, tmp_path: Path, option: str
) -> None:
    """The report replaced the dataset it was about, with exit 0."""
    csv = write_kaggle_csv(reference_reviews.head(20), tmp_path / "reviews.csv")
    before = csv.read_bytes()
    alias = tmp_path / "sub" / ".." / "reviews.csv"
    (tmp_path / "sub").mkdir()

    result = runner.invoke(app, ["data", "validate", str(csv), option, str(alias)])

    assert result.exit_code == 2, result.output
    assert f"{option} {alias} is the input itself" in " ".join(result.output.split())
    assert csv.read_bytes() == before


@pytest.mark.parametrize("option", ["--report", "--quarantine"])
def test_validate_says_in_one_line_where_it_cannot_write(
    reference_reviews: pd.DataFrame, tmp_path: Path, option: str
) -> None:
    """Under a file, refused before the work; where the write itself fails (/proc takes no new
    file, even from root), one line after the table. A traceback, exit 1, before."""
    rows = reference_reviews.head(20).copy()
    rows.loc[rows.index[0], "sentiment"] = "maybe"  # a row to quarantine
    csv = write_kaggle_csv(rows, tmp_path / "reviews.csv")

    under_a_file = runner.invoke(app, ["data", "validate", str(csv), option, f"{csv}/out"])
    refused_write = runner.invoke(app, ["data", "validate", str(csv), option, "/proc/out"])

    assert (under_a_file.exit_code, refused_write.exit_code) == (2, 2)
    assert f"{option} {csv}/out cannot be written: {csv} is not a folder" in " ".join(
        under_a_file.output.split()
    )
    assert f"{option} /proc/out cannot be written (" in " ".join(refused_write.output.split())
    assert "Traceback" not in under_a_file.output + refused_write.output


@pytest.mark.parametrize("seed", ["-1", str(2**32), "99999999999999999999999"])
def test_a_seed_numpy_cannot_take_is_a_usage_error(seed: str, tmp_path: Path) -> None:
    """NumPy's ValueError (0 <= seed < 2**32) came out as a traceback, exit 1."""
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,sentiment\nGood.,positive\n")

    result = runner.invoke(app, ["data", "split", str(csv), "--seed", seed])

    assert result.exit_code == 2, result.output
    assert "Invalid value for '--seed'" in result.output
    assert "Traceback" not in result.output


def test_a_seed_setting_numpy_cannot_take_is_refused_with_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sentimentops.config import get_settings
    from sentimentops.errors import ConfigError

    monkeypatch.setenv("SENTIMENTOPS_TRAINING__SEED", "-1")
    get_settings.cache_clear()

    with pytest.raises(ConfigError, match=r"training\.seed.*SENTIMENTOPS_TRAINING__SEED"):
        get_settings()
    get_settings.cache_clear()
