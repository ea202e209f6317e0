"""Numbers that describe a review: where the domain classifier says *that* reviews changed,
these say *how* (length, words unseen in training, non-letters, HTML markup)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sentimentops.features.text import HTML_TAG, clean_text

__all__ = ["DESCRIPTORS", "describe_frame", "text_descriptors", "training_unigrams"]

DESCRIPTORS: tuple[str, ...] = ("length", "oov_share", "non_letter_share", "html_share")
"""length: characters; oov_share: share of word tokens outside the training vocabulary;
non_letter_share: share of non-space characters that are not letters; html_share: share of
characters inside HTML tags."""

_VERSION = 1  # of the descriptors' definitions: a change here must not read older cached values
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
    frame: pd.DataFrame,
    text_column: str,
    vocabulary: Collection[str],
    *,
    cache: tuple[Path, str] | None = None,
) -> pd.DataFrame:
    """``frame`` with the descriptor columns added (a copy). With ``cache`` (folder, vocabulary
    key), descriptors of the same texts are read back: the reference sample recurs every run."""
    texts = frame[text_column].astype(str).tolist()
    path = _cached_path(texts, *cache) if cache else None
    descriptors = _read_cached(path, len(texts)) if path else None
    if descriptors is None:
        descriptors = text_descriptors(texts, vocabulary)
        if path is not None:
            _write_cached(descriptors, path)
    return pd.concat([frame.reset_index(drop=True), descriptors], axis=1)


def _cached_path(texts: Sequence[str], folder: Path, vocabulary_key: str) -> Path:
    digest = hashlib.sha256(f"{_VERSION}|{vocabulary_key}|{len(texts)}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return folder / f"{digest.hexdigest()}.parquet"


def _read_cached(path: Path, rows: int) -> pd.DataFrame | None:
    try:
        cached = pd.read_parquet(path)
    except (OSError, ValueError):  # none yet, or unreadable: computed again
        return None
    return cached if list(cached.columns) == list(DESCRIPTORS) and len(cached) == rows else None


def _write_cached(descriptors: pd.DataFrame, path: Path) -> None:
    # Written aside and renamed: a run killed halfway leaves no half file for the next.
    with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        descriptors.to_parquet(partial, index=False)
        partial.replace(path)
