"""The batch flow: what it plans to score, scoring folders and S3 prefixes, and not scoring
again what the same model already scored."""

from __future__ import annotations

import base64
import json
import os
import pickle
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.pipelines.batch_flow import batch_flow, plan_batch
from tests.pickles import RunsCode
from tests.servers import moto_s3


def _reviews(path: Path, texts: list[str]) -> Path:
    pd.DataFrame({"id": range(len(texts)), "review": texts}).to_csv(path, index=False)
    return path


def test_plan_for_one_file_defaults_to_the_predictions_folder(tmp_path: Path) -> None:
    source = _reviews(tmp_path / "incoming.csv", ["great"])
    settings = get_settings()

    assert plan_batch(str(source), None, settings) == [
        (str(source), str(settings.state_path("predictions") / "incoming.predictions.csv"))
    ]
    assert plan_batch(str(source), str(tmp_path / "out.parquet"), settings) == [
        (str(source), str(tmp_path / "out.parquet"))
    ]


def test_plan_for_a_folder_takes_only_its_data_files(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    _reviews(folder / "a.csv", ["good"])
    pd.DataFrame({"review": ["bad"]}).to_parquet(folder / "b.parquet")
    (folder / "notes.txt").write_text("not data")
    _reviews(folder / "old.predictions.csv", ["an earlier output"])

    plan = plan_batch(str(folder), str(tmp_path / "out"), get_settings())

    assert plan == [
        (str(folder / "a.csv"), f"{tmp_path / 'out'}/a.predictions.csv"),
        (str(folder / "b.parquet"), f"{tmp_path / 'out'}/b.predictions.csv"),
    ]


def test_plan_refuses_a_missing_input_and_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        plan_batch(str(tmp_path / "missing.csv"), None, get_settings())
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no data files"):
        plan_batch(str(tmp_path / "empty"), None, get_settings())


def test_batch_without_an_input_says_how_to_give_one(model_folder: Path) -> None:
    with pytest.raises(BadInputError, match=r"pipeline\.batch_input"):
        batch_flow(model=str(model_folder))


def test_a_folder_is_scored_once_per_model_and_again_when_a_file_changes(
    tmp_path: Path, model_folder: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = _reviews(inbox / "monday.csv", ["A wonderful film.", "Dull and tedious.", ""])
    second = _reviews(inbox / "tuesday.csv", ["Loved every minute."])
    out = tmp_path / "out"

    result = batch_flow(input=str(inbox), output=str(out), model=str(model_folder))

    assert result.steps == {str(first): "ran", str(second): "ran"}
    assert (result.rows_in, result.rejected) == (4, 1)  # the empty review is a reject
    monday = pd.read_csv(out / "monday.predictions.csv")
    assert list(monday["label"]) == ["positive", "negative"]

    again = batch_flow(input=str(inbox), output=str(out), model=str(model_folder))
    assert again.steps == {str(first): "cached", str(second): "cached"}

    _reviews(second, ["Loved every minute.", "Hated it."])  # rewritten: new content
    stat = second.stat()
    os.utime(second, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    (out / "monday.predictions.csv").unlink()  # an output that is gone is not "scored"

    third = batch_flow(input=str(inbox), output=str(out), model=str(model_folder))

    assert third.steps == {str(first): "ran", str(second): "ran"}
    assert len(pd.read_csv(out / "tuesday.predictions.csv")) == 2
    assert (out / "monday.predictions.csv").is_file()


def test_a_pickle_planted_in_the_result_cache_is_never_unpickled(
    tmp_path: Path, model_folder: Path
) -> None:
    """Prefect reads a cached record with the serializer the record names: a record rewritten
    to name pickle must read as "not cached" (the task runs again), never be unpickled."""
    source = _reviews(tmp_path / "monday.csv", ["A wonderful film."])
    out = tmp_path / "out"
    first = batch_flow(input=str(source), output=str(out), model=str(model_folder))
    assert first.steps == {str(source): "ran"}
    records = [
        path
        for path in get_settings().state_path("cache", "prefect-results").rglob("*")
        if path.is_file()
    ]
    assert records
    marker = tmp_path / "code-ran"
    for path in records:
        record = json.loads(path.read_bytes())
        assert record["metadata"]["serializer"]["type"] == "sentimentops-skops"
        record["metadata"]["serializer"] = {"type": "pickle", "picklelib": "pickle"}
        record["result"] = base64.encodebytes(pickle.dumps(RunsCode(marker))).decode()
        path.write_text(json.dumps(record))

    again = batch_flow(input=str(source), output=str(out), model=str(model_folder))

    assert not marker.exists()
    assert again.steps == {str(source): "ran"}  # the planted record read as "not cached"
    rewritten = [json.loads(path.read_bytes()) for path in records]
    assert {r["metadata"]["serializer"]["type"] for r in rewritten} == {"sentimentops-skops"}


def test_an_s3_prefix_is_scored_into_an_s3_prefix(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    with moto_s3(monkeypatch) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="batch-flow")
        s3.put_object(Bucket="batch-flow", Key="in/a.csv", Body=b"id,review\n1,Superb acting.\n")
        s3.put_object(
            Bucket="batch-flow", Key="in/b.jsonl", Body=b'{"id": 2, "review": "Awful."}\n'
        )

        result = batch_flow(
            input="s3://batch-flow/in/", output="s3://batch-flow/out/", model=str(model_folder)
        )
        again = batch_flow(
            input="s3://batch-flow/in/", output="s3://batch-flow/out/", model=str(model_folder)
        )
        keys = {item["Key"] for item in s3.list_objects_v2(Bucket="batch-flow")["Contents"]}

    assert result.rows_in == 2
    assert result.rejected == 0
    assert {"out/a.predictions.csv", "out/b.predictions.csv"} <= keys
    assert set(again.steps.values()) == {"cached"}
