"""Tests of the one definition of a blank text: is_blank and the pattern it is built from."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentimentops.features.blank import WHITESPACE_CLASS, is_blank
from tests.strategies import space_like_texts


def is_javascript_space(char: str) -> bool:
    """JavaScript's ``\\s`` as ECMA-262 defines it: WhiteSpace (tab, VT, FF, U+FEFF and every
    space separator, category Zs) or LineTerminator (LF, CR, U+2028, U+2029)."""
    return char in "\t\v\f\ufeff\n\r\u2028\u2029" or unicodedata.category(char) == "Zs"


def is_reference_space(char: str) -> bool:
    return is_javascript_space(char) or char.isspace()


def reference_is_blank(text: str) -> bool:
    """Every character is whitespace by JavaScript's ``\\s`` or by Python's ``isspace()``."""
    return all(is_reference_space(char) for char in text)


def test_every_code_point_is_whitespace_exactly_when_either_flavour_says_so() -> None:
    disagreements = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if is_blank(chr(code)) != is_reference_space(chr(code))
    ]

    assert disagreements == []


@given(space_like_texts() | st.text())
def test_is_blank_agrees_with_the_reference_definition(text: str) -> None:
    assert is_blank(text) == reference_is_blank(text)


@pytest.mark.parametrize(
    "text",
    ["", "\ufeff", "\x1c", "\x85 ", "\u3000", " \t\n\r\v\f", "\u2028\u2029\u00a0"],
    ids=repr,
)
def test_blank_texts(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", ["a", " a ", "\u200b", "\u180e", "\x00", "\ufeffok"], ids=repr)
def test_texts_with_a_character_that_is_not_whitespace(text: str) -> None:
    assert not is_blank(text)


def test_the_flavours_disagreements_are_in_the_class() -> None:
    # U+FEFF is \s in JavaScript only; U+001C-U+001F and U+0085 are isspace() in Python only.
    for char in "\ufeff\x1c\x1d\x1e\x1f\x85":
        assert re.fullmatch(f"[{WHITESPACE_CLASS}]", char)
