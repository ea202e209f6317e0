"""The training steps the flow and the ``train`` command share: fingerprints and extra rows."""

from __future__ import annotations

import pandas as pd
import pytest

from sentimentops.config import get_settings
from sentimentops.errors import ConfigError
from sentimentops.models.train import finish_training
from sentimentops.training.data import (
    candidate_fingerprint,
    prepare_training_data,
    store_clean_texts,
    store_splits,
    training_fingerprint,
    with_split_mode,
)
from sentimentops.training.job import search_stored, with_families

DIGESTS = {"train": "a", "validation": "b", "test": "c"}


def test_a_candidate_fingerprint_changes_with_its_own_settings_only() -> None:
    settings = get_settings()
    logreg = candidate_fingerprint(settings, "logreg", DIGESTS)
    nb = candidate_fingerprint(settings, "nb_logreg", DIGESTS)
    candidates = dict(settings.training.candidates)
    candidates["logreg"] = candidates["logreg"].model_copy(update={"grid": {"classifier__C": [9]}})
    changed = settings.model_copy(
        update={"training": settings.training.model_copy(update={"candidates": candidates})}
    )

    assert candidate_fingerprint(changed, "logreg", DIGESTS) != logreg
    assert candidate_fingerprint(changed, "nb_logreg", DIGESTS) == nb
    assert candidate_fingerprint(settings, "logreg", DIGESTS | {"test": "d"}) != logreg


def test_where_training_runs_does_not_change_what_it_trains() -> None:
    settings = get_settings()
    elsewhere = settings.model_copy(
        update={
            "training": settings.training.model_copy(
                update={"n_jobs": 7, "dask_scheduler": "tcp://10.0.0.1:8786"}
            )
        }
    )

    assert training_fingerprint(elsewhere, DIGESTS) == training_fingerprint(settings, DIGESTS)
    assert training_fingerprint(with_families(settings, ["logreg"]), DIGESTS) != (
        training_fingerprint(settings, DIGESTS)
    )


def test_an_unknown_split_mode_is_a_config_error() -> None:
    assert with_split_mode(get_settings(), None) == get_settings()
    with pytest.raises(ConfigError, match="random or official"):
        with_split_mode(get_settings(), "temporal")


def test_extra_labelled_rows_join_the_official_train_side() -> None:
    settings = with_split_mode(get_settings(), "official")
    extra = pd.DataFrame(
        {
            "review": [f"Feedback review number {i}, honestly quite good." for i in range(30)],
            "sentiment": ["positive", "negative"] * 15,
        }
    )

    plain = prepare_training_data(settings)
    with_extra = prepare_training_data(settings, extra=extra)

    assert len(with_extra.splits.test) == len(plain.splits.test)  # the yardstick is unchanged
    train_and_validation = pd.concat([with_extra.splits.train, with_extra.splits.validation])
    assert set(extra["review"]) <= set(train_and_validation["review"])
    assert "30 labelled feedback rows" in with_extra.lineage["source"]
    assert with_extra.lineage["training_fingerprint"] != plain.lineage["training_fingerprint"]


def test_finishing_without_candidates_says_what_to_configure() -> None:
    data = prepare_training_data(get_settings(), sample=500)
    with pytest.raises(ValueError, match="at least one model family"):
        finish_training([], data.splits, get_settings())


def test_rows_left_out_of_training_are_counted_and_quarantined(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = with_split_mode(get_settings(), "official")
    extra = pd.DataFrame(
        {
            "review": ["A review with a label nobody knows.", "<br />", "Fine, really."],
            "sentiment": ["maybe", "positive", "positive"],
        }
    )
    messages: list[str] = []

    with caplog.at_level("WARNING", logger="sentimentops.training.data"):
        prepare_training_data(settings, extra=extra, progress=messages.append)

    quarantine = settings.state_path("quarantine", "imdb_reviews.quarantine.csv")
    rows = pd.read_csv(quarantine)
    assert rows["reason"].tolist() == [
        "unknown label (accepted: positive/negative, pos/neg, 1/0)",
        "text is empty after HTML removal",
    ]
    said = (
        "2 of 50,003 rows failed validation and are left out of training; they and the reasons "
        f"are in {quarantine}"
    )
    assert said in messages
    assert said in caplog.messages


@pytest.mark.parametrize("refit", [True, False])
def test_a_stored_search_keeps_its_fitted_model_only_when_the_choice_is_not_refit(
    refit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refit starts from the parameters: a fitted model stored for nothing was 100 MB of the
    cache per search (the NB trigrams), written each time."""
    monkeypatch.setenv("SENTIMENTOPS_TRAINING__REFIT_ON_VALIDATION", str(refit).lower())
    get_settings.cache_clear()
    settings = get_settings()
    prepared = prepare_training_data(settings, sample=600)
    splits_dir = store_splits(prepared, settings)
    cleaned = store_clean_texts(settings, prepared.splits, splits_dir)

    result = search_stored(settings, "nb_logreg", splits_dir, cleaned, None)

    assert hasattr(result.model.named_steps["tfidf"], "idf_") is not refit
    assert result.model.get_params()["classifier__C"] == result.best_params["classifier__C"]
    assert result.validation["accuracy"] > 0.6  # scored before the fitted model was left out
    finished = finish_training([result], prepared.splits, settings)
    assert finished.test_metrics["accuracy"] > 0.6


def test_a_candidate_fingerprint_says_whether_its_choice_is_refit() -> None:
    settings = get_settings()
    no_refit = settings.model_copy(
        update={"training": settings.training.model_copy(update={"refit_on_validation": False})}
    )

    assert candidate_fingerprint(no_refit, "logreg", DIGESTS) != candidate_fingerprint(
        settings, "logreg", DIGESTS
    )


def test_a_sample_larger_than_the_data_trains_on_all_of_it_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``train --sample 999999999999`` trained on all 50,000 rows (minutes) without a word."""
    messages: list[str] = []

    with caplog.at_level("WARNING", logger="sentimentops.training.data"):
        data = prepare_training_data(get_settings(), sample=10**12, progress=messages.append)

    rows = len(data.splits.train) + len(data.splits.validation) + len(data.splits.test)
    said = f"a sample of 1,000,000,000,000 rows asked for, {rows:,} valid: all are used"
    assert said in messages
    assert said in caplog.messages
