"""Deterministic splits without leakage (no movie or exact text in two splits): ``random``,
stratified; ``official``, the dataset's own train/test with validation carved out of train."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from sentimentops.config import SplitSettings
from sentimentops.data.load import LABEL_COLUMN, TEXT_COLUMN
from sentimentops.data.version import frame_digest
from sentimentops.errors import DataValidationError

__all__ = [
    "GROUP_COLUMN",
    "OFFICIAL_SPLIT_COLUMN",
    "SPLIT_NAMES",
    "DatasetSplits",
    "assign_group_folds",
    "leakage_between",
    "leakage_groups",
    "split_official",
    "split_random",
    "split_reviews",
]

GROUP_COLUMN = "movie_id"
OFFICIAL_SPLIT_COLUMN = "split"
SPLIT_NAMES = ("train", "validation", "test")
_DIGEST_COLUMNS = [TEXT_COLUMN, LABEL_COLUMN]
_MAX_FOLDS = 100


@dataclass(frozen=True)
class DatasetSplits:
    """The three splits, each in input order, with the settings that made them."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    mode: str
    seed: int

    def frames(self) -> dict[str, pd.DataFrame]:
        """The splits by name, in the order train, validation, test."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def digests(self) -> dict[str, str]:
        """Content digest of each split (text and label), for lineage."""
        return {name: frame_digest(frame, _DIGEST_COLUMNS) for name, frame in self.frames().items()}

    def write(self, directory: Path) -> dict[str, Path]:
        """Write each split as ``<name>.parquet`` into ``directory``; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, frame in self.frames().items():
            path = directory / f"{name}.parquet"
            temporary = path.with_suffix(".parquet.tmp")
            frame.to_parquet(temporary, index=False)
            temporary.replace(path)  # a reader never sees a half-written split
            paths[name] = path
        return paths

    @classmethod
    def read(cls, directory: Path, *, mode: str, seed: int) -> DatasetSplits:
        """The splits :meth:`write` wrote into ``directory``."""
        frames = {name: pd.read_parquet(directory / f"{name}.parquet") for name in SPLIT_NAMES}
        return cls(**frames, mode=mode, seed=seed)


def split_reviews(frame: pd.DataFrame, settings: SplitSettings) -> DatasetSplits:
    """Split validated rows as the settings say (``random`` or ``official`` mode)."""
    if settings.mode == "official":
        return split_official(
            frame, seed=settings.seed, validation_fraction=settings.official_validation_fraction
        )
    return split_random(
        frame,
        seed=settings.seed,
        fractions=(settings.train_fraction, settings.validation_fraction, settings.test_fraction),
    )


def leakage_groups(frame: pd.DataFrame) -> np.ndarray:
    """A group number per row: rows sharing a movie id or an exact text are in one group (a
    connected component of the graph whose edges are rows joining their text and movie)."""
    # Sorted codes: group numbers do not depend on the row order.
    text_codes, texts = pd.factorize(frame[TEXT_COLUMN], sort=True, use_na_sentinel=False)
    if GROUP_COLUMN in frame.columns:
        movie_codes, movies = pd.factorize(frame[GROUP_COLUMN], sort=True, use_na_sentinel=True)
        # A row without a movie id gets a node of its own, so it joins no one through it.
        missing = movie_codes < 0
        movie_codes = movie_codes.copy()
        movie_codes[missing] = len(movies) + np.arange(int(missing.sum()))
        movie_nodes = len(movies) + int(missing.sum())
    else:
        movie_codes = np.arange(len(frame))
        movie_nodes = len(frame)
    nodes = len(texts) + movie_nodes
    edges = coo_matrix(
        (np.ones(len(frame)), (text_codes, len(texts) + movie_codes)), shape=(nodes, nodes)
    )
    _, component = connected_components(edges, directed=False)
    return np.asarray(component[text_codes])


def split_random(
    frame: pd.DataFrame, *, seed: int, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
) -> DatasetSplits:
    """Stratified, grouped split by ``fractions``, realised as whole folds (7, 1, 2 of 10)."""
    _require_labels(frame)
    fold_counts = _fractions_as_folds(fractions)
    n_folds = sum(fold_counts)
    fold_of_row = assign_group_folds(frame, n_folds, seed)
    boundaries = np.cumsum(fold_counts)
    split_of_row = np.searchsorted(boundaries, fold_of_row, side="right")
    train, validation, test = (frame[split_of_row == i] for i in range(3))
    return DatasetSplits(train, validation, test, mode="random", seed=seed)


def split_official(
    frame: pd.DataFrame, *, seed: int, validation_fraction: float = 0.1
) -> DatasetSplits:
    """The dataset's own train/test split, with validation carved out of train by group."""
    _require_labels(frame)
    if OFFICIAL_SPLIT_COLUMN not in frame.columns:
        raise DataValidationError(
            f"official mode needs a '{OFFICIAL_SPLIT_COLUMN}' column with train/test values; "
            "this dataset has none. Use --mode random, or the vendored IMDB data."
        )
    official = frame[OFFICIAL_SPLIT_COLUMN].astype(str).str.lower()
    unknown = sorted(set(official) - {"train", "test"})
    if unknown:
        raise DataValidationError(
            f"the '{OFFICIAL_SPLIT_COLUMN}' column may hold only train/test, found {unknown}."
        )
    full_train, test = frame[official == "train"], frame[official == "test"]
    n_folds = round(1 / validation_fraction)
    fold_of_row = assign_group_folds(full_train, n_folds, seed)
    validation, train = full_train[fold_of_row == 0], full_train[fold_of_row != 0]
    return DatasetSplits(train, validation, test, mode="official", seed=seed)


def leakage_between(splits: DatasetSplits) -> dict[str, int]:
    """How many movies and exact texts appear in more than one split (0 and 0 means none)."""
    frames = splits.frames().values()
    report = {"shared_texts": _shared_values(frames, TEXT_COLUMN)}
    if all(GROUP_COLUMN in frame.columns for frame in frames):
        report["shared_movies"] = _shared_values(frames, GROUP_COLUMN)
    return report


def _shared_values(frames: Iterable[pd.DataFrame], column: str) -> int:
    per_split = pd.concat([pd.Series(frame[column].dropna().unique()) for frame in frames])
    return int((per_split.value_counts() > 1).sum())


def _require_labels(frame: pd.DataFrame) -> None:
    if LABEL_COLUMN not in frame.columns or frame[LABEL_COLUMN].isna().any():
        raise DataValidationError(
            "splitting needs a label for every row (stratification); validate the data first "
            "with `sentimentops data validate` and split the valid rows."
        )


def assign_group_folds(frame: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """A fold number per row: whole groups per fold, labels stratified, fold sizes even
    (docs/decisions.md, "Data")."""
    groups = leakage_groups(frame)
    label_codes, _ = pd.factorize(frame[LABEL_COLUMN], sort=True)
    per_group = pd.crosstab(groups, label_codes)
    if len(per_group) < n_folds:
        raise DataValidationError(
            f"cannot split {len(frame)} rows in {len(per_group)} movie/text groups into "
            f"{n_folds} folds: provide more data or larger split fractions."
        )
    # RandomState, not default_rng: NumPy keeps its streams identical across versions.
    order = np.random.RandomState(seed).permutation(len(per_group))
    table = pd.DataFrame(
        {
            "stratum": per_group.to_numpy().argmax(axis=1),
            "size": per_group.sum(axis=1).to_numpy(),
            "order": order,
        },
        index=per_group.index,
    ).sort_values(["stratum", "order"])
    rows_before = table.groupby("stratum")["size"].cumsum() - table["size"]
    stratum_rows = table.groupby("stratum")["size"].transform("sum")
    # Each stratum's groups, in seeded order, are cut into n_folds runs; a group goes to the
    # fold its midpoint falls in.
    midpoint = (rows_before + table["size"] / 2) / stratum_rows
    table["fold"] = np.minimum((midpoint * n_folds).astype(int), n_folds - 1)
    return table["fold"].reindex(groups).to_numpy()


def _fractions_as_folds(fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Whole fold counts in the ratio of the fractions (0.7/0.1/0.2 -> 7/1/2)."""
    as_fractions = [Fraction(f).limit_denominator(_MAX_FOLDS) for f in fractions]
    denominator = int(np.lcm.reduce([f.denominator for f in as_fractions]))
    if denominator > _MAX_FOLDS:
        raise DataValidationError(
            f"split fractions {fractions} need {denominator} folds; use fractions that are "
            f"multiples of 1/{_MAX_FOLDS} or coarser (like 0.7/0.1/0.2)."
        )
    train, validation, test = (int(f * denominator) for f in as_fractions)
    return train, validation, test
