"""Review text cleaning: :func:`clean_text` for one review, :class:`TextCleaner` as every
pipeline's first step; tokens the Treebank way (docs/decisions.md, "Features and models")."""

from __future__ import annotations

import html
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.utils import Tags

__all__ = ["HTML_TAG", "NEGATIONS", "STOPWORDS", "TextCleaner", "clean_text", "strip_html_markup"]

# "cant" is in scikit-learn's stopwords as the noun, but in reviews it is "can't" typed fast.
NEGATIONS: frozenset[str] = frozenset(
    {"n't", "not", "no", "nor", "never", "none", "nothing"}
    | {"nobody", "noone", "neither", "nowhere", "cannot", "cant", "without"}
)
"""Tokens that flip the polarity of what follows; stopword removal keeps them."""

# The clitics clean_text splits off (is/has, are, have, will, would/had, am): without them
# "it's" would lose "it" but keep "'s".
_CLITIC_STOPWORDS = frozenset({"'s", "'re", "'ve", "'ll", "'d", "'m"})

STOPWORDS: frozenset[str] = (frozenset(ENGLISH_STOP_WORDS) | _CLITIC_STOPWORDS) - NEGATIONS
"""scikit-learn's English stopwords and their clitics, minus :data:`NEGATIONS` ("not good")."""

HTML_TAG = re.compile(r"<!--.*?-->|<[A-Za-z/!?][^<>]*>", re.DOTALL)
"""An HTML tag or comment; only what starts like markup ("a < b" and "<3" are text)."""

# Look-alike apostrophes and quotes become ASCII before tokenising, or "didn\u2019t" would split
# into "didn" and "t".
_QUOTE_FOLDING: dict[str, str] = dict.fromkeys(
    "\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4", "'"
) | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"')

# A word: letters and digits ("\w" without "_", exactly str.isalnum(), which the clitic splitter
# uses: they must agree for cleaning to be idempotent), maybe joined by apostrophes ("o'brien").
_WORD_CHAR = r"[^\W_]"
_WORD = rf"{_WORD_CHAR}+(?:'{_WORD_CHAR}+)*"
# Spelled out by case, not re.IGNORECASE, whose folding also matches U+017F (long s).
_CLITIC_TAIL = r"(?:[sS]|[rR][eE]|[vV][eE]|[lL][lL]|[dD]|[mM])"
_STANDALONE_CLITIC = rf"(?:[nN]'[tT]|'{_CLITIC_TAIL})(?!{_WORD_CHAR})"
# Found from the apostrophe ("'t" counts only after "n"): a pattern starting with a literal scans
# several times faster than one starting with a lookbehind.
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
    """``text`` with each HTML tag replaced by a space (words on both sides stay apart), then
    entities unescaped (so an escaped ``&lt;i&gt;`` stays visible text)."""
    if "<" in text:
        text = HTML_TAG.sub(" ", text)
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
    """The tokens of one review joined by single spaces (``""`` if none); idempotent. Unicode is
    NFKC with ASCII apostrophes and quotes; ``keep_punctuation`` keeps ``!`` and ``?`` only."""
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
    if text.isascii():  # NFKC leaves ASCII as is; the grave accent is the one to fold
        return text.replace("`", "'") if "`" in text else text
    # Before NFKC (it splits U+00B4 into a space and an accent) and after (it makes U+0149
    # U+02BC + "n", U+2033 two U+2032).
    text = unicodedata.normalize("NFKC", _fold_quotes(text))
    return _fold_quotes(text)


def _fold_quotes(text: str) -> str:
    # A few substring tests beat str.translate, slow on non-ASCII strings.
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
        if cut <= start or not text[cut - 1].isalnum():
            continue
        new_cuts = [cut]
        if is_negation:
            # The word left of "n't" may now end with a clitic ("x'sn't" -> "x 's n't"): peeled
            # here, or a second cleaning would split it.
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


# A dataclass for its keyword-only __init__, the parameters scikit-learn reads; repr and == stay
# scikit-learn's.
@dataclass(kw_only=True, repr=False, eq=False)
class TextCleaner(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """:func:`clean_text` as a stateless transformer of a column of texts into a 1-d object
    array; a missing value becomes ``""``, a non-string ``str(x)``: no odd row fails a batch."""

    strip_html: bool = True
    normalize_unicode: bool = True
    lowercase: bool = True
    remove_stopwords: bool = False
    keep_punctuation: bool = True

    def fit(self, X: Any, y: Any = None) -> Self:
        """Check that ``X`` is a column of texts (else ValueError); nothing is learned."""
        _as_text_column(X)
        return self

    def transform(self, X: Any) -> npt.NDArray[np.object_]:
        """Every text of ``X`` cleaned; ValueError when ``X`` is no column of texts."""
        values, flags = _as_text_column(X), self.get_params()
        cleaned = np.empty(len(values), dtype=object)
        cleaned[:] = [clean_text(_as_text(value), **flags) for value in values]
        return cleaned

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The input column's name, ``"text"`` if none is given (for ``pipeline[:-1]``)."""
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
        tags.transformer_tags.preserves_dtype = []  # strings in, strings out
        return tags


def _as_text_column(X: Any) -> list[Any]:
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
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    return "" if isinstance(value, float | np.floating) and math.isnan(value) else str(value)
