"""Flows run for real against one Prefect test API per session (a temporary local server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import get_settings


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    # The first start on a fresh database is slow on a busy 2-core machine.
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(autouse=True)
def flow_settings(
    prefect_server: None,
    fast_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Small grids, no waiting between retries, and one API for every process of a flow."""
    from sentimentops.pipelines.runtime import prefect_api

    monkeypatch.setenv("SENTIMENTOPS_PIPELINE__RETRY_DELAY_SECONDS", "0")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    get_settings.cache_clear()
    with prefect_api():
        yield


def truncated_reviews(reviews: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """Labelled test reviews cut to their first six words: a shift monitoring must see (the
    length and vocabulary of the texts change) and the model handles worse."""
    test = reviews[reviews["split"] == "test"].sample(rows, random_state=seed)
    short = test["review"].str.split().str[:6].str.join(" ")
    return pd.DataFrame({"review": short, "sentiment": test["sentiment"]}).reset_index(drop=True)
