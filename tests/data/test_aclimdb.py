"""Reading the Stanford aclImdb folder layout into the canonical review table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.data.aclimdb import CANONICAL_COLUMNS, is_aclimdb_folder, read_aclimdb_folder
from sentimentops.errors import DataError


@dataclass(frozen=True)
class Review:
    split: str
    folder: str  # "pos" or "neg", as on disk
    number: int
    rating: int
    text: str
    movie_id: str


# Ids 0..n-1 per folder, as in aclImdb (urls line i is review i); 2 and 10 check numeric sorting.
REVIEWS: tuple[Review, ...] = (
    Review("train", "pos", 0, 9, "A <b>great</b> film.<br /><br />Loved it.", "tt0453418"),
    Review("train", "pos", 1, 10, "Café scenes are magnifique — naïve and warm.", "tt0453418"),
    Review("train", "pos", 2, 7, "Good enough.", "tt0064354"),
    Review("train", "neg", 0, 1, "Dreadful.<br />Awful pacing.", "tt0406816"),
    Review("train", "neg", 1, 4, "Meh, mostly boring.\nSecond line.", "tt0406816"),
    Review("test", "pos", 0, 8, "Charming and <i>funny</i>.", "tt0102303"),
    Review("test", "neg", 0, 2, "Bad acting throughout.", "tt0065611"),
    *(
        Review("test", "neg", number, 3, f"Forgettable number {number}.", "tt0323571")
        for number in range(1, 11)
    ),
)


def write_aclimdb_tree(parent: Path, reviews: tuple[Review, ...] = REVIEWS) -> Path:
    """Write a small aclImdb folder (with the files the reader must ignore) under ``parent``."""
    root = parent / "aclImdb"
    for review in reviews:
        reviews_dir = root / review.split / review.folder
        reviews_dir.mkdir(parents=True, exist_ok=True)
        name = f"{review.number}_{review.rating}.txt"
        (reviews_dir / name).write_bytes(review.text.encode("utf-8"))
    for (split, label), group in _group_by_folder(reviews).items():
        lines = [f"http://www.imdb.com/title/{r.movie_id}/usercomments" for r in group]
        (root / split / f"urls_{label}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Unlabelled reviews and side files of the real archive: none of them is a table row.
    (root / "train" / "unsup").mkdir(parents=True)
    (root / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf-8")
    (root / "train" / "urls_unsup.txt").write_text(
        "http://www.imdb.com/title/tt0000001/usercomments\n", encoding="utf-8"
    )
    (root / "train" / "labeledBow.feat").write_text("9 0:9 1:1\n", encoding="utf-8")
    (root / "imdb.vocab").write_text("the\nand\n", encoding="utf-8")
    (root / "README").write_text("Large Movie Review Dataset v1.0\n", encoding="utf-8")
    return root


def expected_frame(reviews: tuple[Review, ...] = REVIEWS) -> pd.DataFrame:
    """The table ``read_aclimdb_folder`` must return for ``reviews``."""
    ordered = sorted(reviews, key=lambda r: f"{r.split}_{r.folder}_{r.number}")
    frame = pd.DataFrame(
        {
            "review_id": [f"{r.split}_{r.folder}_{r.number}" for r in ordered],
            "review": [r.text for r in ordered],
            "sentiment": ["positive" if r.folder == "pos" else "negative" for r in ordered],
            "rating": pd.Series([r.rating for r in ordered], dtype="int8"),
            "split": [r.split for r in ordered],
            "movie_id": [r.movie_id for r in ordered],
        }
    )
    return frame


def _group_by_folder(reviews: tuple[Review, ...]) -> dict[tuple[str, str], list[Review]]:
    groups: dict[tuple[str, str], list[Review]] = {}
    for review in sorted(reviews, key=lambda r: r.number):
        groups.setdefault((review.split, review.folder), []).append(review)
    return groups


def test_reads_every_labelled_review_with_its_movie(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)

    frame = read_aclimdb_folder(root)

    pd.testing.assert_frame_equal(frame, expected_frame())
    assert tuple(frame.columns) == CANONICAL_COLUMNS


def test_matches_the_vendored_table_conventions(tmp_path: Path) -> None:
    frame = read_aclimdb_folder(write_aclimdb_tree(tmp_path))

    assert frame.dtypes.to_dict() == {
        "review_id": object,
        "review": object,
        "sentiment": object,
        "rating": "int8",
        "split": object,
        "movie_id": object,
    }
    assert frame["review_id"].str.fullmatch(r"(train|test)_(pos|neg)_\d+").all()
    assert set(frame["sentiment"]) == {"positive", "negative"}
    # The HTML of the original files is kept: cleaning is the preprocessing step's job.
    assert frame.loc[frame["review_id"] == "train_pos_0", "review"].item().count("<br />") == 2


def test_rows_sorted_by_review_id_like_the_vendored_file(tmp_path: Path) -> None:
    frame = read_aclimdb_folder(write_aclimdb_tree(tmp_path))

    test_neg = frame.loc[(frame["split"] == "test") & (frame["sentiment"] == "negative")]
    assert list(test_neg["review_id"]) == sorted(f"test_neg_{n}" for n in range(11))
    assert list(frame["review_id"]) == sorted(frame["review_id"])
    assert list(frame[["split", "sentiment"]].drop_duplicates().itertuples(index=False)) == [
        ("test", "negative"),
        ("test", "positive"),
        ("train", "negative"),
        ("train", "positive"),
    ]


def test_accepts_the_folder_that_contains_aclimdb(tmp_path: Path) -> None:
    write_aclimdb_tree(tmp_path)

    pd.testing.assert_frame_equal(read_aclimdb_folder(tmp_path), expected_frame())


def test_missing_urls_file_leaves_movie_id_missing_for_that_folder_only(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)
    (root / "train" / "urls_pos.txt").unlink()

    frame = read_aclimdb_folder(root)

    train_pos = (frame["split"] == "train") & (frame["sentiment"] == "positive")
    assert frame.loc[train_pos, "movie_id"].isna().all()
    assert frame.loc[train_pos, "movie_id"].size == 3
    assert frame.loc[~train_pos, "movie_id"].notna().all()


def test_reads_a_tree_with_only_some_folders(tmp_path: Path) -> None:
    only_train = tuple(r for r in REVIEWS if r.split == "train")
    root = write_aclimdb_tree(tmp_path, only_train)

    pd.testing.assert_frame_equal(read_aclimdb_folder(root), expected_frame(only_train))


def test_is_aclimdb_folder(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path / "extracted")
    a_file = tmp_path / "reviews.csv"
    a_file.write_text("review\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()

    assert is_aclimdb_folder(root)
    assert is_aclimdb_folder(root.parent)
    assert not is_aclimdb_folder(tmp_path / "empty")
    assert not is_aclimdb_folder(a_file)
    assert not is_aclimdb_folder(tmp_path / "missing")


def test_not_a_directory_is_a_data_error_naming_path_and_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(DataError, match="is not a directory") as caught:
        read_aclimdb_folder(missing)

    assert str(missing) in str(caught.value)
    assert "{train,test}/{pos,neg}/<id>_<rating>.txt" in str(caught.value)


def test_folder_without_layout_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir(parents=True)

    with pytest.raises(DataError, match=re.escape("has no train|test/pos|neg folders")) as caught:
        read_aclimdb_folder(tmp_path)

    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize(
    "name", ["notes.txt", "3_7.text", "a_7.txt", "3.txt", "3_11.txt", "3_0.txt"]
)
def test_badly_named_review_file_is_a_data_error_naming_it(tmp_path: Path, name: str) -> None:
    root = write_aclimdb_tree(tmp_path)
    bad = root / "test" / "pos" / name
    bad.write_text("text", encoding="utf-8")

    with pytest.raises(DataError) as caught:
        read_aclimdb_folder(root)

    assert str(bad) in str(caught.value)


def test_undecodable_review_is_a_data_error_naming_the_file(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)
    bad = root / "train" / "neg" / "1_4.txt"
    bad.write_bytes(b"caf\xe9 in latin-1")

    with pytest.raises(DataError, match="not valid UTF-8") as caught:
        read_aclimdb_folder(root)

    assert str(bad) in str(caught.value)


def test_duplicate_review_id_is_a_data_error(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)
    (root / "train" / "pos" / "2_8.txt").write_text("same id as 2_7.txt", encoding="utf-8")

    with pytest.raises(DataError, match="two reviews with id 2"):
        read_aclimdb_folder(root)


def test_urls_file_too_short_is_a_data_error(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)
    urls = root / "test" / "urls_neg.txt"
    urls.write_text("http://www.imdb.com/title/tt0065611/usercomments\n", encoding="utf-8")

    with pytest.raises(DataError, match="has only 1 lines"):
        read_aclimdb_folder(root)


def test_urls_line_without_title_is_a_data_error_naming_file_and_line(tmp_path: Path) -> None:
    root = write_aclimdb_tree(tmp_path)
    urls = root / "train" / "urls_neg.txt"
    urls.write_text(
        "http://www.imdb.com/title/tt0406816/usercomments\nhttp://example.com/\n", encoding="utf-8"
    )

    with pytest.raises(DataError, match="not an IMDb title URL") as caught:
        read_aclimdb_folder(root)

    assert f"{urls}:2" in str(caught.value)
