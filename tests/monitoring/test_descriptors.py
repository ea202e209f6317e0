"""Text descriptors: each one measures what its name says."""

from __future__ import annotations

import pytest

from sentimentops.monitoring.descriptors import DESCRIPTORS, text_descriptors

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
