"""Splits: the fractions asked for, labels balanced, no leakage, same seed same digests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import SplitSettings
from sentimentops.data.split import (
    DatasetSplits,
    leakage_between,
    leakage_groups,
    split_official,
    split_random,
    split_reviews,
)
from sentimentops.errors import DataValidationError


def assert_no_leakage(splits: DatasetSplits) -> None:
    frames = splits.frames()
    for name, frame in frames.items():
        for other_name, other in frames.items():
            if name < other_name:
                assert not set(frame["review"]) & set(other["review"]), (name, other_name)
                if "movie_id" in frame.columns:
                    assert not set(frame["movie_id"]) & set(other["movie_id"]), (name, other_name)


def test_groups_merge_movies_linked_by_a_shared_text(small_reviews: pd.DataFrame) -> None:
    groups = leakage_groups(small_reviews)

    # Row 7 (movie 1) repeats the text of row 12 (movie 3): movies 1 and 3 form one group.
    assert groups[4] == groups[7] == groups[12] == groups[15]
    assert len(set(groups)) == 4
    assert groups[0] != groups[4]


def test_random_split_of_the_full_dataset(reference_reviews: pd.DataFrame) -> None:
    splits = split_random(reference_reviews, seed=42)

    sizes = {name: len(frame) for name, frame in splits.frames().items()}
    assert sum(sizes.values()) == 50_000
    assert sizes["train"] == pytest.approx(35_000, rel=0.01)
    assert sizes["validation"] == pytest.approx(5_000, rel=0.02)
    assert sizes["test"] == pytest.approx(10_000, rel=0.01)
    for frame in splits.frames().values():
        assert frame["sentiment"].eq("positive").mean() == pytest.approx(0.5, abs=0.01)
    assert_no_leakage(splits)
    assert leakage_between(splits) == {"shared_texts": 0, "shared_movies": 0}


def test_random_split_without_movies_still_keeps_duplicates_together(
    reference_reviews: pd.DataFrame,
) -> None:
    splits = split_random(reference_reviews.drop(columns="movie_id"), seed=3)

    assert_no_leakage(splits)
    assert sum(len(frame) for frame in splits.frames().values()) == 50_000


def forty_movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review": [f"review {i}" for i in range(120)],
            "sentiment": ["positive", "negative", "positive"] * 40,
            "movie_id": [f"tt{i // 3}" for i in range(120)],
        }
    )


def test_same_seed_same_digests_other_seed_other_digests() -> None:
    reviews = forty_movies()
    first = split_random(reviews, seed=7, fractions=(0.6, 0.2, 0.2))
    again = split_random(reviews.copy(), seed=7, fractions=(0.6, 0.2, 0.2))
    other_seeds = {
        tuple(split_random(reviews, seed=s, fractions=(0.6, 0.2, 0.2)).digests().values())
        for s in range(8)
    }

    assert first.digests() == again.digests()
    assert len(other_seeds) > 1
    assert_no_leakage(first)


def test_split_membership_does_not_depend_on_row_order(
    reference_reviews: pd.DataFrame,
) -> None:
    settings = SplitSettings(seed=11)
    first = split_reviews(reference_reviews, settings)
    shuffled = split_reviews(reference_reviews.sample(frac=1.0, random_state=0), settings)

    for name in ("train", "validation", "test"):
        assert set(first.frames()[name]["review_id"]) == set(shuffled.frames()[name]["review_id"])
    assert split_reviews(reference_reviews, settings).digests() == first.digests()


def test_official_split_keeps_the_published_test_set(reference_reviews: pd.DataFrame) -> None:
    splits = split_official(reference_reviews, seed=42, validation_fraction=0.1)

    official_test = reference_reviews[reference_reviews["split"] == "test"]
    pd.testing.assert_frame_equal(splits.test, official_test)
    assert len(splits.train) + len(splits.validation) == 25_000
    assert len(splits.validation) == pytest.approx(2_500, rel=0.05)
    # Validation is carved out of train by group: nothing leaks between those two.
    assert not set(splits.train["movie_id"]) & set(splits.validation["movie_id"])
    assert not set(splits.train["review"]) & set(splits.validation["review"])


def test_official_mode_needs_a_split_column(small_reviews: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="needs a 'split' column"):
        split_official(small_reviews, seed=1)


def test_splitting_needs_labels(small_reviews: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="label for every row"):
        split_random(small_reviews.drop(columns="sentiment"), seed=1)


def test_too_few_groups_is_a_clear_error(small_reviews: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="4 movie/text groups into 10 folds"):
        split_random(small_reviews, seed=1)


def test_write_round_trips(tmp_path: Path) -> None:
    splits = split_random(forty_movies(), seed=7, fractions=(0.5, 0.25, 0.25))

    paths = splits.write(tmp_path / "splits")

    for name, path in paths.items():
        pd.testing.assert_frame_equal(
            pd.read_parquet(path), splits.frames()[name].reset_index(drop=True)
        )
