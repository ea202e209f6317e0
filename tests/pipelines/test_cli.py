"""``sentimentops pipeline``: the main job end to end (twice), schedules, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings
from sentimentops.pipelines.training_flow import run_training_flow
from tests.pipelines.conftest import truncated_reviews
from tests.user import run_cli

runner = CliRunner()


def test_main_job_prints_its_summary_and_a_second_run_reuses_what_is_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Floors this small model meets, so a healthy run exits 0 (an alert would exit 3).
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ACCURACY", "0.7")
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ESTIMATED_ACCURACY", "0.7")
    get_settings.cache_clear()
    command = ["pipeline", "run", "main", "--sample", "2000", "--models", "logreg"]

    first = runner.invoke(app, command)

    assert first.exit_code == 0, first.output
    home = get_settings().home
    for line in (
        "Champion    │ imdb-sentiment version 1 (this run)",
        "Monitoring  │ ok",
        "Reused      │ nothing (first run)",
        f"mlflow ui --backend-store-uri sqlite:///{home.resolve()}/mlflow.db",
    ):
        assert line in first.output
    assert (home / "predictions" / "test.predictions.csv").is_file()
    assert _time_per_step(first.output) == {
        "prepare data": "ran", "clean texts": "ran", "search logreg": "ran",
        "choose and refit": "ran", "register and gate": "ran", "batch scoring": "ran",
        "monitoring": "ran",
    }  # fmt: skip

    second = runner.invoke(app, command)

    assert second.exit_code == 0, second.output
    assert "Champion    │ imdb-sentiment version 1 (kept)" in second.output
    assert "Reused      │ training, batch scoring (unchanged since the last run)" in second.output
    assert _time_per_step(second.output) == {
        "prepare data": "ran", "batch scoring": "cached", "monitoring": "ran"
    }  # fmt: skip


def _time_per_step(output: str) -> dict[str, str]:
    """The main job's time table as step -> ran, cached or reused (every row has a time)."""
    rows = re.findall(r"^│ ([a-z_ ]+?)\s+│\s+[\d.]+ s │ (\S*)\s*│$", output, flags=re.MULTILINE)
    return {step: how for step, how in rows if step != "total"}


def test_serve_dry_run_lists_the_schedules_and_their_next_runs() -> None:
    result = runner.invoke(app, ["pipeline", "serve", "--dry-run"])

    assert result.exit_code == 0, result.output
    for flow, cron in (("monitoring", "0 * * * *"), ("batch", "0 2 * * *")):
        assert flow in result.output
        assert cron in result.output
    assert "retraining" in result.output
    assert "pipeline.batch_input is not set" in result.output


def test_a_bad_schedule_is_exit_2_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENTOPS_PIPELINE__SCHEDULES__MONITORING", "every hour")
    get_settings.cache_clear()

    result = runner.invoke(app, ["pipeline", "serve", "--dry-run"])

    assert result.exit_code == 2
    assert "pipeline.schedules.monitoring" in result.output
    assert "Traceback" not in result.output


def test_unknown_model_family_is_exit_2_before_any_flow_starts() -> None:
    result = runner.invoke(app, ["pipeline", "run", "training", "--models", "bert"])

    assert result.exit_code == 2
    assert "unknown ['bert']" in result.output


@pytest.mark.parametrize("models", ["", ",", " , "])
def test_models_naming_no_family_is_exit_2_not_every_family(models: str) -> None:
    """An empty --models (an unset shell variable) trained all four families for minutes."""
    for command in (["pipeline", "run", "training"], ["train"]):
        result = runner.invoke(app, [*command, "--models", models])

        assert result.exit_code == 2, result.output
        assert "--models names no family" in " ".join(result.output.split())


def test_monitoring_run_exits_3_on_an_alert(
    reference_reviews: pd.DataFrame, tmp_path: Path
) -> None:
    run_training_flow(get_settings(), sample=2000, models=["logreg"])
    current = tmp_path / "current.csv"
    truncated_reviews(reference_reviews, 400, seed=9).to_csv(current, index=False)

    result = runner.invoke(app, ["pipeline", "run", "monitoring", "--current", str(current)])

    assert result.exit_code == 3, result.output
    assert "alert" in result.output


def test_monitoring_run_on_a_log_without_traffic_exits_3_with_the_volume_alert(
    model_folder: Path,
) -> None:
    result = runner.invoke(
        app, ["pipeline", "run", "monitoring", "--hours", "1", "--model", str(model_folder)]
    )

    assert result.exit_code == 3, result.output
    assert "): alert" in result.output
    assert "volume: Only 0 rows were monitored" in " ".join(result.output.split())


def test_a_run_without_a_prefect_server_links_to_no_dead_api_and_says_where_its_runs_are(
    user_home: Path,
) -> None:
    """Without PREFECT_API_URL the flow reports to a temporary API that stops with the command:
    a "View at http://127.0.0.1:<port>/..." link would be dead by the time it is clicked."""
    completed = run_cli("pipeline", "run", "monitoring", "--hours", "1", home=user_home)

    output = completed.stdout + completed.stderr
    assert completed.returncode == 3, output  # no traffic: the volume alert
    assert "View at" not in output
    note = " ".join(completed.stderr.split())
    assert "no PREFECT_API_URL, so this command starts a temporary Prefect API" in note
    assert f"Its runs stay in {user_home / 'prefect'}" in note


def test_the_batch_flow_alone_scores_with_the_champion_of_the_default_store(
    user_home: Path, tmp_path: Path
) -> None:
    """As a user runs it, after training in another command: the flow asked MLflow's default
    store (./mlflow.db), not the home's, and found no champion (exit 2)."""
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("id,review\n1,A wonderful film.\n2,A dull and awful film.\n")
    output = tmp_path / "scored.csv"

    completed = run_cli(
        "pipeline", "run", "batch", "--input", str(reviews), "--output", str(output),
        home=user_home, cwd=tmp_path,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout + completed.stderr
    scored = pd.read_csv(output)
    assert scored["id"].tolist() == [1, 2]
    assert set(scored["model_version"].astype(str)) == {"1"}
    assert not (tmp_path / "mlflow.db").exists()


def test_monitoring_a_batch_of_a_parquet_input_with_integer_ids(
    reference_reviews: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentimentops.pipelines.batch_flow import batch_flow

    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ACCURACY", "0.7")
    monkeypatch.setenv("SENTIMENTOPS_MONITORING__ALERTS__MIN_ESTIMATED_ACCURACY", "0.7")
    get_settings.cache_clear()
    run_training_flow(get_settings(), sample=2000, models=["logreg"])
    test = reference_reviews[reference_reviews["split"] == "test"].sample(400, random_state=4)
    source = tmp_path / "reviews.parquet"
    test[["review", "sentiment"]].assign(id=range(1, 401)).to_parquet(source)
    scored = batch_flow(input=str(source), id_column="id").scored[0]

    result = runner.invoke(
        app,
        ["pipeline", "run", "monitoring", "--current", scored["output"], "--scored-input",
         str(source), "--json"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert '"accuracy": 0.' in result.output  # the input's labels were joined as truth


def test_monitoring_a_batch_whose_input_repeats_ids_is_exit_2_naming_them(
    tmp_path: Path,
) -> None:
    source = tmp_path / "reviews.parquet"
    pd.DataFrame({"id": [1, 2, 2], "review": ["Fine.", "Dull.", "Awful."]}).to_parquet(source)
    output = tmp_path / "reviews.predictions.csv"
    pd.DataFrame(
        {"id": ["1", "2"], "label": "positive", "score": 0.7, "model_version": "1"}
    ).to_csv(output, index=False)

    result = runner.invoke(
        app,
        ["pipeline", "run", "monitoring", "--current", str(output), "--scored-input", str(source)],
    )

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "same 'id' on several rows ('2')" in " ".join(result.output.split())


@pytest.mark.parametrize("hours", ["0", "-3", "nan"])
def test_a_log_window_of_no_hours_is_a_usage_error(hours: str) -> None:
    for flow in ("monitoring", "retraining"):
        result = runner.invoke(app, ["pipeline", "run", flow, "--hours", hours])

        assert result.exit_code == 2, result.output
        assert "number of hours above 0" in " ".join(result.output.split())
        assert "Traceback" not in result.output


def test_scored_input_without_current_is_a_usage_error(tmp_path: Path) -> None:
    for flow in ("monitoring", "retraining"):
        result = runner.invoke(
            app, ["pipeline", "run", flow, "--scored-input", str(tmp_path / "in.csv")]
        )

        assert result.exit_code == 2, result.output
        assert "given without --current" in " ".join(result.output.split())


def test_hours_with_current_is_a_usage_error_not_ignored_by_the_monitoring_flow(
    tmp_path: Path,
) -> None:
    """Retraining's --hours also judges an online promotion, so it stays allowed there."""
    arguments = ["--current", str(tmp_path / "b.csv"), "--hours", "1"]
    result = runner.invoke(app, ["pipeline", "run", "monitoring", *arguments])

    assert result.exit_code == 2, result.output
    assert "give it without --current" in " ".join(result.output.split())
