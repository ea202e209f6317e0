"""What counts as a blank text, for every layer that refuses one (imports only :mod:`re`).
Whitespace means the same in Python and JavaScript (docs/decisions.md, "Features and models")."""

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
"""A regex character class body (no brackets) of whitespace, the same in Python and JavaScript."""

NOT_BLANK_PATTERN = f"[^{WHITESPACE_CLASS}]"
"""One character that is not whitespace: a text is blank when it has none."""

_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def is_blank(text: str) -> bool:
    """Whether ``text`` is empty or only whitespace (:data:`WHITESPACE_CLASS`)."""
    return _NOT_BLANK.search(text) is None
