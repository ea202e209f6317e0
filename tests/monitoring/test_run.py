"""A monitoring run on real reviews: quiet on the same distribution, loud on a shift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.errors import BadInputError, DataError
from sentimentops.monitoring.current import CurrentData, current_from_batch, current_from_file
from sentimentops.monitoring.run import (
    MIN_REFERENCE_ROWS,
    empty_outcome,
    run_monitoring,
    sample_rows,
)
from sentimentops.tracking.loading import LoadedModel

OTHER_DOMAIN = [
    "The battery died after two days and the charger arrived broken.",
    "Great hotel, friendly staff, the breakfast was cold but the pool was clean.",
    "Do not order the pasta here, the waiter was rude and the bill was wrong.",
    "The laptop keyboard is sturdy, fan is noisy, screen is bright.",
]


def test_same_distribution_raises_no_alert(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    current = CurrentData(held_out.sample(800, random_state=1), "held-out")

    outcome = run_monitoring(current, monitored_model, get_settings(), output_dir=tmp_path)

    assert outcome.alerts == []
    metrics = outcome.metrics
    assert metrics.text_drift is not None
    assert not metrics.text_drift.detected
    assert metrics.accuracy is not None
    assert metrics.estimated_accuracy is not None
    assert abs(metrics.estimated_accuracy.accuracy - metrics.accuracy) < 0.04
    summary = json.loads(outcome.summary_path.read_text())
    assert summary["verdict"] == "ok"
    assert outcome.report_path is not None
    # Evidently's page went into the report; nothing half-written or intermediate is left.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html", "summary.json"]
    html = outcome.report_path.read_text()
    assert "<html" in html.lower()
    assert "review" in html


def test_another_domain_is_text_drift_and_flipped_labels_are_an_accuracy_alert(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    products = [" ".join(rng.choice(OTHER_DOMAIN, size=3)) for _ in range(400)]
    shifted = run_monitoring(
        CurrentData(pd.DataFrame({"review": products}), "products"),
        monitored_model,
        get_settings(),
        output_dir=tmp_path / "domain",
    )
    assert "text_drift" in {alert.kind for alert in shifted.alerts}
    assert shifted.metrics.text_drift is not None
    assert shifted.metrics.text_drift.score > 0.9
    assert any(d.detected for d in shifted.metrics.descriptor_drift)

    window = held_out.sample(600, random_state=2)
    flipped = window.assign(
        sentiment=window["sentiment"].map({"positive": "negative", "negative": "positive"})
    )
    wrong = run_monitoring(
        CurrentData(flipped, "flipped"), monitored_model, get_settings(), output_dir=tmp_path / "f"
    )
    kinds = {alert.kind for alert in wrong.alerts}
    assert "accuracy" in kinds
    assert "text_drift" not in kinds  # the texts did not change, only the labels
    quality = wrong.metrics.quality
    assert quality is not None
    right = quality.true_positive + quality.true_negative
    wrong_rows = quality.false_positive + quality.false_negative
    assert right + wrong_rows == 600
    assert right / 600 == pytest.approx(wrong.metrics.accuracy)
    assert sum(piece.rows for piece in quality.by_length) == 600
    assert sum(piece.rows for piece in quality.calibration) == 600


def test_the_report_opens_with_the_verdict_model_window_checks_and_alerts(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    window = held_out.sample(600, random_state=2)
    flipped = window.assign(
        sentiment=window["sentiment"].map({"positive": "negative", "negative": "positive"})
    )
    outcome = run_monitoring(
        CurrentData(flipped, "flipped.csv"), monitored_model, get_settings(), output_dir=tmp_path
    )

    assert outcome.report_path == tmp_path / "report.html"
    page = outcome.report_path.read_text()
    summary, _, details = page.partition('id="drift-details"')
    assert details, "Evidently's drift report follows the summary"
    assert summary.index('id="verdict">ALERT<') < summary.index('id="checks"')
    assert "imdb-logreg version local" in summary
    assert "file flipped.csv" in summary
    assert "600 current" in summary
    accuracy = next(check for check in outcome.checks if check.kind == "accuracy")
    assert f"{accuracy.value:.4g}" in summary
    assert "&lt; 0.85" in summary  # the accuracy limit
    assert "accuracy</b>: " in summary  # the alert, by kind
    assert 'id="quality"' in summary
    assert "Accuracy by review length" in summary
    assert "Calibration" in summary
    assert 'href="#drift-details"' in summary
    # Opens offline: nothing loaded from elsewhere.
    assert "<script src=" not in page
    assert "<link " not in page


def test_batch_output_without_text_measures_predictions_and_rejects(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    scores = monitored_model.pipeline.positive_scores(held_out["review"].head(300).tolist())
    output = tmp_path / "scored.csv"
    pd.DataFrame(
        {
            "id": range(300),
            "label": np.where(scores >= 0.5, "positive", "negative"),
            "score": scores,
        }
    ).to_csv(output, index=False)
    (tmp_path / "scored.csv.summary.json").write_text(json.dumps({"rows_in": 400, "rejected": 100}))

    current = current_from_file(output)
    outcome = run_monitoring(current, monitored_model, get_settings(), output_dir=tmp_path / "o")

    assert outcome.metrics.reject_rate == pytest.approx(0.25)
    assert "reject_rate" in {alert.kind for alert in outcome.alerts}
    assert outcome.metrics.text_drift is None
    assert outcome.metrics.descriptor_drift == []
    # Without texts the predictions are still compared: score distribution and label share.
    assert [d.column for d in outcome.metrics.prediction_drift] == ["score", "label"]
    assert outcome.report_path is not None
    assert outcome.report_path.exists()
    assert any("no review text" in note for note in outcome.notes)


def test_a_batch_output_with_every_row_rejected_is_judged_not_refused(
    monitored_model: LoadedModel, tmp_path: Path
) -> None:
    """No prediction is a verdict (volume, reject rate: exit 3), not "nothing to monitor"."""
    output = tmp_path / "scored.csv"
    pd.DataFrame(columns=["row_number", "label", "score", "model_name", "model_version"]).to_csv(
        output, index=False
    )
    (tmp_path / "scored.csv.summary.json").write_text(json.dumps({"rows_in": 40, "rejected": 40}))

    current = current_from_file(output)
    outcome = empty_outcome(current, monitored_model, get_settings(), output_dir=tmp_path / "o")

    assert current.frame.empty
    assert current.reject_rate == 1.0
    assert {"volume", "reject_rate"} <= {alert.kind for alert in outcome.alerts}
    (tmp_path / "scored.csv.summary.json").unlink()  # reviews, not a batch output: refused
    with pytest.raises(DataError, match="holds no rows"):
        current_from_file(output)


def test_sampling_is_seeded_and_keeps_order() -> None:
    frame = pd.DataFrame({"n": range(1000)})
    first, second = sample_rows(frame, 100, seed=3), sample_rows(frame, 100, seed=3)
    assert first.equals(second)
    assert first["n"].is_monotonic_increasing
    assert len(sample_rows(frame, 5000, seed=3)) == 1000


def test_no_reference_is_a_clear_error(monitored_model: LoadedModel, tmp_path: Path) -> None:
    bare = LoadedModel(monitored_model.pipeline, "bare", "local", "bare")
    with pytest.raises(BadInputError, match="--reference"):
        run_monitoring(
            CurrentData(pd.DataFrame({"review": ["fine"]}), "x"), bare, get_settings(),
            output_dir=tmp_path,
        )  # fmt: skip


def test_a_prediction_output_with_a_bad_score_names_the_row(tmp_path: Path) -> None:
    output = tmp_path / "scored.csv"
    pd.DataFrame(
        {"id": [1, 2, 3], "label": ["positive", "negative", "positive"], "score": [0.9, 0.2, 7]}
    ).to_csv(output, index=False)

    with pytest.raises(DataError, match="data row 3 is not a probability"):
        current_from_file(output)


def test_a_batch_output_joined_with_its_input_has_texts_labels_and_predictions(
    tmp_path: Path,
) -> None:
    source = tmp_path / "reviews.csv"
    pd.DataFrame(
        {
            "review_id": ["a", "b", "c"],
            "review": ["Great film.", "", "Awful."],
            "sentiment": ["positive", "negative", "negative"],
        }
    ).to_csv(source, index=False)
    output = tmp_path / "scored.csv"  # "b" was rejected, so it has no prediction
    pd.DataFrame(
        {
            "review_id": ["c", "a"],
            "label": ["negative", "positive"],
            "score": [0.1, 0.8],
            "model_name": "m",
            "model_version": 3,
        }
    ).to_csv(output, index=False)
    (tmp_path / "scored.csv.summary.json").write_text(json.dumps({"rows_in": 3, "rejected": 1}))

    current = current_from_batch(source, output, id_column="review_id")

    frame = current.frame.sort_values("score").reset_index(drop=True)
    assert frame[["review", "sentiment", "label"]].values.tolist() == [
        ["Awful.", "negative", "negative"],
        ["Great film.", "positive", "positive"],
    ]
    assert frame["score"].tolist() == [0.1, 0.8]
    assert set(frame["model_version"]) == {"3"}
    assert current.reject_rate == pytest.approx(1 / 3)


def test_a_batch_join_leaves_out_input_rows_without_an_id(tmp_path: Path) -> None:
    """The batch rejects them ("missing id"): two of them must not collide in the join."""
    source = tmp_path / "reviews.jsonl"
    records = [
        {"id": "a", "review": "Great film.", "sentiment": "positive"},
        {"review": "No id here.", "sentiment": "negative"},
        {"id": None, "review": "Nor here.", "sentiment": "positive"},
        {"id": "d", "review": "Awful.", "sentiment": "negative"},
    ]
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    output = tmp_path / "scored.jsonl"
    predictions = [
        {"id": "a", "label": "positive", "score": 0.8, "model_name": "m", "model_version": "3"},
        {"id": "d", "label": "negative", "score": 0.1, "model_name": "m", "model_version": "3"},
    ]
    output.write_text("".join(json.dumps(row) + "\n" for row in predictions))

    current = current_from_batch(source, output, id_column="id")

    frame = current.frame.sort_values("score").reset_index(drop=True)
    assert frame[["review", "sentiment", "label"]].values.tolist() == [
        ["Awful.", "negative", "negative"],
        ["Great film.", "positive", "positive"],
    ]


def test_a_batch_join_without_the_id_column_names_it(tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"review": ["Fine."]}).to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    pd.DataFrame(
        {"row_number": [0], "label": ["positive"], "score": [0.7], "model_version": ["1"]}
    ).to_csv(output, index=False)

    with pytest.raises(DataError, match="no 'review_id' column"):
        current_from_batch(source, output, id_column="review_id")


def test_a_batch_join_matches_integer_ids_of_a_parquet_input(tmp_path: Path) -> None:
    """The batch writes ids as text ("7"); the Parquet input holds integers (7)."""
    source = tmp_path / "reviews.parquet"
    pd.DataFrame(
        {"id": [7, 8, 9], "review": ["Great film.", "Dull.", "Awful."], "sentiment": [1, 0, 0]}
    ).to_parquet(source)
    with_null = tmp_path / "with_null.parquet"  # an integer column with a null reads as floats
    pd.DataFrame(
        {"id": pd.array([7, None, 9], dtype="Int64"), "review": ["Great film.", "Dull.", "Awful."]}
    ).to_parquet(with_null)
    output = tmp_path / "scored.csv"
    pd.DataFrame(
        {"id": ["9", "7"], "label": ["negative", "positive"], "score": [0.1, 0.8],
         "model_name": "m", "model_version": "3"}
    ).to_csv(output, index=False)  # fmt: skip

    for scored_input in (source, with_null):
        current = current_from_batch(scored_input, output, id_column="id")

        frame = current.frame.sort_values("score").reset_index(drop=True)
        assert frame[["review", "label"]].values.tolist() == [
            ["Awful.", "negative"],
            ["Great film.", "positive"],
        ]


def test_a_batch_join_on_repeated_ids_names_them(tmp_path: Path) -> None:
    source = tmp_path / "reviews.parquet"
    pd.DataFrame({"id": [1, 2, 2, 3, 3, 3], "review": ["a", "b", "c", "d", "e", "f"]}).to_parquet(
        source
    )
    output = tmp_path / "scored.csv"
    pd.DataFrame(
        {"id": ["1", "2", "3"], "label": "positive", "score": 0.7, "model_version": "1"}
    ).to_csv(output, index=False)

    with pytest.raises(DataError, match=r"same 'id' on several rows \('2', '3'\)"):
        current_from_batch(source, output, id_column="id")


def test_labels_spelled_as_data_validation_accepts_them_are_judged(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    from sentimentops.data.load import load_reviews

    window = held_out.sample(300, random_state=3)
    current_file = tmp_path / "current.csv"
    window.assign(sentiment=window["sentiment"].map({"positive": "POS", "negative": "Neg"})).to_csv(
        current_file, index=False
    )
    reference_file = tmp_path / "reference.csv"
    reference = monitored_model.reference
    assert reference is not None
    reference[["review", "sentiment"]].assign(
        sentiment=reference["sentiment"].map({"positive": 1, "negative": 0})
    ).to_csv(reference_file, index=False)

    outcome = run_monitoring(
        current_from_file(current_file),
        monitored_model,
        get_settings(),
        reference=load_reviews(str(reference_file)),
        output_dir=tmp_path / "o",
    )

    assert outcome.metrics.labelled_rows == 300
    assert outcome.metrics.accuracy is not None
    assert outcome.metrics.accuracy > 0.7


def test_missing_and_blank_review_texts_are_left_out_and_counted(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    window = held_out.sample(300, random_state=6).reset_index(drop=True)
    window.loc[:19, "review"] = None  # empty CSV cells, read back as missing
    window.loc[20:24, "review"] = " \t "
    current_file = tmp_path / "current.csv"
    window.to_csv(current_file, index=False)
    assert current_file.read_text().splitlines()[1].startswith(",")  # an empty review cell

    outcome = run_monitoring(
        current_from_file(current_file), monitored_model, get_settings(), output_dir=tmp_path / "o"
    )

    assert outcome.metrics.rows == 275
    assert outcome.metrics.labelled_rows == 275
    note = "25 of 300 current rows without review text (missing or blank) left out"
    assert any(note in n for n in outcome.notes), outcome.notes
    assert any(note in n for n in json.loads(outcome.summary_path.read_text())["notes"])


def test_current_data_whose_texts_are_all_blank_is_refused(
    monitored_model: LoadedModel, tmp_path: Path
) -> None:
    current = CurrentData(pd.DataFrame({"review": [None, "", "  "]}), "blank.csv")

    with pytest.raises(BadInputError, match=r"Every review text in blank\.csv is missing or blank"):
        run_monitoring(current, monitored_model, get_settings(), output_dir=tmp_path)


@pytest.mark.parametrize(("reference_rows", "current_rows"), [(2000, 1), (300, 2)])
def test_too_few_rows_for_the_domain_classifier_skip_text_drift_with_a_note(
    monitored_model: LoadedModel,
    held_out: pd.DataFrame,
    tmp_path: Path,
    reference_rows: int,
    current_rows: int,
) -> None:
    """One current row crashed Evidently's fit; two against 300 gave an undefined AUC."""
    reference = monitored_model.reference
    assert reference is not None
    current = CurrentData(held_out.head(current_rows), "few.csv")

    outcome = run_monitoring(
        current,
        monitored_model,
        get_settings(),
        reference=reference.head(reference_rows),
        output_dir=tmp_path,
    )

    assert outcome.metrics.text_drift is None
    assert len(outcome.metrics.descriptor_drift) == 4  # the other tests still ran
    kinds = {alert.kind for alert in outcome.alerts}
    assert "volume" in kinds
    assert "text_drift" not in kinds
    note = f"text drift not measured: {current_rows} current and {reference_rows:,} reference"
    assert any(note in n for n in outcome.notes), outcome.notes
    assert "text_drift" not in {check.kind for check in outcome.checks}


def test_a_reference_too_small_to_compare_against_is_refused(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    reference = monitored_model.reference
    assert reference is not None
    current = CurrentData(held_out.head(200), "current.csv")

    for rows in (1, MIN_REFERENCE_ROWS - 1):
        needed = rf": {rows}, where at least {MIN_REFERENCE_ROWS} are needed"
        with pytest.raises(BadInputError, match=needed):
            run_monitoring(
                current,
                monitored_model,
                get_settings(),
                reference=reference.head(rows),
                output_dir=tmp_path,
            )
    assert not (tmp_path / "summary.json").exists()


def test_current_reviews_that_are_not_text_are_left_out_and_counted(
    monitored_model: LoadedModel, held_out: pd.DataFrame, tmp_path: Path
) -> None:
    numbers = tmp_path / "numbers.parquet"
    pd.DataFrame({"review": [1, 2, 3], "sentiment": "positive"}).to_parquet(numbers)
    with pytest.raises(BadInputError, match=r"missing or blank, or not text: there is nothing"):
        run_monitoring(
            current_from_file(numbers), monitored_model, get_settings(), output_dir=tmp_path
        )

    mixed = tmp_path / "mixed.jsonl"  # a Parquet column holds one type; JSON Lines may mix
    window = held_out.head(60)
    records = [{"review": 7, "sentiment": "positive"}, {"review": True, "sentiment": "negative"}]
    pd.concat([pd.DataFrame(records), window]).to_json(mixed, orient="records", lines=True)

    outcome = run_monitoring(
        current_from_file(mixed), monitored_model, get_settings(), output_dir=tmp_path / "o"
    )

    assert (outcome.metrics.rows, outcome.metrics.labelled_rows) == (60, 60)
    note = "2 of 62 current rows whose review is not text (a number, say) left out"
    assert any(note in n for n in outcome.notes), outcome.notes
