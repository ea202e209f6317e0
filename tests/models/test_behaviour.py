"""Behavioural tests of a trained model (Ribeiro et al. 2020, CheckList; Made-With-ML style):
minimum functionality, invariance and direction."""

from __future__ import annotations

import pandas as pd
import pytest

from sentimentops.models.sentiment import SentimentPipeline

OBVIOUS = [
    ("One of the best films I have ever seen. Brilliant acting and a wonderful story.", "positive"),
    (
        "An absolute masterpiece: moving, funny and beautifully shot. I loved every minute.",
        "positive",
    ),
    ("Superb performances and a great script. Highly recommended, a real gem.", "positive"),
    ("I enjoyed this movie so much, it was excellent and I will watch it again.", "positive"),
    ("The worst movie I have ever seen. Terrible acting and a boring, stupid plot.", "negative"),
    ("A complete waste of time. Awful script, dreadful dialogue, I walked out.", "negative"),
    ("Boring, predictable and badly acted. Avoid this mess at all costs.", "negative"),
    ("I hated it. The story was pointless and the ending was horrible.", "negative"),
]

TEMPLATE = "I watched {movie} starring {actor} last night. {verdict}"
NAMES = [
    ("Casablanca", "Humphrey Bogart"),
    ("Avatar", "Zoe Saldana"),
    ("Gigli", "Ben Affleck"),
    ("Heat", "Al Pacino"),
    ("Cats", "Taylor Swift"),
]
VERDICTS = [
    ("It was a wonderful, moving film with great performances.", "positive"),
    ("It was a dull, badly written film with terrible performances.", "negative"),
]


def labels(model: SentimentPipeline, texts: list[str]) -> list[str]:
    return model.predict_with_scores(texts)["label"].tolist()


def test_minimum_functionality(trained_model: SentimentPipeline) -> None:
    texts, expected = zip(*OBVIOUS, strict=True)

    assert labels(trained_model, list(texts)) == list(expected)


@pytest.mark.parametrize(("verdict", "expected"), VERDICTS)
def test_invariance_to_movie_and_actor_names(
    trained_model: SentimentPipeline, verdict: str, expected: str
) -> None:
    texts = [TEMPLATE.format(movie=m, actor=a, verdict=verdict) for m, a in NAMES]

    assert set(labels(trained_model, texts)) == {expected}


def test_direction_appending_a_negative_sentence_lowers_the_score(
    trained_model: SentimentPipeline, reference_reviews: pd.DataFrame
) -> None:
    reviews = reference_reviews[reference_reviews["split"] == "test"]["review"].head(200).tolist()
    appended = [
        f"{text} Honestly, it was the worst, most boring film I have ever seen." for text in reviews
    ]

    before = trained_model.positive_scores(reviews)
    after = trained_model.positive_scores(appended)

    assert (after < before).all()


def test_html_markup_does_not_change_the_prediction(trained_model: SentimentPipeline) -> None:
    plain = "A wonderful film. The acting is superb."
    marked_up = "A wonderful film.<br /><br />The acting is <i>superb</i>."

    assert trained_model.positive_scores([plain])[0] == pytest.approx(
        trained_model.positive_scores([marked_up])[0]
    )
