"""Batch prediction: nothing lost on a deliberately broken file, formats, resume after kill -9."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.batch.job import BatchPredictor
from sentimentops.batch.options import BatchOptions
from sentimentops.batch.sink import rejects_path, summary_path
from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.errors import DataError, ModelNotFoundError
from sentimentops.storage import Location
from sentimentops.tracking.loading import load_version
from tests.servers import moto_s3, script_json

runner = CliRunner()

GOOD = "A wonderful film with superb acting, I loved it."
# Ids differ from row numbers, so a row number can never pass for an id; the file starts with
# the byte-order mark Excel writes.
BROKEN_CSV = b"".join(
    [
        b"\xef\xbb\xbfid,review\n",
        b'101,"' + GOOD.encode() + b'"\n',
        b'102,"Dull, tedious and far too long. Awful.",extra field\n',  # malformed: 3 fields
        b"103,\n",  # missing text
        b'104,"   "\n',  # empty text
        b'105,"<br /><br />"\n',  # empty after cleaning
        b'106,"caf\xe9 was bad"\n',  # undecodable byte
        b'107,"nul\x00byte"\n',  # NUL byte
        b'108,"' + b"long " * 30 + b'"\n',  # longer than the limit set below (100)
        b'109,"Terrible, boring rubbish."\n',
    ]
)


def predictor(model_folder: Path, **options: object) -> BatchPredictor:
    return BatchPredictor(
        load_version(str(model_folder)), BatchOptions(max_text_chars=100, **options)
    )  # type: ignore[arg-type]


def test_every_kind_of_bad_row_is_rejected_and_nothing_is_lost(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "broken.csv"
    source.write_bytes(BROKEN_CSV)
    output = tmp_path / "out.csv"

    summary = predictor(model_folder, chunk_size=3).run(str(source), output)

    predictions = pd.read_csv(output)
    rejects = pd.read_csv(rejects_path(output))
    assert summary.rows_in == 9
    assert summary.predicted + summary.rejected == summary.rows_in
    assert len(predictions) + len(rejects) == 9
    assert predictions["id"].tolist() == [101, 109]
    assert predictions["label"].tolist() == ["positive", "negative"]
    assert list(predictions.columns) == ["id", "label", "score", "model_name", "model_version"]
    reasons = dict(zip(rejects["row_number"], rejects["reason"], strict=True))
    assert reasons[2].startswith("malformed CSV line")
    assert reasons[3] == "missing text"
    assert reasons[4] == "empty text"
    assert reasons[5] == "text empty after cleaning"
    assert reasons[6] == "undecodable bytes (not UTF-8)"
    assert reasons[7] == "NUL byte in row"
    assert reasons[8] == "text longer than 100 characters"
    assert json.loads(summary_path(output).read_text())["rejected"] == 7
    # Readable rows keep their id; an unreadable row has none (not its row number).
    ids = dict(zip(rejects["row_number"], rejects["id"], strict=True))
    assert {row: ids[row] for row in (3, 4, 5, 8)} == {3: 103, 4: 104, 5: 105, 8: 108}
    assert all(pd.isna(ids[row]) for row in (2, 6, 7))


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl", ".parquet"])
def test_output_format_follows_the_extension(
    model_folder: Path, tmp_path: Path, suffix: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"review": t}) for t in [GOOD, "Awful."] * 3))
    output = tmp_path / f"out{suffix}"

    predictor(model_folder, chunk_size=2).run(str(source), output)

    if suffix == ".parquet":
        frame = pd.read_parquet(output)
    elif suffix == ".jsonl":
        frame = pd.read_json(output, lines=True)
    else:
        with gzip.open(output, "rt") as stream:
            frame = pd.read_csv(stream)
    assert frame["row_number"].tolist() == [1, 2, 3, 4, 5, 6]  # input order, no id column
    assert frame["label"].tolist() == ["positive", "negative"] * 3


def test_missing_text_column_and_missing_model_are_clear_errors(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nhello\n")

    with pytest.raises(DataError, match="no text column 'review'"):
        predictor(model_folder).run(str(source), tmp_path / "out.csv")
    with pytest.raises(ModelNotFoundError):
        load_version(str(tmp_path / "no-model"))
    result = runner.invoke(app, ["predict", str(source), str(tmp_path / "o.csv"),
                                 "--model", str(model_folder)])  # fmt: skip
    assert result.exit_code == 2
    assert "no text column" in result.output


def reviews_csv(rows: int) -> bytes:
    lines = [f'{i},"Review {i}: a wonderful film, superb acting, loved it."\n' for i in range(rows)]
    return ("id,review\n" + "".join(lines)).encode()


def test_a_truncated_gzip_input_exits_2_naming_the_rows_read(
    model_folder: Path, tmp_path: Path
) -> None:
    packed = gzip.compress(reviews_csv(5_000))
    source = tmp_path / "reviews.csv.gz"
    source.write_bytes(packed[: len(packed) // 2])  # an interrupted download
    # The rows read before the break: the whole lines of what decompresses.
    prefix = zlib.decompressobj(wbits=31).decompress(packed[: len(packed) // 2])
    rows_read = prefix.count(b"\n") - 1  # the header is not a row
    output = tmp_path / "out.csv"

    result = runner.invoke(app, ["predict", str(source), str(output),
                                 "--model", str(model_folder), "--chunk-size", "500"])  # fmt: skip

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{source} is cut short: its gzip stream ends after {rows_read:,} rows" in message
    assert "truncated" in message
    assert "download or compress it again" in message
    assert "Then rerun without --resume." in message
    assert "Traceback" not in result.output
    assert not output.exists()  # no partial output presented as complete


def test_a_truncated_gzip_input_downloaded_again_is_scored_from_the_start(
    model_folder: Path, tmp_path: Path
) -> None:
    """What the message advises: the whole file is another input than the cut-short one, so
    --resume refuses it (nothing mixed), and a run without --resume scores every row once."""
    whole = gzip.compress(reviews_csv(3_000))
    source = tmp_path / "reviews.csv.gz"
    source.write_bytes(whole[: len(whole) * 2 // 3])
    output = tmp_path / "out.csv"
    run = predictor(model_folder, chunk_size=200)

    with pytest.raises(DataError, match="is cut short"):
        run.run(str(source), output)
    source.write_bytes(whole)  # downloaded again
    with pytest.raises(DataError, match="changed since the interrupted run"):
        run.run(str(source), output, resume=True)
    summary = run.run(str(source), output)

    assert summary.resumed_from_chunk == 0
    assert pd.read_csv(output)["id"].tolist() == list(range(3_000))  # each row exactly once
    # The summary records which content was scored: the whole file, not the cut-short one.
    assert summary.input_fingerprint == Location(source).fingerprint()
    assert (
        json.loads(summary_path(output).read_text())["input_fingerprint"]
        == Location(source).fingerprint()
    )


def _damaged_deflate(packed: bytes) -> bytes:
    damaged = bytearray(packed)
    damaged[20] ^= 0xFF  # inside the first compressed block
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "rows_read", "detail"),
    [
        (_damaged_deflate, 0, "Error -3 while decompressing data"),  # zlib.error
        (lambda packed: packed[:2] + b"\x07" + packed[3:], 0, "Unknown compression method"),
        # A wrong CRC shows only at the end, after every row was read.
        (lambda packed: packed[:-8] + b"\0\0\0\0" + packed[-4:], 2_000, "CRC check failed"),
        (lambda packed: packed + b"not gzip", 2_000, "Not a gzipped file"),
    ],
    ids=["damaged-data", "bad-header", "bad-crc", "trailing-bytes"],
)
def test_a_corrupt_gzip_input_exits_2_naming_the_rows_read(
    model_folder: Path,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    rows_read: int,
    detail: str,
) -> None:
    source = tmp_path / "reviews.csv.gz"
    source.write_bytes(damage(gzip.compress(reviews_csv(2_000))))

    result = runner.invoke(
        app, ["predict", str(source), str(tmp_path / "out.csv"), "--model", str(model_folder)]
    )

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{source} is not valid gzip after {rows_read:,} rows ({detail}" in message
    assert "Download or compress it again." in message
    assert ("rerun without --resume" in message) == (rows_read > 0)
    assert "Traceback" not in result.output


def test_a_plain_csv_named_csv_gz_is_read_as_plain(model_folder: Path, tmp_path: Path) -> None:
    """Gzip is told by its magic bytes, not by the name: a file that is not gzip at all is no
    corrupt gzip."""
    source = tmp_path / "reviews.csv.gz"
    source.write_bytes(reviews_csv(10))

    result = runner.invoke(
        app, ["predict", str(source), str(tmp_path / "out.csv"), "--model", str(model_folder)]
    )

    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "out.csv")["id"].tolist() == list(range(10))


def test_reject_limit_exits_4(model_folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "broken.csv"
    source.write_bytes(BROKEN_CSV)

    result = runner.invoke(
        app, ["predict", str(source), str(tmp_path / "o.csv"), "--model", str(model_folder),
              "--max-reject-rate", "0.5"]
    )  # fmt: skip

    assert result.exit_code == 4
    assert "above --max-reject-rate" in result.output


# A later record without an id, once the first one has made the id column in use: absent from
# a JSON object, null, or an empty CSV cell. Rows 2 and 4 of each file.
WITHOUT_ID = {
    ".jsonl": "\n".join(
        json.dumps(record)
        for record in [
            {"id": "r1", "review": GOOD},
            {"review": "Awful, boring film."},
            {"id": "r3", "review": "Terrible, boring rubbish."},
            {"id": None, "review": GOOD},
            {"id": "r5", "review": GOOD},
        ]
    )
    + "\n",
    ".csv": f'id,review\nr1,"{GOOD}"\n,"Awful, boring film."\nr3,"Terrible, boring rubbish."\n'
    f',"{GOOD}"\nr5,"{GOOD}"\n',
}


@pytest.mark.parametrize("suffix", sorted(WITHOUT_ID))
def test_a_record_without_its_id_is_rejected_not_given_a_made_up_one(
    model_folder: Path, tmp_path: Path, suffix: str
) -> None:
    """Scored, it would come out with the id "None" (JSON) or "" (CSV), shared by every such
    row: a join by id (monitoring's) would pair them with each other's texts, or fail."""
    source = tmp_path / f"reviews{suffix}"
    source.write_text(WITHOUT_ID[suffix])
    output = tmp_path / "scored.jsonl"

    result = runner.invoke(app, ["predict", str(source), str(output), "--model",
                                 str(model_folder)])  # fmt: skip

    assert result.exit_code == 0, result.output
    assert pd.read_json(output, lines=True, dtype=False)["id"].tolist() == ["r1", "r3", "r5"]
    rejects = pd.read_csv(rejects_path(output))
    assert rejects["row_number"].tolist() == [2, 4]
    assert rejects["reason"].tolist() == ["missing id", "missing id"]
    assert rejects["id"].isna().all()  # no id, not the string "None"
    summary = json.loads(summary_path(output).read_text())
    assert (summary["rows_in"], summary["predicted"], summary["rejected"]) == (5, 3, 2)


# Ids compared as the output writes them, as text: 1 and "1" are one id. Rows 2 and 4 repeat an
# earlier id; row 3 is rejected for its text, and its id stays taken.
REPEATED_IDS = [
    {"id": 1, "review": GOOD},
    {"id": "1", "review": "Awful, boring film."},
    {"id": 2, "review": "   "},
    {"id": 2, "review": GOOD},
    {"id": 3, "review": "Terrible, boring rubbish."},
]


def test_a_repeated_id_is_rejected_and_the_first_record_keeps_it(
    model_folder: Path, tmp_path: Path
) -> None:
    """Two predictions for one id cannot be joined back to their input (monitoring refuses
    them); chunks of 2 put the repeats in later chunks than the first."""
    source = tmp_path / "reviews.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in REPEATED_IDS))
    output = tmp_path / "scored.csv"

    summary = predictor(model_folder, chunk_size=2).run(str(source), output)

    assert pd.read_csv(output, dtype=str)["id"].tolist() == ["1", "3"]
    rejects = pd.read_csv(rejects_path(output), dtype=str)
    assert rejects[["row_number", "id", "reason"]].values.tolist() == [
        ["2", "1", "duplicate id"],
        ["3", "2", "empty text"],
        ["4", "2", "duplicate id"],
    ]
    assert (summary.rows_in, summary.predicted, summary.rejected) == (5, 2, 3)


def test_a_resumed_run_goes_on_rejecting_the_ids_seen_before_the_crash(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "reviews.csv"
    # Ids 0-39, then 5 (in a chunk done before the crash), 25 (after it) and 5 again.
    ids = [*range(40), 5, 25, 5]
    texts = [GOOD if i % 2 else "Terrible, boring rubbish." for i in ids]
    pd.DataFrame({"id": ids, "review": texts}).to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    assert _interrupted_run(model_folder, source, output, max_text_chars=100) == 2  # ids 0-19

    summary = predictor(model_folder, chunk_size=10).run(str(source), output, resume=True)

    assert summary.resumed_from_chunk == 2
    assert pd.read_csv(output)["id"].tolist() == list(range(40))
    rejects = pd.read_csv(rejects_path(output))
    assert rejects[["row_number", "id", "reason"]].values.tolist() == [
        [41, 5, "duplicate id"],
        [42, 25, "duplicate id"],
        [43, 5, "duplicate id"],
    ]


def test_a_run_that_fails_before_its_first_chunk_leaves_no_parts_behind(
    model_folder: Path, tmp_path: Path
) -> None:
    """Nothing to resume from, so nothing to keep: a wrong column used to leave OUTPUT.parts/."""
    source = tmp_path / "reviews.csv"
    source.write_text("id,text\n1,hello\n")
    output = tmp_path / "scored.csv"

    with pytest.raises(DataError, match="no text column 'review'"):
        predictor(model_folder).run(str(source), output)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["reviews.csv"]


class _StoppedRun(NamedTuple):
    command: list[str]
    output: Path
    checkpoint: Path
    returncode: int
    stderr: str
    signals: str  # the run's blocked and ignored signals, as /proc showed them when it started


_BIG_RUN_ROWS = 30_000
# Runs the command with SIGINT unblocked and at its default, as a terminal gives it: a process
# inherits its parent thread's mask and ignored signals, and a test worker's may differ.
_AS_FROM_A_TERMINAL = (
    "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def _stopped_mid_run(
    model_folder: Path, tmp_path: Path, reviews: pd.DataFrame, stop: signal.Signals
) -> _StoppedRun:
    """``predict`` of 30,000 reviews in chunks of 500 as a process, sent ``stop`` once three
    chunks are done."""
    texts = reviews["review"].head(3_000).tolist() * 10
    source = tmp_path / "big.csv"
    pd.DataFrame({"id": range(_BIG_RUN_ROWS), "review": texts}).to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    checkpoint = tmp_path / "scored.csv.parts" / "checkpoint.json"
    command = [str(Path(sys.executable).parent / "sentimentops"), "predict", str(source),
               str(output), "--model", str(model_folder), "--chunk-size", "500"]  # fmt: skip

    quiet, kept = subprocess.DEVNULL, subprocess.PIPE
    # At a lower priority than this poller, so that it stops the run mid-way on busy cores; the
    # wrapper and nice exec the command: the pid is the run's.
    started = ["nice", "-n", "10", sys.executable, "-c", _AS_FROM_A_TERMINAL, *command]
    process = subprocess.Popen(started, stdout=quiet, stderr=kept, text=True)
    deadline = time.monotonic() + 120
    signals = ""
    while time.monotonic() < deadline:
        if not signals and process.poll() is None:
            status = Path(f"/proc/{process.pid}/status").read_text()
            signals = " ".join(line for line in status.splitlines() if line[:6] in _SIGNAL_LINES)
        if checkpoint.exists() and json.loads(checkpoint.read_text())["chunks_done"] >= 3:
            break
        time.sleep(0.02)
    os.kill(process.pid, stop)
    _, stderr = process.communicate(timeout=60)
    return _StoppedRun(command, output, checkpoint, process.returncode, stderr, signals)


_SIGNAL_LINES = ("SigBlk", "SigIgn")


def test_killed_run_resumes_with_every_row_exactly_once(
    model_folder: Path, tmp_path: Path, reference_reviews: pd.DataFrame
) -> None:
    rows = _BIG_RUN_ROWS
    killed = _stopped_mid_run(model_folder, tmp_path, reference_reviews, signal.SIGKILL)
    command, output, checkpoint = killed.command, killed.output, killed.checkpoint
    done_before_kill = json.loads(checkpoint.read_text())["chunks_done"]
    assert 3 <= done_before_kill < rows // 500, "the run must be killed mid-way"
    assert not output.exists()  # no partial output presented as complete

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)

    assert resumed.returncode == 0, resumed.stderr
    scored = pd.read_csv(output)
    assert scored["id"].tolist() == list(range(rows))  # every row exactly once, in order
    summary = json.loads(summary_path(output).read_text())
    assert summary["resumed_from_chunk"] >= done_before_kill
    assert summary["rows_in"] == rows


def test_ctrl_c_says_how_to_resume_and_the_resumed_run_completes(
    model_folder: Path, tmp_path: Path, reference_reviews: pd.DataFrame
) -> None:
    rows = _BIG_RUN_ROWS
    stopped = _stopped_mid_run(model_folder, tmp_path, reference_reviews, signal.SIGINT)

    assert stopped.returncode == 130, (stopped.signals, stopped.checkpoint.read_text())
    assert "Interrupted." in stopped.stderr
    assert "--resume" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    resumed = subprocess.run(
        [*stopped.command, "--resume"], capture_output=True, text=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert pd.read_csv(stopped.output)["id"].tolist() == list(range(rows))


class _InterruptedError(Exception):
    """Stands for the crash that stops a run after some chunks (as kill -9 does, above)."""


def _interrupted_run(model_folder: Path, source: Path, output: Path, **options: Any) -> int:
    """Score ``source`` in chunks of 10 and stop the run after its second checkpoint; returns
    the chunks its checkpoint says are done."""
    checkpoints = 0

    def progress(_rows: int) -> None:  # called once a chunk and its checkpoint are written
        nonlocal checkpoints
        checkpoints += 1
        if checkpoints == 2:
            raise _InterruptedError

    options = {"max_text_chars": get_settings().validation.max_text_chars} | options
    run = BatchPredictor(
        load_version(str(model_folder)), BatchOptions(chunk_size=10, **options), progress=progress
    )
    with pytest.raises(_InterruptedError):
        run.run(str(source), output)
    assert not output.exists()
    checkpoint = output.with_name(output.name + ".parts") / "checkpoint.json"
    return int(json.loads(checkpoint.read_text())["chunks_done"])


def _reviews_csv(path: Path, ids: range) -> None:
    texts = [GOOD if i % 2 else "Terrible, boring rubbish." for i in ids]
    pd.DataFrame({"id": ids, "review": texts}).to_csv(path, index=False)


def test_a_resumed_run_counts_its_rate_on_the_rows_it_scored_itself(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "reviews.csv"
    _reviews_csv(source, range(40))
    output = tmp_path / "scored.csv"
    done = _interrupted_run(model_folder, source, output)
    options = BatchOptions(chunk_size=10, max_text_chars=get_settings().validation.max_text_chars)

    summary = BatchPredictor(load_version(str(model_folder)), options).run(
        str(source), output, resume=True
    )

    assert (summary.rows_in, summary.resumed_from_chunk) == (40, done)
    scored_now = 40 - done * 10
    assert summary.rows_per_second * summary.seconds == pytest.approx(scored_now, rel=0.1)


def test_resume_refuses_an_input_rewritten_since_the_interrupted_run(
    model_folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "reviews.csv"
    _reviews_csv(source, range(40))
    original, original_stat = source.read_bytes(), source.stat()
    output = tmp_path / "scored.csv"
    assert _interrupted_run(model_folder, source, output) == 2
    # The same file rewritten with other reviews (the same S3 key uploaded again, on S3).
    _reviews_csv(source, range(1_000, 1_060))
    command = ["predict", str(source), str(output), "--model", str(model_folder),
               "--chunk-size", "10", "--resume"]  # fmt: skip

    refused = runner.invoke(app, command)

    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.split())  # rich wraps the paragraph
    assert f"{source} changed since the interrupted run" in message
    assert "Run without --resume" in message
    assert "Traceback" not in refused.output
    # Nothing mixed: no output, and the old chunks are kept, still resumable onto the old file.
    assert not output.exists()
    assert not summary_path(output).exists()
    source.write_bytes(original)  # put back as advised, with its modification time (cp -p)
    os.utime(source, ns=(original_stat.st_atime_ns, original_stat.st_mtime_ns))

    resumed = runner.invoke(app, command)

    assert resumed.exit_code == 0, resumed.output
    assert pd.read_csv(output)["id"].tolist() == list(range(40))  # every row once, none new
    assert json.loads(summary_path(output).read_text())["resumed_from_chunk"] == 2


def test_resume_refuses_another_text_length_limit(model_folder: Path, tmp_path: Path) -> None:
    """Rows rejected as too long under one limit would be scored under another."""
    source = tmp_path / "reviews.csv"
    _reviews_csv(source, range(40))
    output = tmp_path / "scored.csv"
    _interrupted_run(model_folder, source, output, max_text_chars=30)

    refused = runner.invoke(
        app, ["predict", str(source), str(output), "--model", str(model_folder),
              "--chunk-size", "10", "--resume"],
    )  # fmt: skip

    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.output.split())
    assert "belongs to another run (max_text_chars=30)" in message
    assert "validation.max_text_chars" in message
    assert not output.exists()


def test_dask_engine_gives_the_same_rows_as_the_local_engine(
    model_folder: Path, tmp_path: Path, reference_reviews: pd.DataFrame
) -> None:
    source = tmp_path / "reviews.csv"
    frame = (
        reference_reviews[["review_id", "review"]].head(1_200).rename(columns={"review_id": "id"})
    )
    frame.to_csv(source, index=False)
    with source.open("a") as stream:
        stream.write('broken,"row",with extra\n')
    local, distributed = tmp_path / "local.csv", tmp_path / "dask.csv"

    local_run = runner.invoke(app, ["predict", str(source), str(local), "--model",
                                    str(model_folder), "--chunk-size", "200"])  # fmt: skip
    dask_run = runner.invoke(app, ["predict", str(source), str(distributed), "--model",
                                   str(model_folder), "--chunk-size", "200", "--engine", "dask",
                                   "--workers", "2"])  # fmt: skip

    assert local_run.exit_code == 0, local_run.output
    assert dask_run.exit_code == 0, dask_run.output
    pd.testing.assert_frame_equal(pd.read_csv(local), pd.read_csv(distributed))
    pd.testing.assert_frame_equal(
        pd.read_csv(rejects_path(local)), pd.read_csv(rejects_path(distributed))
    )
    assert len(pd.read_csv(distributed)) == 1_200


def test_the_local_dask_workers_leave_ctrl_c_and_its_cancellations_to_the_command(
    model_folder: Path,
) -> None:
    """On Ctrl-C each worker printed a traceback, then a warning per cancelled chunk; a Ctrl-C
    while they started was ignored, and the run went on to the end."""
    workers = script_json(
        "import json, logging, signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
        "from sentimentops.batch.engines import DaskEngine\n"
        f"engine = DaskEngine({str(model_folder)!r}, workers=2)\n"
        "def ask():\n"
        "    level = logging.getLogger('distributed.worker.state_machine').level\n"
        "    return [signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []), level]\n"
        "answers = engine._client.run(ask)\n"
        "engine.close()\n"
        "print(json.dumps(list(answers.values())))\n",
        new_session=True,
    )

    assert workers == [[True, logging.ERROR]] * 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--engine", "dask", "--scheduler", "foo"], "Cannot reach the Dask scheduler at foo ("),
        (["--scheduler", "tcp://127.0.0.1:8786"], "add --engine dask"),  # was ignored: local
    ],
)
def test_a_scheduler_that_cannot_be_used_is_one_line_and_exit_2(
    model_folder: Path, tmp_path: Path, options: list[str], expected: str
) -> None:
    """An address that is none printed a traceback, exit 1."""
    source = tmp_path / "reviews.csv"
    source.write_text("review\nA fine film.\n")
    output = tmp_path / "scored.csv"

    result = runner.invoke(
        app, ["predict", str(source), str(output), "--model", str(model_folder), *options]
    )

    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not output.exists()


def test_explain_adds_the_top_ngrams_of_each_row(model_folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text('review\n"A wonderful, superb film."\n"An awful, boring film."\n')
    output = tmp_path / "out.csv"

    result = runner.invoke(
        app, ["predict", str(source), str(output), "--model", str(model_folder), "--explain"]
    )

    assert result.exit_code == 0, result.output
    explained = pd.read_csv(output)["top_ngrams"].tolist()
    assert "wonderful:+" in explained[0]
    assert "awful:-" in explained[1]
    assert all(len(row.split("; ")) <= 5 for row in explained)


def test_s3_input_and_output_through_the_cli(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moto_s3(monkeypatch) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="batch")
        s3.put_object(Bucket="batch", Key="in/broken.csv.gz", Body=gzip.compress(BROKEN_CSV))

        result = runner.invoke(
            app,
            [
                "predict",
                "s3://batch/in/broken.csv.gz",
                "s3://batch/out/scored.parquet",
                "--model",
                str(model_folder),
                "--chunk-size",
                "4",
            ],
        )

        assert result.exit_code == 0, result.output
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket="batch")["Contents"]}
        assert keys == {
            "in/broken.csv.gz",
            "out/scored.parquet",
            "out/scored.parquet.rejects.csv",
            "out/scored.parquet.summary.json",
        }
        scored = tmp_path / "scored.parquet"
        s3.download_file("batch", "out/scored.parquet", str(scored))
        rejects = tmp_path / "rejects.csv"
        s3.download_file("batch", "out/scored.parquet.rejects.csv", str(rejects))
        summary_object = s3.get_object(Bucket="batch", Key="out/scored.parquet.summary.json")
        summary = json.loads(summary_object["Body"].read())

    # The default max length (100,000 characters) accepts row 8, which the other tests reject.
    assert pd.read_parquet(scored)["id"].tolist() == ["101", "108", "109"]
    assert pd.read_csv(rejects)["row_number"].tolist() == [2, 3, 4, 5, 6, 7]
    assert summary["rows_in"] == 9
    assert summary["output"] == "s3://batch/out/scored.parquet"
    assert summary["rejects"] == "s3://batch/out/scored.parquet.rejects.csv"
    # The local staging folder is cleaned up once everything is uploaded.
    assert not any((Path(os.environ["SENTIMENTOPS_HOME"]) / "staging").glob("*/*"))


def test_an_s3_output_in_a_missing_bucket_is_bad_input_not_an_outage(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> None:
    """Exit 2 (fix the location), not 1 (worth retrying): S3 answered, and will answer the same."""
    source = tmp_path / "in.csv"
    source.write_bytes(BROKEN_CSV)
    with moto_s3(monkeypatch):
        result = runner.invoke(
            app,
            ["predict", str(source), "s3://no-such-bucket/out.csv", "--model", str(model_folder)],
        )

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    # Refused before any scoring: no model loaded, nothing staged for the upload.
    assert "The object store refused a request while checking" in message
    assert "before scoring" in message
    assert not (isolated_settings / "staging").exists()
    assert "s3://no-such-bucket/out.csv" in message
    assert "NoSuchBucket" in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_output_with_every_row_rejected_still_has_its_columns(
    model_folder: Path, tmp_path: Path, suffix: str
) -> None:
    """It was a 0-byte CSV or a Parquet without columns, which monitoring took for no output."""
    source = tmp_path / "in.csv"
    source.write_text('id,review\n1,"   "\n2,\n')
    output = tmp_path / f"out{suffix}"

    summary = predictor(model_folder).run(str(source), output)

    assert (summary.rows_in, summary.predicted, summary.rejected) == (2, 0, 2)
    frame = pd.read_csv(output) if suffix == ".csv" else pd.read_parquet(output)
    assert frame.empty
    assert list(frame.columns) == ["id", "label", "score", "model_name", "model_version"]
    assert pd.read_csv(rejects_path(output))["reason"].tolist() == ["empty text", "missing text"]


def test_an_input_that_is_not_utf8_text_exits_2_before_scoring(
    model_folder: Path, tmp_path: Path
) -> None:
    """A UTF-16 CSV used to exit 0 with every row rejected and a 0-byte output."""
    source = tmp_path / "in.csv"
    pd.DataFrame({"review": [GOOD] * 3}).to_csv(source, index=False, encoding="utf-16")

    result = runner.invoke(app, ["predict", str(source), str(tmp_path / "out.csv"),
                                 "--model", str(model_folder)])  # fmt: skip

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert f"{source} is not UTF-8 text" in message
    assert "Re-save the file as UTF-8 CSV" in message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_folder_the_file_system_refuses_exits_2(
    model_folder: Path, tmp_path: Path
) -> None:
    """Not creatable under /proc: it was a FileNotFoundError traceback."""
    source = tmp_path / "in.csv"
    source.write_text(f'id,review\n1,"{GOOD}"\n')

    result = runner.invoke(app, ["predict", str(source), "/proc/scored.csv",
                                 "--model", str(model_folder)])  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "Cannot write the output /proc/scored.csv" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_a_run_cut_short_is_resumable_once_a_chunk_is_done_and_not_before(
    model_folder: Path, tmp_path: Path
) -> None:
    """What ``predict`` says on Ctrl-C: --resume only when there is something to go on from."""
    source = tmp_path / "reviews.csv"
    _reviews_csv(source, range(40))
    options = BatchOptions(chunk_size=10, max_text_chars=get_settings().validation.max_text_chars)

    def stop_at_scoring(step: str) -> None:
        if step == "Scoring":  # the model is loaded, no chunk scored yet
            raise _InterruptedError

    def stop_after_a_chunk(_rows: int) -> None:
        raise _InterruptedError

    model = load_version(str(model_folder))
    before = BatchPredictor(model, options, status=stop_at_scoring)
    after = BatchPredictor(model, options, progress=stop_after_a_chunk)
    for run, output in ((before, tmp_path / "before.csv"), (after, tmp_path / "after.csv")):
        with pytest.raises(_InterruptedError):
            run.run(str(source), output)

    assert not before.resumable
    assert after.resumable
    assert not BatchPredictor(model, options).resumable  # never run
