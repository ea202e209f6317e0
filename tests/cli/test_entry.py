"""The console script's start: which command lines fork Evidently's process ahead."""

from __future__ import annotations

import pytest

from sentimentops.cli.entry import is_monitoring_run


@pytest.mark.parametrize(
    "arguments",
    [
        ["monitor", "--current", "reviews.csv"],
        ["monitor", "--from-log", "--since", "1d"],
        ["monitor", "--model", "models:/imdb-sentiment@challenger", "--current", "x.csv"],
    ],
)
def test_a_monitoring_run_is_recognised(arguments: list[str]) -> None:
    assert is_monitoring_run(arguments)


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["monitor"],
        ["monitor", "history"],
        ["monitor", "ui"],
        ["monitor", "--current", "x.csv", "--help"],
        ["predict", "--current", "x.csv"],
        ["--config", "c.yaml", "monitor", "--current", "x.csv"],  # only the usual form: slower
    ],
)
def test_anything_else_is_not(arguments: list[str]) -> None:
    assert not is_monitoring_run(arguments)
