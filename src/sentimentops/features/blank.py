"""What counts as a blank text: empty, or nothing but whitespace, so no review to score.

Every site that refuses a blank text (the API's request schema and its V2 handler, batch
prediction, data validation, data loading) asks :func:`is_blank`, so a text refused by one is
refused by all.

Whitespace here is the union of JavaScript's ``\\s`` (what the OpenAPI schema's
``pattern`` means to clients) and Python's :meth:`str.isspace`: the two disagree on U+FEFF
(JavaScript only) and on U+001C-U+001F and U+0085 (Python only), and a text either calls blank
is blank. The class is spelled out character by character rather than written ``\\s`` or
``\\S``, whose meaning differs between the two regex flavours, so :data:`NOT_BLANK_PATTERN`
means the same to a client's validator as to the server.

This module imports only :mod:`re`: the data and batch layers use it without loading
scikit-learn (which :mod:`sentimentops.features.text` imports).
"""

from __future__ import annotations

import re

__all__ = ["NOT_BLANK_PATTERN", "WHITESPACE_CLASS", "is_blank"]

WHITESPACE_CLASS = (
    "\t\n\v\f\r"  # JavaScript \s and Python isspace()
    "\x1c-\x1f"  # file, group, record and unit separators: Python isspace() only
    " "
    "\x85"  # next line (NEL): Python isspace() only
    "\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # Unicode spaces and separators
    "\ufeff"  # zero width no-break space (BOM): JavaScript \s only
)
"""The body of a regex character class (``[...]`` without the brackets) matching whitespace,
the same in Python's and JavaScript's regex flavours."""

NOT_BLANK_PATTERN = f"[^{WHITESPACE_CLASS}]"
"""A regex matching one character that is not whitespace: a text is blank when it has none."""

_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def is_blank(text: str) -> bool:
    """Whether ``text`` is empty or only whitespace (see the module docstring for which)."""
    return _NOT_BLANK.search(text) is None
