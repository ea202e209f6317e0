"""Numbers that describe a review: where the domain classifier says *that* reviews changed,
these say *how* (length, words unseen in training, non-letters, HTML markup)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pandas as pd

from sentimentops.features.text import HTML_TAG, clean_text

__all__ = ["DESCRIPTORS", "describe_frame", "text_descriptors", "training_unigrams"]

DESCRIPTORS: tuple[str, ...] = ("length", "oov_share", "non_letter_share", "html_share")
"""length: characters; oov_share: share of word tokens outside the training vocabulary;
non_letter_share: share of non-space characters that are not letters; html_share: share of
characters inside HTML tags."""

_LETTER = re.compile(r"[^\W\d_]")
_PUNCTUATION_TOKENS = frozenset({"!", "?"})


def training_unigrams(model: Any) -> frozenset[str]:
    """The single-word terms of a fitted pipeline's TF-IDF vocabulary (step ``tfidf``)."""
    vocabulary: Iterable[str] = model.named_steps["tfidf"].vocabulary_
    return frozenset(term for term in vocabulary if " " not in term)


def text_descriptors(texts: Sequence[str], vocabulary: Collection[str]) -> pd.DataFrame:
    """One row of :data:`DESCRIPTORS` per text, in order; ``vocabulary`` is the model's
    :func:`training_unigrams`, compared with the tokens the model sees (:func:`clean_text`)."""
    rows = [_describe(text, vocabulary) for text in texts]
    return pd.DataFrame(rows, columns=list(DESCRIPTORS), dtype=float)


def _describe(text: str, vocabulary: Collection[str]) -> tuple[float, float, float, float]:
    length = len(text)
    if length == 0:
        return 0.0, 0.0, 0.0, 0.0
    markup = sum(len(tag) for tag in HTML_TAG.findall(text)) if "<" in text else 0
    non_space = len("".join(text.split()))
    non_letters = non_space - len(_LETTER.findall(text))
    tokens = [t for t in clean_text(text).split() if t not in _PUNCTUATION_TOKENS]
    unseen = sum(1 for token in tokens if token not in vocabulary)
    return (
        float(length),
        unseen / len(tokens) if tokens else 0.0,
        non_letters / non_space if non_space else 0.0,
        markup / length,
    )


def describe_frame(
    frame: pd.DataFrame, text_column: str, vocabulary: Collection[str]
) -> pd.DataFrame:
    """``frame`` with the descriptor columns added (a copy)."""
    descriptors = text_descriptors(frame[text_column].astype(str).tolist(), vocabulary)
    return pd.concat([frame.reset_index(drop=True), descriptors], axis=1)
