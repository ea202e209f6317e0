"""An output assembled from no parts still has its columns: a CSV header, a Parquet schema with
the types a non-empty output has."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentimentops.batch.rules import no_predictions, no_rejects
from sentimentops.batch.writers import write_table

COLUMNS = "id,label,score,model_name,model_version,top_ngrams"


@pytest.mark.parametrize("name", ["scored.csv", "scored.csv.gz"])
def test_a_csv_without_predictions_has_its_header(tmp_path: Path, name: str) -> None:
    """It was a 0-byte file, which monitoring refused as empty."""
    output = tmp_path / name

    rows = write_table([], output, no_predictions("id", explain=True))

    opener = gzip.open if name.endswith(".gz") else open
    with opener(output, "rt", newline="") as stream:
        assert stream.read() == COLUMNS + "\r\n"
    assert rows == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]  # no .tmp left


def test_a_parquet_without_predictions_has_the_schema_of_one_with_them(tmp_path: Path) -> None:
    part = tmp_path / "output-000000.parquet"
    pd.DataFrame(
        {"row_number": [1], "label": ["positive"], "score": [0.9], "model_name": ["imdb"],
         "model_version": ["3"]}
    ).to_parquet(part, index=False)  # fmt: skip
    full, empty = tmp_path / "full.parquet", tmp_path / "empty.parquet"
    write_table([part], full, no_predictions("row_number", explain=False))

    write_table([], empty, no_predictions("row_number", explain=False))

    schema = pq.read_schema(empty)
    assert pq.read_table(empty).num_rows == 0
    assert schema.names == ["row_number", "label", "score", "model_name", "model_version"]
    assert schema.types == pq.read_schema(full).types
    assert schema.field("score").type == pa.float64()


def test_rejects_without_rows_keep_their_header(tmp_path: Path) -> None:
    rejects = tmp_path / "scored.csv.rejects.csv"

    write_table([], rejects, no_rejects())

    assert rejects.read_bytes() == b"row_number,id,reason,raw\r\n"
