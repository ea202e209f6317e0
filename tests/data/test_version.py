"""Content digests: stable, order- and content-sensitive, format-independent."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from sentimentops.data.version import frame_digest, sha256_file, short_digest


def test_digest_is_a_known_constant_for_fixed_content() -> None:
    frame = pd.DataFrame({"review": ["good", "bad"], "sentiment": ["positive", "negative"]})

    # Pinned: a change here means every recorded dataset version changes meaning.
    assert frame_digest(frame) == "e33da71071dfc5982b10f41eafbe6709c1843b2bc502a4b44ea8cd5baed667b5"
    assert short_digest(frame_digest(frame)) == frame_digest(frame)[:12]


def test_digest_ignores_index_and_storage_but_not_content() -> None:
    frame = pd.DataFrame({"review": ["good", "bad"], "rating": np.array([9, 2], dtype="int8")})
    reindexed = frame.set_axis([10, 20])
    widened = frame.astype({"rating": "int64"})

    assert frame_digest(reindexed) == frame_digest(frame)
    assert frame_digest(widened) == frame_digest(frame)
    assert frame_digest(frame.iloc[::-1]) != frame_digest(frame)
    assert frame_digest(frame.assign(review=["good", "bad!"])) != frame_digest(frame)


def test_digest_of_selected_columns_ignores_the_others() -> None:
    frame = pd.DataFrame({"review": ["a"], "sentiment": ["positive"], "note": ["x"]})

    assert frame_digest(frame, ["review", "sentiment"]) == frame_digest(
        frame.assign(note="y"), ["sentiment", "review"]
    )


def test_missing_values_hash_alike() -> None:
    with_nan = pd.DataFrame({"review": ["a", np.nan]})
    with_none = pd.DataFrame({"review": ["a", None]})

    assert frame_digest(with_nan) == frame_digest(with_none)


def test_digest_survives_a_parquet_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": ["é ✓ 😀", "b"], "rating": [1, 10]})
    frame.to_parquet(tmp_path / "f.parquet")

    assert frame_digest(pd.read_parquet(tmp_path / "f.parquet")) == frame_digest(frame)


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    content = bytes(range(256)) * 10_000
    path.write_bytes(content)

    assert sha256_file(path) == hashlib.sha256(content).hexdigest()
