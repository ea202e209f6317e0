"""Hypothesis strategies shared by the test suites.

``review_texts()`` builds IMDB-like text from the pieces that make cleaning hard: HTML tags and
entities, contractions with straight, curly and backtick apostrophes, punctuation runs, non-Latin
scripts, emojis, odd whitespace and arbitrary unicode, glued together with or without spaces.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

HTML_PIECES = (
    "<br />",
    "<br/>",
    "<br>",
    "<BR />",
    "<i>",
    "</i>",
    "<b>",
    "</b>",
    '<a href="http://example.org/?a=1&b=2">',
    "</a>",
    "<p class='x'>",
    "<!-- a comment -->",
    "<hr>",
    "<",
    ">",
    "<3",
    "a < b",
)
HTML_ENTITIES = (
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&#39;",
    "&#x27;",
    "&#8217;",
    "&nbsp;",
    "&eacute;",
    "&amp;lt;",
    "&lt;br /&gt;",
    "&#0;",
    "&#xD800;",
    "&#99999999;",
    "&bogus;",
    "&",
)
CONTRACTIONS = (
    "didn't",
    "don't",
    "can't",
    "won't",
    "isn't",
    "ain't",
    "it's",
    "I'm",
    "you're",
    "we've",
    "they'll",
    "he'd",
    "DIDN'T",
    "Can't",
    "didn\u2019t",
    "it\u2019s",
    "didn`t",
    "didn\u00b4t",
    "n't",
    "'s",
    "'",
    "rock'n'roll",
    "o'brien",
    "y'all",
    "can't've",
    "it'sn't",
    "a'n't",
    "x's_y",
    "\u2018quoted\u2019",
)
WORDS = (
    "great",
    "awful",
    "movie",
    "film",
    "not",
    "never",
    "nothing",
    "the",
    "a",
    "I",
    "plot",
    "10/10",
    "1950s",
    "snake_case",
    "Na\u00efve",
    "cafe\u0301",
    "\uff27\uff32\uff25\uff21\uff34",  # full-width GREAT
    "\ufb01ne",  # "fine" with the fi ligature
    "\u0130stanbul",
    "stra\u00dfe",
    "\u0391\u03a3",
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew, right to left
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic, right to left
    "\u0939\u093f\u0902\u0926\u0940",  # Devanagari, with combining marks
    "\U0001f600",
    "\U0001f44d\U0001f3fd",
    "\u0149",
)
PUNCTUATION = (
    "!",
    "?",
    "!!!",
    "?!",
    ".",
    ",",
    "...",
    "\u203c",  # double exclamation mark, two "!" after NFKC
    "\uff1f",  # full-width question mark
    "(",
    ")",
    '"',
    "\u201c",
    "\u201d",
    "-",
    "_",
    ":)",
)
SEPARATORS = ("", " ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\x00")

_PIECES = st.one_of(
    st.sampled_from(HTML_PIECES),
    st.sampled_from(HTML_ENTITIES),
    st.sampled_from(CONTRACTIONS),
    st.sampled_from(WORDS),
    st.sampled_from(PUNCTUATION),
    st.text(max_size=4),
)


def review_texts(max_pieces: int = 30) -> st.SearchStrategy[str]:
    """Review-like strings: pieces that stress cleaning, joined by assorted separators."""
    return st.lists(st.tuples(_PIECES, st.sampled_from(SEPARATORS)), max_size=max_pieces).map(
        lambda pairs: "".join(piece + separator for piece, separator in pairs)
    )


def clitic_soups(max_size: int = 14) -> st.SearchStrategy[str]:
    """Short strings of the letters of clitics, apostrophes and word breaks ("0'SN'T", "xn'tn't").

    Where splitting "n't" off a word exposes another clitic: found by this strategy, not by hand.
    """
    return st.text(alphabet="0xsSnNtTdDmMrReEvVlL' _`\u2019!?", max_size=max_size)


# Whitespace by JavaScript's \s or Python's str.isspace() (some by one only: U+FEFF, U+001C-U+001F,
# U+0085), and characters near them that are not whitespace (U+180E was \s before Unicode 6.3;
# U+200B zero width space; U+00AD soft hyphen).
SPACE_LIKE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f"
    "\u3000\ufeff\u180e\u200b\u00ad\x00\x1b"
)


def space_like_texts() -> st.SearchStrategy[str]:
    """Strings of whitespace and look-alikes, sometimes with any other characters: blank or not
    by a hair."""
    return st.text(alphabet=st.sampled_from(SPACE_LIKE) | st.characters(), max_size=12) | st.text(
        alphabet=SPACE_LIKE, max_size=12
    )


def any_texts() -> st.SearchStrategy[str]:
    """Any unicode string, a review-like one, or a soup of clitics."""
    return st.text() | review_texts() | clitic_soups()


CLEANING_FLAGS = (
    "strip_html",
    "normalize_unicode",
    "lowercase",
    "remove_stopwords",
    "keep_punctuation",
)
"""The keyword flags of ``clean_text`` and ``TextCleaner``."""


def cleaning_flags() -> st.SearchStrategy[dict[str, bool]]:
    """Keyword arguments of ``clean_text`` / ``TextCleaner``, each flag on or off."""
    return st.fixed_dictionaries({name: st.booleans() for name in CLEANING_FLAGS})


def text_column_values() -> st.SearchStrategy[Any]:
    """What a text column really holds: mostly texts, sometimes missing values or numbers."""
    return st.one_of(
        any_texts(),
        st.none(),
        st.just(math.nan),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
    )
