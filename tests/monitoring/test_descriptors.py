"""Text descriptors: each one measures what its name says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentimentops.monitoring.descriptors import DESCRIPTORS, describe_frame, text_descriptors

VOCABULARY = frozenset({"a", "good", "film", "n't", "did", "like", "it"})


def test_each_descriptor_on_texts_with_known_answers() -> None:
    frame = text_descriptors(
        [
            "A good film",  # every token known, letters only
            "Zorblax quux film",  # two of three tokens unknown
            "<b>good</b>",  # 7 of 11 characters are markup
            "99 1234!",  # no letters
            "",
        ],
        VOCABULARY,
    )

    assert list(frame.columns) == list(DESCRIPTORS)
    assert frame["length"].tolist() == [11, 17, 11, 8, 0]
    assert frame["oov_share"].tolist() == pytest.approx([0.0, 2 / 3, 0.0, 1.0, 0.0])
    assert frame["html_share"].tolist() == pytest.approx([0.0, 0.0, 7 / 11, 0.0, 0.0])
    # Non-space characters that are not letters ("<", ">", "<", "/", ">"); spaces do not count.
    assert frame["non_letter_share"].tolist() == pytest.approx([0.0, 0.0, 5 / 11, 1.0, 0.0])


def test_out_of_vocabulary_uses_the_model_tokens() -> None:
    # "didn't" is cleaned to "did n't", both known: contractions are not counted as unknown.
    frame = text_descriptors(["I didn't like it!"], VOCABULARY | {"i"})
    assert frame["oov_share"].tolist() == [0.0]


def test_descriptors_of_the_same_texts_and_model_are_read_back_from_the_cache(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame({"review": ["A good film", "Zorblax quux film", "<b>good</b>"]})
    cache = (tmp_path / "descriptors", "sha-of-model-1")

    first = describe_frame(frame, "review", VOCABULARY, cache=cache)
    # An empty vocabulary would make every token unknown: the cached values prove the read.
    again = describe_frame(frame, "review", frozenset(), cache=cache)
    other_model = describe_frame(frame, "review", frozenset(), cache=(cache[0], "sha-of-2"))
    other_texts = describe_frame(frame.head(2), "review", frozenset(), cache=cache)

    pd.testing.assert_frame_equal(again, first)
    assert first["oov_share"].tolist() == pytest.approx([0.0, 2 / 3, 0.0])
    assert other_model["oov_share"].tolist() == [1.0, 1.0, 1.0]
    assert other_texts["oov_share"].tolist() == [1.0, 1.0]
    assert len(list(cache[0].glob("*.parquet"))) == 3


def test_an_unreadable_cached_file_is_computed_again(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": ["A good film", "Zorblax quux film"]})
    cache = (tmp_path / "descriptors", "sha-of-model-1")
    describe_frame(frame, "review", VOCABULARY, cache=cache)
    (cached,) = cache[0].glob("*.parquet")
    cached.write_bytes(b"not parquet")

    described = describe_frame(frame, "review", frozenset(), cache=cache)

    assert described["oov_share"].tolist() == [1.0, 1.0]
    pd.testing.assert_frame_equal(pd.read_parquet(cached), described[list(DESCRIPTORS)])
