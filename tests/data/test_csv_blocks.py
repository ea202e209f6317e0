"""A CSV cut into blocks of whole lines: every byte once, in order, and in a well-formed CSV each
cut at the end of a record, whatever the reviews hold (quotes, commas, line breaks)."""

from __future__ import annotations

import csv
import io
from itertools import accumulate

from hypothesis import given
from hypothesis import strategies as st

from sentimentops.data.csv_blocks import line_blocks

FIELD_CHARS = 12
FIELDS = st.text(alphabet='ab ,"\n\r', max_size=FIELD_CHARS)  # quotes, commas, line breaks


def written(rows: list[list[str]], line_end: str) -> tuple[bytes, set[int]]:
    """``rows`` as a well-formed CSV (a header first), and where each record ends. A field with a
    line break is quoted: Python 3.11's writer quotes only the breaks of its own line end, and a
    bare ``\r`` in a ``\n`` file ends a line for pandas, which no record end here would say."""
    records = []
    for row in [["review", "sentiment"], *rows]:
        text = io.StringIO()
        breaks = any(end in field for field in row for end in "\r\n")
        quoting = csv.QUOTE_ALL if breaks else csv.QUOTE_MINIMAL
        csv.writer(text, lineterminator=line_end, quoting=quoting).writerow(row)
        records.append(text.getvalue().encode())
    return b"".join(records), set(accumulate(len(record) for record in records))


@given(
    rows=st.lists(st.lists(FIELDS, min_size=2, max_size=2), max_size=120),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    # More line ends than a record holds, counted twice (\r\n split between two reads): each
    # block holds the end of a record, and the cut is never a guess.
    min_lines=st.integers(2 * (2 * FIELD_CHARS + 1), 80),
    read_size=st.integers(1, 64),
)
def test_blocks_hold_every_byte_and_end_where_a_record_does(
    rows: list[list[str]], line_end: str, min_lines: int, read_size: int
) -> None:
    data, record_ends = written(rows, line_end)

    blocks = list(line_blocks(io.BytesIO(data), min_lines, read_size))

    assert b"".join(block for block, _ in blocks) == data
    assert [last for _, last in blocks] == [False] * (len(blocks) - 1) + [True]
    cuts = list(accumulate(len(block) for block, _ in blocks[:-1]))
    assert set(cuts) <= record_ends
