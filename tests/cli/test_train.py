"""``sentimentops train`` as a user runs it: a real process from a folder of the user's, with only
SENTIMENTOPS_HOME set, against the promotion gate of the champion it trained before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from sentimentops.config import SplitSettings
from sentimentops.data.load import load_reviews
from sentimentops.data.split import split_reviews
from tests.user import FAST_TRAINING_CONFIG, run_cli

# What MLflow printed while logging a model before it was given the model's whole environment.
MLFLOW_NOISE = ("Failed to resolve installed pip version", "Detected uv project")


def train(home: Path, cwd: Path, *args: str, **env: str) -> str:
    """``train ARGS`` with the small test grids; its output, checked to be free of MLflow noise."""
    completed = run_cli(
        "--config", str(FAST_TRAINING_CONFIG), "train", *args,
        home=home, cwd=cwd, **env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for noise in MLFLOW_NOISE:
        assert noise not in completed.stdout + completed.stderr
    return " ".join(completed.stdout.split())


def gate_decision(home: Path, output: str) -> dict[str, object]:
    """The promotion/decision.json of the run ``output`` names."""
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", output)
    assert run_id, output
    (path,) = home.glob(f"mlartifacts/**/{run_id[1]}/artifacts/promotion/decision.json")
    return dict(json.loads(path.read_text()))


@pytest.fixture
def reviews_csv(reference_reviews: pd.DataFrame, tmp_path: Path) -> Path:
    """1,500 reviews of the user's own, in their own folder."""
    path = tmp_path / "work" / "reviews.csv"
    path.parent.mkdir()
    reference_reviews.sample(1500, random_state=5)[["review", "sentiment", "movie_id"]].to_csv(
        path, index=False
    )
    return path


def test_the_gate_compares_only_on_test_reviews_the_champion_was_not_trained_on(
    reviews_csv: Path, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", reviews_csv.parent
    data = ("--data", "reviews.csv", "--models", "logreg")
    frame = load_reviews(str(reviews_csv))
    champion_split = split_reviews(frame, SplitSettings(seed=42))
    challenger_test = split_reviews(frame, SplitSettings(seed=7)).test
    champion_trained = pd.concat([champion_split.train, champion_split.validation])["review"]
    left_out = int(challenger_test["review"].isin(champion_trained).sum())
    compared = len(challenger_test) - left_out
    assert 0 < compared < 200 < len(challenger_test)  # the premise: most of its test was seen

    summary = (
        f"Compared with the champion on {compared:,} of the {len(challenger_test):,} test "
        f"reviews: {left_out:,} left out, the champion was trained on them."
    )

    first = train(home, work, *data)
    refused = train(home, work, *data, SENTIMENTOPS_SPLIT__SEED="7")

    assert "promoted to champion: no champion yet" in first
    assert (
        f"champion kept: too few test reviews to compare on: {compared:,} of the challenger's "
        f"{len(challenger_test):,} are ones the champion was not trained on, fewer than "
        "registry.min_compared_rows (200)"
    ) in refused
    assert "Champion is version 1." in refused
    assert summary not in refused  # nothing was compared

    judged = train(
        home, work, *data,
        SENTIMENTOPS_SPLIT__SEED="7", SENTIMENTOPS_REGISTRY__MIN_COMPARED_ROWS="20",
    )  # fmt: skip

    assert summary in judged
    decision = gate_decision(home, judged)
    assert (decision["compared_rows"], decision["left_out_rows"]) == (compared, left_out)
    # On reviews it never saw, the champion scores about as on its own test set (52 reviews:
    # a few points either way), not near 1 as on reviews it was trained on.
    own_test_accuracy = gate_decision(home, first)["challenger_accuracy"]
    assert abs(decision["champion_accuracy"] - own_test_accuracy) < 0.1


def test_models_trained_on_the_official_split_compare_on_the_whole_official_test(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"  # the vendored data is found from any folder
    elsewhere.mkdir()

    official = ("--split", "official", "--sample", "1500")
    train(home, elsewhere, *official, "--models", "logreg")
    second = train(home, elsewhere, *official, "--models", "nb_logreg")

    decision = gate_decision(home, second)
    assert decision["left_out_rows"] == 0
    assert decision["champion_accuracy"] is not None
    compared = f"{decision['compared_rows']:,}"
    assert f"Compared with the champion on all {compared} test reviews." in second
