"""``models compare --from-log``: the numbers of a known log (tests/monitoring/online_log.py),
computed by hand, through the CLI on SQLite and PostgreSQL, and the rules that act on them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.errors import BadInputError
from sentimentops.monitoring.compare import compare_online, paired_difference_interval
from sentimentops.monitoring.online_gate import decide_online_promotion, decide_rollback
from sentimentops.prediction_log import PredictionLogStore, open_store
from tests.monitoring.online_log import write_known_log

runner = CliRunner()
Z95 = 1.959963984540054


def wilson(correct: int, total: int) -> tuple[float, float]:
    p, z = correct / total, Z95
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2)) / (1 + z * z / total)
    return centre - half, centre + half


@pytest.fixture(params=["sqlite", "postgresql"])
def logged_home(
    request: pytest.FixtureRequest, isolated_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PredictionLogStore]:
    """The known log in the home's prediction log (SQLite) or a PostgreSQL one of its own."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("SENTIMENTOPS_PREDICTION_LOG__URL", url)
        get_settings.cache_clear()
    store = open_store(get_settings())
    try:
        write_known_log(store)
        yield store
    finally:
        store.dispose()


def test_compare_from_log_prints_the_numbers_computed_by_hand(
    logged_home: PredictionLogStore,
) -> None:
    result = runner.invoke(app, ["models", "compare", "--from-log", "--since", "2h", "--json"])

    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output)
    old, new = numbers["champion"], numbers["challenger"]
    assert (old["version"], new["version"]) == ("1", "2")
    assert (old["requests"], old["answered"], old["shadow"]) == (11, 11, 0)
    assert (new["requests"], new["answered"], new["shadow"]) == (12, 2, 10)
    assert (old["labelled"], new["labelled"]) == (9, 10)
    assert old["accuracy"] == pytest.approx(6 / 9)
    assert new["accuracy"] == pytest.approx(8 / 10)
    assert (old["accuracy_low"], old["accuracy_high"]) == pytest.approx(wilson(6, 9))
    assert (new["accuracy_low"], new["accuracy_high"]) == pytest.approx(wilson(8, 10))
    # Latencies 10, 20, ..., 110 ms: numpy's linear percentile puts p99 at 100 + 0.9 * 10.
    assert (old["latency_p50_ms"], old["latency_p99_ms"]) == pytest.approx((60.0, 109.0))
    assert (new["latency_p50_ms"], new["latency_p99_ms"]) == pytest.approx((5.0, 7.0))
    assert numbers["paired"] == 10
    assert numbers["agreement"] == pytest.approx(5 / 10)
    assert numbers["paired_labelled"] == 8
    assert numbers["champion_paired_accuracy"] == pytest.approx(5 / 8)
    assert numbers["challenger_paired_accuracy"] == pytest.approx(7 / 8)
    assert (numbers["only_challenger_right"], numbers["only_champion_right"]) == (3, 1)
    # Exact McNemar: 4 discordant requests, 1 the other way: 2 * P(X <= 1 | 4, 1/2) = 2 * 5/16.
    assert numbers["p_value"] == pytest.approx(10 / 16)
    # Agresti-Min: half a count in each cell, so b = 3.5, c = 1.5, n = 10.
    half = Z95 * math.sqrt(5 - 2**2 / 10) / 10
    assert numbers["difference"] == pytest.approx(2 / 8)
    assert (numbers["difference_low"], numbers["difference_high"]) == pytest.approx(
        (2 / 10 - half, 2 / 10 + half)
    )
    # Scores on the paired requests: 5 and 2 of 10 at 0.1, the rest at 0.9.
    assert numbers["score_drift"] == pytest.approx(0.3)
    assert numbers["score_drift_rows"] == "paired"


def test_compare_table_names_both_versions_and_their_request_counts(
    logged_home: PredictionLogStore,
) -> None:
    result = runner.invoke(app, ["models", "compare", "--from-log", "--since", "2h"])

    assert result.exit_code == 0, result.output
    assert "champion v1" in result.output
    assert "challenger v2" in result.output
    requests = next(line for line in result.output.splitlines() if line.startswith(" requests"))
    assert requests.split() == ["requests", "11", "12"]
    assert "0.5000" in result.output  # agreement


def test_compare_needs_the_log_and_a_challenger_in_it(
    sqlite_store_home: PredictionLogStore,
) -> None:
    without_source = runner.invoke(app, ["models", "compare"])
    no_challenger = runner.invoke(app, ["models", "compare", "--from-log"])

    assert without_source.exit_code == 2
    assert "--from-log" in without_source.output
    assert no_challenger.exit_code == 2
    assert "serving.shadow_share" in no_challenger.output


def test_compare_on_an_empty_log_says_how_to_name_the_versions(isolated_settings: Path) -> None:
    result = runner.invoke(app, ["models", "compare", "--from-log", "--since", "1h"])

    assert result.exit_code == 2
    assert "no champion rows" in result.output
    assert "--champion V --challenger V" in " ".join(result.output.split())


@pytest.fixture
def sqlite_store_home(isolated_settings: Path) -> Iterator[PredictionLogStore]:
    """The home's log holding the known log's champion rows (version 1) alone."""
    from sentimentops.prediction_log.schema import predictions

    store = open_store(get_settings())
    try:
        write_known_log(store)
        with store.transaction("deleting the challenger's rows") as connection:
            connection.execute(predictions.delete().where(predictions.c.model_version == "2"))
        yield store
    finally:
        store.dispose()


def test_a_better_challenger_is_promoted_and_a_worse_one_refused(
    logged_home: PredictionLogStore,
) -> None:
    window = logged_home.read_window()
    better = compare_online(window)  # version 2 on the paired requests: 7 of 8 against 5 of 8
    worse = compare_online(window, champion="2", challenger="1")

    promoted = decide_online_promotion(
        better, significance_level=0.05, tolerance=0.3, min_labelled=8
    )
    refused = decide_online_promotion(worse, significance_level=0.05, tolerance=0.3, min_labelled=8)
    too_few = decide_online_promotion(
        better, significance_level=0.05, tolerance=0.3, min_labelled=9
    )

    assert promoted.act
    assert "not worse online (0.8750 vs 0.6250" in promoted.reason
    assert not refused.act
    assert "version 1 is not shown to be as accurate online (0.6250 vs 0.8750" in refused.reason
    assert not too_few.act
    assert "8 requests scored by both" in too_few.reason


def test_rollback_needs_the_previous_champion_clearly_better() -> None:
    lower, upper = paired_difference_interval(30, 0, 30)
    # No discordant pair is not proof of "not worse": the interval keeps a width.
    no_disagreement = paired_difference_interval(0, 0, 100)
    comparison = compare_online(_paired_window(right_before=40, right_now=10, n=40))
    even = compare_online(_paired_window(right_before=20, right_now=20, n=40))

    back = decide_rollback(comparison, significance_level=0.05, min_labelled=20)
    kept = decide_rollback(even, significance_level=0.05, min_labelled=20)

    half = Z95 * math.sqrt(31 - 30**2 / 32) / 32
    assert (lower, upper) == pytest.approx((30 / 32 - half, 1.0))
    assert no_disagreement == pytest.approx((-Z95 / 102, Z95 / 102))
    assert no_disagreement[0] < -0.01  # below the default online tolerance
    assert back.act
    assert "the previous champion was better: version 1 1.0000 vs version 2 0.2500" in back.reason
    assert not kept.act


def _paired_window(*, right_before: int, right_now: int, n: int) -> pd.DataFrame:
    """Requests answered by version 2 (champion now) and scored in shadow by version 1."""
    rows = []
    start = pd.Timestamp("2026-12-01T00:00:00Z")
    for i in range(n):
        for version, role, right in (("2", "champion", right_now), ("1", "shadow", right_before)):
            rows.append(
                {
                    "timestamp": start + pd.Timedelta(seconds=i),
                    "request_id": f"q{i}",
                    "model_version": version,
                    "role": role,
                    "label": "positive" if i < right else "negative",
                    "score": 0.9 if i < right else 0.1,
                    "latency_ms": 1.0,
                    "feedback_label": "positive",
                }
            )
    return pd.DataFrame(rows)


def test_a_reused_request_id_for_another_text_is_not_a_pair() -> None:
    window = _paired_window(right_before=3, right_now=3, n=4)
    window["text_sha256"] = [f"text-{i // 2}" for i in range(len(window))]  # both rows: one text
    window.loc[1, "text_sha256"] = "another review, same X-Request-ID"

    comparison = compare_online(window)

    assert comparison.paired == 3


def test_the_same_version_on_both_sides_is_refused(logged_home: PredictionLogStore) -> None:
    with pytest.raises(BadInputError, match="same version"):
        compare_online(logged_home.read_window(), champion="1", challenger="1")


def test_feedback_for_retraining_counts_a_request_scored_twice_once(
    logged_home: PredictionLogStore,
) -> None:
    rows = logged_home.labelled_texts()

    assert len(rows) == 11  # r0..r7, r10, c0, c1: the shadow rows of r0..r7 add no text
    assert rows["review"].is_unique


def test_monitoring_from_the_log_judges_answers_not_shadow_predictions(
    logged_home: PredictionLogStore,
) -> None:
    from sentimentops.monitoring.current import current_from_log

    current = current_from_log(logged_home, None, None)
    by_version = current.frame["model_version"].value_counts().to_dict()

    # Version 1 answered r0..r10; version 2 answered only the canary requests c0 and c1.
    assert by_version == {"1": 11, "2": 2}


def test_a_canary_without_shadow_is_compared_on_its_own_requests(
    logged_home: PredictionLogStore,
) -> None:
    window = logged_home.read_window()
    canary_only = window[window["role"] != "shadow"]

    comparison = compare_online(canary_only)

    assert (comparison.champion.requests, comparison.challenger.requests) == (11, 2)
    assert comparison.paired == 0
    assert comparison.agreement is None
    assert comparison.p_value is None
    assert comparison.challenger.accuracy == pytest.approx(1 / 2)  # c0 right, c1 wrong
    # No request both scored: the drift compares all their scores. Version 1: five at 0.1,
    # six at 0.8 or above; version 2: 0.2 and 0.3. At 0.3 the ECDFs are 5/11 and 1.
    assert comparison.score_drift_rows == "all"
    assert comparison.score_drift == pytest.approx(6 / 11)
