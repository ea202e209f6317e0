"""Tests of CSV written for spreadsheets: formula cells defused, rows intact, numbers kept."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentimentops.csv_safety import CSV_LINE_END, FORMULA_STARTS, defuse_formulas, write_csv


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "-",
        "+1.5e3x",
    ],
    ids=repr,
)
def test_a_formula_cell_is_prefixed_with_a_quote(cell: str) -> None:
    defused = defuse_formulas(pd.DataFrame({"id": [cell]}))

    assert defused["id"].tolist() == ["'" + cell]


@pytest.mark.parametrize("cell", ["-7", "+1.5e3", "-.5", "3.", "A fine film", "a=b", ""], ids=repr)
def test_numbers_and_plain_text_are_kept(cell: str) -> None:
    assert defuse_formulas(pd.DataFrame({"id": [cell]}))["id"].tolist() == [cell]


def test_only_the_named_columns_of_a_copy_change_and_numbers_stay_numbers() -> None:
    frame = pd.DataFrame({"id": ["=1+1", "2"], "text": ["=A1", "ok"], "score": [-1.0, 0.5]})

    defused = defuse_formulas(frame, columns=["id", "score"])

    assert defused["id"].tolist() == ["'=1+1", "2"]
    assert defused["text"].tolist() == ["=A1", "ok"]  # not named: verbatim
    assert defused["score"].tolist() == [-1.0, 0.5]
    assert frame["id"].tolist() == ["=1+1", "2"]  # the input is not modified


def test_write_csv_ends_lines_with_crlf_and_quotes_a_lone_carriage_return() -> None:
    stream = io.StringIO(newline="")

    write_csv(pd.DataFrame({"id": ["a\rb", "c"], "n": [1, 2]}), stream)

    assert stream.getvalue() == f'id,n{CSV_LINE_END}"a\rb",1{CSV_LINE_END}c,2{CSV_LINE_END}'


def test_write_csv_without_a_header_writes_rows_only() -> None:
    stream = io.StringIO(newline="")

    write_csv(pd.DataFrame({"id": ["=1"]}), stream, header=False)

    assert stream.getvalue() == f"'=1{CSV_LINE_END}"


@given(st.lists(st.text(), min_size=1, max_size=20))
def test_every_row_reads_back_whole_and_no_cell_opens_as_a_formula(cells: list[str]) -> None:
    stream = io.StringIO(newline="")
    write_csv(pd.DataFrame({"id": cells}), stream)

    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))

    assert rows[0] == ["id"]
    read = [row[0] if row else "" for row in rows[1:]]
    assert len(read) == len(cells)  # no line break inside a cell split its row
    for original, cell in zip(cells, read, strict=True):
        assert cell in (original, "'" + original)
        if cell.startswith(FORMULA_STARTS):
            float(cell)  # only a plain number may start like a formula
