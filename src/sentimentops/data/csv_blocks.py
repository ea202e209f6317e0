"""A CSV's bytes cut into blocks of whole lines, for pandas to parse each in one pass under the
file's header. pandas' chunked reader leaves the first row of each chunk unchecked: a row with
too many fields there loses the extra ones without a word (pandas-dev/pandas#11569). A block
parsed as a file of its own has every row checked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

__all__ = ["after_line_end", "line_blocks"]

_QUOTE = b'"'
_LF, _CR = ord("\n"), ord("\r")


def line_blocks(stream: IO[bytes], min_lines: int, read_size: int) -> Iterator[tuple[bytes, bool]]:
    """``stream``'s bytes read ``read_size`` at a time, as blocks of whole lines of at least
    ``min_lines`` lines each (the last may hold fewer), and whether the block is the last. A
    block ends at its last line end with an even number of double quotes before it: in a
    well-formed CSV the end of a record, not a line break inside a quoted review. When none has
    after ``min_lines`` more lines, at its last line end: a stray quote in an unquoted field
    leaves the count odd for good, and only the parse can tell it from a quoted field."""
    pieces: list[bytes] = []
    lines = 0
    waited = False  # for a line end with balanced quotes, ``min_lines`` lines
    while piece := stream.read(read_size):
        pieces.append(piece)
        lines += _line_ends(piece)
        if lines < min_lines:
            continue
        data = b"".join(pieces)
        if cut := _block_end(data, any_line_end=waited):
            yield data[:cut], False
            data = data[cut:]
        # Wait for as many more lines before looking again, not for every piece read.
        pieces, lines, waited = [data], _line_ends(data) if cut else 0, not cut
    yield b"".join(pieces), True


def after_line_end(data: bytes, start: int) -> int:
    """Where the first line of ``data`` from ``start`` ends (after ``\\n``, ``\\r\\n`` or a lone
    ``\\r``, as pandas ends lines), or its length."""
    ends = [found for found in (data.find(b"\n", start), data.find(b"\r", start)) if found >= 0]
    if not ends:
        return len(data)
    end = min(ends) + 1
    return end + 1 if data[end - 1] == _CR and data[end : end + 1] == b"\n" else end


def _line_ends(data: bytes) -> int:
    # Enough to know a block is long enough, in one pass mostly: \r alone ends lines only in
    # files without \n (pandas reads those too).
    return data.count(b"\n") or data.count(b"\r")


def _block_end(data: bytes, *, any_line_end: bool) -> int:
    """Where ``data``'s last line end with balanced quotes before it is, else (``any_line_end``)
    its last line end, else 0. A ``\\r`` that ends ``data`` may start ``\\r\\n``: no end yet."""
    quotes, counted = data.count(_QUOTE), len(data)  # the quotes before ``counted``
    unbalanced = 0
    for cut in _line_ends_backwards(data):
        if data[cut - 1] == _CR and (cut == len(data) or data[cut] == _LF):
            continue  # the \r of \r\n, or perhaps so: the line ends after the \n
        quotes -= data.count(_QUOTE, cut, counted)
        counted = cut
        if quotes % 2 == 0:
            return cut
        unbalanced = unbalanced or cut
    return unbalanced if any_line_end else 0


def _line_ends_backwards(data: bytes) -> Iterator[int]:
    """Where each line of ``data`` ends (after a ``\\n`` or ``\\r``), the last first; each kind is
    searched from where it was last found, so a file without ``\\r`` is not scanned per line."""
    lf, cr = data.rfind(b"\n"), data.rfind(b"\r")
    while (found := max(lf, cr)) >= 0:
        yield found + 1
        if found == lf:
            lf = data.rfind(b"\n", 0, found)
        else:
            cr = data.rfind(b"\r", 0, found)
