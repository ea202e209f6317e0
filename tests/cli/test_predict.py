"""``sentimentops predict`` as a user runs it: the installed script, a fresh home, the champion
of its default store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.monitoring.current import current_from_file
from tests.user import run_cli

# Id 1 twice: the second is a reject, so the output's ids are unique.
REVIEWS = (
    "id,review\n"
    '1,"A wonderful film, superb acting."\n'
    '1,"Awful, boring and far too long."\n'
    '2,"Terrible, boring rubbish."\n'
)


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(REVIEWS)
    return path


def summary_of(output: Path) -> dict[str, object]:
    summary: dict[str, object] = json.loads(Path(f"{output}.summary.json").read_text())
    return summary


def test_two_outputs_in_one_folder_keep_their_own_rejects_and_summary(
    user_champion_home: Path, reviews: Path, tmp_path: Path
) -> None:
    """scored.csv and scored.parquet used to share scored.rejects.csv and scored.summary.json:
    the second run overwrote the first's."""
    outputs = [tmp_path / "out" / "scored.csv", tmp_path / "out" / "scored.parquet"]
    for output in outputs:
        completed = run_cli("predict", str(reviews), str(output), home=user_champion_home)
        assert completed.returncode == 0, completed.stdout + completed.stderr

    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "scored.csv",
        "scored.csv.rejects.csv",
        "scored.csv.summary.json",
        "scored.parquet",
        "scored.parquet.rejects.csv",
        "scored.parquet.summary.json",
    ]
    for output in outputs:
        summary = summary_of(output)
        assert summary["output"] == str(output)
        assert summary["rejects"] == f"{output}.rejects.csv"
        assert len(pd.read_csv(f"{output}.rejects.csv")) == summary["rejected"]


def test_a_repeated_id_is_rejected_and_monitoring_reads_the_output_and_its_summary(
    user_champion_home: Path, reviews: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"

    completed = run_cli("predict", str(reviews), str(output), home=user_champion_home)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert pd.read_csv(output)["id"].tolist() == [1, 2]
    rejects = pd.read_csv(f"{output}.rejects.csv")
    assert rejects[["row_number", "id", "reason"]].values.tolist() == [[2, 1, "duplicate id"]]
    # Monitoring finds the summary where the batch wrote it, and the reject rate in it.
    current = current_from_file(output)
    assert len(current.frame) == 2
    assert current.reject_rate == pytest.approx(1 / 3)


def test_the_model_load_is_a_step_of_its_own_and_not_counted_as_scoring(
    user_champion_home: Path, reviews: Path, tmp_path: Path
) -> None:
    """The rate used to count the model's loading: 'Scoring 10 rows 1 rows/s' while it loaded,
    then '213 rows/s' and '"seconds": 0.047' for a run of 16 s, with no word of the rest."""
    output = tmp_path / "scored.csv"

    completed = run_cli("predict", str(reviews), str(output), home=user_champion_home)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    # Each step is a line of its own, in this order (a terminal puts a tick before each).
    steps = [line.lstrip("✓ ").split()[0] for line in lines if line.strip()][:3]
    assert steps == ["Checking", "Loading", "Scoring"], completed.stdout
    assert "Loading model models:/imdb-sentiment@champion" in completed.stdout
    scoring = next(line for line in lines if line.lstrip("✓ ").startswith("Scoring"))
    assert "3 rows" in scoring
    assert "rows/s" in scoring
    summary = summary_of(output)
    seconds, wall_seconds = float(summary["seconds"]), float(summary["wall_seconds"])  # type: ignore[arg-type]
    assert summary["rows_per_second"] == pytest.approx(3 / seconds, rel=0.05)  # ms rounding
    assert wall_seconds > seconds  # the model's loading is in the wall time only
    printed = " ".join(completed.stdout.split())
    assert f"Scored in {seconds:,.2f} s" in printed
    assert f"{wall_seconds:,.2f} s in all, loading the model included" in printed


def test_an_output_under_a_file_is_one_line_and_exit_2(
    user_champion_home: Path, reviews: Path
) -> None:
    """It was a NotADirectoryError traceback, exit 1, once the model had loaded."""
    completed = run_cli(
        "predict", str(reviews), f"{reviews}/x.csv", home=user_champion_home, cwd=reviews.parent
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.count("\n") == 1
    assert f"{reviews} is a file, not a folder" in " ".join(completed.stderr.split())
    assert "Traceback" not in completed.stderr
    assert sorted(path.name for path in reviews.parent.iterdir()) == ["reviews.csv"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.csv", "x.csv"], "missing.csv does not exist"),
        (["reviews.csv", "x.csv", "--text-column", "text"], "has no text column 'text'"),
        (["reviews.csv", "x.csv", "--id-column", "key"], "has no id column 'key'"),
        (["reviews.csv", "reviews.csv"], "would overwrite the input reviews.csv"),
        (["reviews.csv", "out/reviews.csv/x.csv"], "reviews.csv is a file, not a folder"),
    ],
)
def test_bad_input_is_told_before_the_model_is_loaded_and_leaves_nothing(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    """No model at --model: the error is about the input, so it was found before loading."""
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    (work / "reviews.csv").write_text(REVIEWS)
    (work / "out" / "reviews.csv").write_text(REVIEWS)
    before = sorted(str(path) for path in work.rglob("*"))

    completed = run_cli(
        "predict", *arguments, "--model", str(tmp_path / "no-model"),
        home=tmp_path / "home", cwd=work,
    )  # fmt: skip

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert message in " ".join(completed.stderr.split())
    assert "no-model" not in completed.stderr
    assert sorted(str(path) for path in work.rglob("*")) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("review\nA wonderful film.\n".encode("utf-16"), "reviews.csv is not UTF-8 text"),
        (b"review\ncaf\xe9 was bad\n", "reviews.csv is not UTF-8 text: no row can be read"),
        (b"text,sentiment\n", "has no text column 'review' (columns: text, sentiment)"),
        (b"review,review\nGood.,Bad.\n", "names the column 'review' more than once"),
    ],
    ids=["utf-16", "latin-1", "header-only", "repeated-column"],
)
def test_a_file_that_cannot_be_scored_as_a_whole_exits_2_before_the_model_loads(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Each exited 0 (all rows rejected, or none read) or scored the wrong column."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "reviews.csv").write_bytes(content)

    completed = run_cli(
        "predict", "reviews.csv", "scored.csv", "--model", str(tmp_path / "no-model"),
        home=tmp_path / "home", cwd=work,
    )  # fmt: skip

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stderr.count("\n") == 1
    assert message in " ".join(completed.stderr.split())
    assert "no-model" not in completed.stderr
    assert sorted(path.name for path in work.iterdir()) == ["reviews.csv"]
