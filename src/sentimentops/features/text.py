"""Review text cleaning: HTML removal, unicode normalisation, tokenisation, stopwords.

:func:`clean_text` turns one raw review into space-separated tokens; :class:`TextCleaner` is the
same function as a stateless scikit-learn transformer, the first step of every feature pipeline,
so training and serving clean text identically.

Tokens are words (letters and digits), Penn-Treebank clitics and optionally ``!`` and ``?``.
Contractions split the Treebank way, so a negation survives as a token of its own and TF-IDF
bigrams such as ``"n't like"`` carry it: ``didn't -> did n't``, ``it's -> it 's``, and, as in the
Treebank, ``can't -> ca n't`` and ``won't -> wo n't``: the stem is whatever precedes ``n't``, so
no word list of irregular stems has to be kept, and ``clean_text`` stays idempotent.
"""

from __future__ import annotations

import html
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.utils import Tags

__all__ = [
    "NEGATIONS",
    "STOPWORDS",
    "TextCleaner",
    "clean_text",
    "strip_html_markup",
]

NEGATIONS: frozenset[str] = frozenset(
    {
        "n't",
        "not",
        "no",
        "nor",
        "never",
        "none",
        "nothing",
        "nobody",
        "noone",
        "neither",
        "nowhere",
        "cannot",
        # "cant" is in scikit-learn's list as the noun, but in reviews it is "can't" typed fast.
        "cant",
        "without",
    }
)
"""Tokens that flip the polarity of what follows; stopword removal keeps them."""

# The Treebank spellings of stopwords that clean_text splits off: is/has, are, have, will,
# would/had, am. Without them "it's" would lose "it" but keep "'s".
_CLITIC_STOPWORDS = frozenset({"'s", "'re", "'ve", "'ll", "'d", "'m"})

STOPWORDS: frozenset[str] = (frozenset(ENGLISH_STOP_WORDS) | _CLITIC_STOPWORDS) - NEGATIONS
"""scikit-learn's English stopwords and their clitics minus :data:`NEGATIONS`, which must stay:
"not good" must not become "good"."""

# Only tags that start like markup: "a < b" or "<3" in a review is text, not a tag.
_HTML_TAG = re.compile(r"<!--.*?-->|<[A-Za-z/!?][^<>]*>", re.DOTALL)

# Characters typed for an apostrophe or a quote. Curly apostrophes must become "'" before
# tokenising, or "didn\u2019t" would split into "didn" and "t" instead of "did n't".
_QUOTE_FOLDING: dict[str, str] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark, the usual typographic apostrophe
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u02bc": "'",  # modifier letter apostrophe
    "\u0060": "'",  # grave accent, typed for an apostrophe on some keyboards
    "\u00b4": "'",  # acute accent, likewise
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # left guillemet
    "\u00bb": '"',  # right guillemet
}

# A word is a run of letters and digits ("\w" without "_"), possibly joined by inner apostrophes
# ("rock'n'roll", "o'brien"). The clitic splitter and the tokeniser must agree on what a word
# character is (the splitter uses str.isalnum(), which is exactly this class), or a second cleaning
# could split what the first kept whole, and cleaning would not be idempotent.
_WORD_CHAR = r"[^\W_]"
_WORD = rf"{_WORD_CHAR}+(?:'{_WORD_CHAR}+)*"
# The clitics after their apostrophe, spelled out by case instead of re.IGNORECASE: Unicode case
# folding would also match U+017F (long s), which NFKC may or may not have folded to "s".
_CLITIC_TAIL = r"(?:[sS]|[rR][eE]|[vV][eE]|[lL][lL]|[dD]|[mM])"
_STANDALONE_CLITIC = rf"(?:[nN]'[tT]|'{_CLITIC_TAIL})(?!{_WORD_CHAR})"
# Where a clitic may end a word, found from its apostrophe ("'t" only counts after "n"): a pattern
# that starts with a literal is scanned several times faster than one starting with a lookbehind.
_CLITIC_APOSTROPHE = re.compile(rf"'(?:[tT]|{_CLITIC_TAIL})(?!{_WORD_CHAR})")
# The same clitics as strings, in every ASCII case spelling ("n't", "N'T", "n'T", ...).
_CLITIC_SPELLINGS = frozenset(
    "".join(spelling)
    for clitic in ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
    for spelling in itertools.product(*({char.lower(), char.upper()} for char in clitic))
)
_TOKEN = re.compile(rf"{_STANDALONE_CLITIC}|{_WORD}")
_TOKEN_OR_MARK = re.compile(rf"{_STANDALONE_CLITIC}|{_WORD}|[!?]")


def strip_html_markup(text: str) -> str:
    """Remove HTML tags and unescape HTML entities; everything else is left as it is.

    Each tag becomes a space so that ``"end.<br /><br />Next"`` does not merge into one word.
    Entities are unescaped after tags are removed, so an escaped ``&lt;i&gt;`` stays visible text.
    """
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def clean_text(
    text: str,
    *,
    strip_html: bool = True,
    normalize_unicode: bool = True,
    lowercase: bool = True,
    remove_stopwords: bool = False,
    keep_punctuation: bool = True,
) -> str:
    """Clean one review into tokens joined by single spaces.

    Args:
        text: the raw review.
        strip_html: remove HTML tags and unescape entities (:func:`strip_html_markup`).
        normalize_unicode: NFKC-normalise (full-width letters, ligatures, "‼" -> "!!") and fold
            curly and look-alike apostrophes and quotes to ASCII.
        lowercase: lowercase everything.
        remove_stopwords: drop :data:`STOPWORDS`, compared in lowercase; negations stay.
        keep_punctuation: keep each ``!`` and ``?`` as a token; all other punctuation is dropped
            either way.

    Returns:
        The tokens joined by single spaces, ``""`` if none is left. Cleaning the result again with
        the same flags returns it unchanged.
    """
    if strip_html:
        text = strip_html_markup(text)
    if normalize_unicode:
        text = _normalize_unicode(text)
    if lowercase:
        text = text.lower()
    if "'" in text:
        text = _split_clitics(text)
    tokens = (_TOKEN_OR_MARK if keep_punctuation else _TOKEN).findall(text)
    if remove_stopwords:
        tokens = [token for token in tokens if token.lower() not in STOPWORDS]
    return " ".join(tokens)


def _normalize_unicode(text: str) -> str:
    if text.isascii():
        # NFKC leaves ASCII unchanged; the grave accent is the only ASCII character to fold.
        return text.replace("`", "'") if "`" in text else text
    # Fold before NFKC, which turns the acute accent U+00B4 into a space and a combining accent,
    # and after it, which turns U+0149 into U+02BC + "n" and U+2033 into two U+2032 primes.
    text = unicodedata.normalize("NFKC", _fold_quotes(text))
    return _fold_quotes(text)


def _fold_quotes(text: str) -> str:
    # A few substring tests beat str.translate, which is slow on non-ASCII strings.
    for char, ascii_char in _QUOTE_FOLDING.items():
        if char in text:
            text = text.replace(char, ascii_char)
    return text


def _split_clitics(text: str) -> str:
    """Put a space before each clitic that ends a word: "didn't" -> "did n't", "it's" -> "it 's"."""
    cuts: list[int] = []
    start = 0  # the last cut: a clitic must be glued to a word char after it
    for match in _CLITIC_APOSTROPHE.finditer(text):
        cut = match.start()
        is_negation = match.group()[1] in "tT"
        if is_negation:
            cut -= 1
            if cut < 0 or text[cut] not in "nN":
                continue
        # str.isalnum() is exactly the regex class [^\W_] of _WORD_CHAR.
        if cut <= start or not text[cut - 1].isalnum():
            continue
        new_cuts = [cut]
        if is_negation:
            # Cutting before the "n" of "n't" ends the word on its left anew, and that word may
            # now end with a clitic ("x'sn't" -> "x's" + "n't" -> "x" + "'s" + "n't"). Without
            # peeling it here, a second cleaning would split it and cleaning would not be
            # idempotent.
            while (begin := _clitic_ending_at(text, start, new_cuts[-1])) is not None:
                new_cuts.append(begin)
        cuts.extend(reversed(new_cuts))
        start = cut
    if not cuts:
        return text
    bounds = [0, *cuts, len(text)]
    return " ".join(text[left:right] for left, right in itertools.pairwise(bounds))


def _clitic_ending_at(text: str, floor: int, end: int) -> int | None:
    """Where a clitic glued to a word char (at ``floor`` or later) ends at ``end``, if one does."""
    for length in (3, 2):
        begin = end - length
        if begin > floor and text[begin:end] in _CLITIC_SPELLINGS and text[begin - 1].isalnum():
            return begin
    return None


class TextCleaner(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """:func:`clean_text` as a stateless scikit-learn transformer of a column of texts.

    ``transform`` takes a list or tuple of strings, a pandas Series, a 1-d numpy array (or a
    single-column 2-d array or DataFrame) and returns a 1-d numpy object array of cleaned strings
    of the same length. Missing values (``None``, NaN, ``pd.NA``, ``pd.NaT``) become ``""`` and
    any other non-string ``x`` is cleaned as ``str(x)``, so one odd row never fails a batch.

    The parameters are those of :func:`clean_text`.
    """

    def __init__(
        self,
        *,
        strip_html: bool = True,
        normalize_unicode: bool = True,
        lowercase: bool = True,
        remove_stopwords: bool = False,
        keep_punctuation: bool = True,
    ) -> None:
        self.strip_html = strip_html
        self.normalize_unicode = normalize_unicode
        self.lowercase = lowercase
        self.remove_stopwords = remove_stopwords
        self.keep_punctuation = keep_punctuation

    def fit(self, X: Any, y: Any = None) -> Self:
        """Check that ``X`` is a column of texts; nothing is learned.

        Raises:
            ValueError: ``X`` is a single string, or not one column of values.
        """
        _as_text_column(X)
        return self

    def transform(self, X: Any) -> npt.NDArray[np.object_]:
        """Clean every text of ``X``.

        Raises:
            ValueError: ``X`` is a single string, or not one column of values.
        """
        values = _as_text_column(X)
        cleaned = np.empty(len(values), dtype=object)
        cleaned[:] = [
            clean_text(
                _as_text(value),
                strip_html=self.strip_html,
                normalize_unicode=self.normalize_unicode,
                lowercase=self.lowercase,
                remove_stopwords=self.remove_stopwords,
                keep_punctuation=self.keep_punctuation,
            )
            for value in values
        ]
        return cleaned

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The one output column keeps the input column's name, ``"text"`` if none is given.

        Lets ``pipeline[:-1].get_feature_names_out()`` reach the vectorizer's vocabulary.
        """
        if input_features is None:
            return np.asarray(["text"], dtype=object)
        names = np.asarray(input_features, dtype=object)
        if names.shape != (1,):
            raise ValueError(
                f"{type(self).__name__} maps one text column to one, got input_features "
                f"{names.tolist()!r}. Pass one name or None."
            )
        return names

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        # Strings in, strings out: there is no numeric dtype to preserve.
        tags.transformer_tags.preserves_dtype = []
        return tags


def _as_text_column(X: Any) -> list[Any]:
    """The values of a column of texts, without cleaning them."""
    if isinstance(X, str | bytes):
        raise ValueError(
            "TextCleaner expects a column of texts (list, Series, 1-d array), got a single "
            f"{type(X).__name__}. Wrap it in a list: [text]."
        )
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"TextCleaner expects one text column, got a DataFrame with {X.shape[1]} columns "
                f"{list(X.columns)[:10]!r}. Select the text column first."
            )
        return X.iloc[:, 0].tolist()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                f"TextCleaner expects a 1-d array of texts, got an array of shape {X.shape}."
            )
        values: list[Any] = X.tolist()
        return values
    if isinstance(X, pd.Series):
        return X.tolist()
    if not isinstance(X, Iterable):
        raise ValueError(
            f"TextCleaner expects a column of texts (list, Series, 1-d array), got "
            f"{type(X).__name__}."
        )
    return list(X)


def _as_text(value: Any) -> str:
    """A value of a text column as a string: missing values are empty, the rest is ``str()``."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating) and math.isnan(value):
        return ""
    return str(value)
