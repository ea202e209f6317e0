"""Read the labelled reviews of a Stanford ``aclImdb/`` folder (``{train,test}/{pos,neg}/``, and
``urls_{pos,neg}.txt`` whose line ``i`` is the movie of review ``i``) into the canonical table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pandas as pd

from sentimentops.errors import DataError

__all__ = ["CANONICAL_COLUMNS", "is_aclimdb_folder", "read_aclimdb_folder"]

CANONICAL_COLUMNS: Final = ("review_id", "review", "sentiment", "rating", "split", "movie_id")

_SPLITS: Final = ("test", "train")
_LABEL_FOLDERS: Final = (("neg", "negative"), ("pos", "positive"))

_REVIEW_FILE = re.compile(r"(?P<id>\d+)_(?P<rating>\d+)\.txt")
_MOVIE_URL = re.compile(r"/title/(?P<movie_id>tt\d+)")
_EXPECTED_LAYOUT: Final = (
    "an aclImdb folder holding {train,test}/{pos,neg}/<id>_<rating>.txt "
    "(or a folder that contains aclImdb/)"
)


def is_aclimdb_folder(path: Path) -> bool:
    """Whether ``path`` is an ``aclImdb`` folder, or a folder containing one, that can be read."""
    return _find_aclimdb_root(path) is not None


def read_aclimdb_folder(root: Path) -> pd.DataFrame:
    """The reviews under ``root`` (``aclImdb`` or a folder holding it) as :data:`CANONICAL_COLUMNS`,
    sorted like the vendored parquet (same digest); DataError for any file that does not fit."""
    aclimdb = _find_aclimdb_root(root)
    if aclimdb is None:
        what = "is not a directory" if not root.is_dir() else "has no train|test/pos|neg folders"
        raise DataError(f"{root} {what}. Expected {_EXPECTED_LAYOUT}.")
    records = [
        record
        for split in _SPLITS
        for folder, sentiment in _LABEL_FOLDERS
        if (aclimdb / split / folder).is_dir()
        for record in _read_reviews(aclimdb / split, folder, sentiment)
    ]
    frame = pd.DataFrame.from_records(records, columns=list(CANONICAL_COLUMNS))
    frame = frame.sort_values("review_id", kind="stable", ignore_index=True)
    return frame.astype({"rating": "int8"})


def _find_aclimdb_root(path: Path) -> Path | None:
    for candidate in (path, path / "aclImdb"):
        if any(
            (candidate / split / folder).is_dir()
            for split in _SPLITS
            for folder, _ in _LABEL_FOLDERS
        ):
            return candidate
    return None


def _read_reviews(split_dir: Path, folder: str, sentiment: str) -> list[dict[str, object]]:
    reviews_dir, split = split_dir / folder, split_dir.name
    movie_ids = _read_movie_ids(split_dir / f"urls_{folder}.txt")
    parsed = sorted((_parse_review_name(path), path) for path in reviews_dir.iterdir())
    records: list[dict[str, object]] = []
    previous_id: int | None = None
    for (review_number, rating), path in parsed:
        if review_number == previous_id:
            raise DataError(
                f"{reviews_dir} holds two reviews with id {review_number}; each <id> must be "
                "unique within a folder. Remove the duplicate file."
            )
        previous_id = review_number
        records.append(
            {
                "review_id": f"{split}_{folder}_{review_number}",
                "review": _read_utf8(path),
                "sentiment": sentiment,
                "rating": rating,
                "split": split,
                "movie_id": _movie_id_of(review_number, movie_ids, path),
            }
        )
    return records


def _parse_review_name(path: Path) -> tuple[int, int]:
    match = _REVIEW_FILE.fullmatch(path.name)
    if match is None or not path.is_file():
        raise DataError(
            f"{path} is not a review file: names in {path.parent} must be <id>_<rating>.txt "
            "(e.g. 0_9.txt). Remove or rename it."
        )
    rating = int(match["rating"])
    if not 1 <= rating <= 10:
        raise DataError(f"{path} has rating {rating}; ratings must be 1-10. Fix the file name.")
    return int(match["id"]), rating


def _read_utf8(path: Path) -> str:
    try:  # strictly: a replacement character would silently change review text
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not valid UTF-8 ({error.reason} at byte {error.start}). "
            "Re-extract the dataset or re-encode the file as UTF-8."
        ) from None


def _read_movie_ids(urls_file: Path) -> list[str] | None:
    if not urls_file.is_file():
        return None
    movie_ids: list[str] = []
    for line_number, line in enumerate(_read_utf8(urls_file).splitlines(), start=1):
        match = _MOVIE_URL.search(line)
        if match is None:
            raise DataError(
                f"{urls_file}:{line_number} is {line!r}, not an IMDb title URL "
                "(http://www.imdb.com/title/tt.../usercomments). Fix or remove the urls file."
            )
        movie_ids.append(match["movie_id"])
    return movie_ids


def _movie_id_of(review_number: int, movie_ids: list[str] | None, path: Path) -> str | None:
    if movie_ids is None:
        return None
    if review_number >= len(movie_ids):
        raise DataError(
            f"{path} has id {review_number} but the urls file of {path.parent} has only "
            f"{len(movie_ids)} lines (line i is the movie of review i). Re-extract the dataset."
        )
    return movie_ids[review_number]
