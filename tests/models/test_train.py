"""Training: every family builds and trains; results are reproducible; config errors are clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from sentimentops.config import load_settings
from sentimentops.data.split import split_random
from sentimentops.errors import ConfigError
from sentimentops.models.candidates import build_candidate
from sentimentops.models.train import search_family, train_models
from tests.conftest import FAST_TRAINING_CONFIG


@pytest.fixture(scope="module")
def small_splits(reference_reviews: pd.DataFrame) -> object:
    sample = reference_reviews.sample(1500, random_state=1)
    return split_random(sample, seed=5)


def test_training_is_reproducible(small_splits: object) -> None:
    settings = load_settings(FAST_TRAINING_CONFIG)

    first = train_models(small_splits, settings)  # type: ignore[arg-type]
    second = train_models(small_splits, settings)  # type: ignore[arg-type]

    np.testing.assert_array_equal(first.test_scores, second.test_scores)
    assert first.test_metrics == second.test_metrics
    assert [c.family for c in first.candidates] == ["logreg", "nb_logreg"]
    assert first.chosen.family == second.chosen.family
    assert 0.6 < first.test_metrics["accuracy"] <= 1.0


def test_every_family_trains_and_scores(small_splits: object) -> None:
    settings = load_settings(FAST_TRAINING_CONFIG)
    train = small_splits.train  # type: ignore[attr-defined]

    for family in ("logreg", "linear_svm", "random_forest", "nb_logreg"):
        model = build_candidate(family, settings).pipeline  # type: ignore[arg-type]
        model.fit(train["review"].tolist(), train["sentiment"].to_numpy())
        predictions = model.predict_with_scores(["A wonderful film.", "An awful film."])

        assert list(predictions.columns) == ["label", "score"]
        assert predictions["score"].between(0, 1).all()
        assert set(predictions["label"]) <= {"positive", "negative"}


def test_misspelt_grid_parameter_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "training:\n  candidates:\n    logreg:\n      grid:\n        classifier__CC: [1]\n"
    )

    with pytest.raises(ConfigError, match=r"training\.candidates\.logreg"):
        build_candidate("logreg", load_settings(config))


def test_search_runs_on_a_dask_cluster(small_splits: object, tmp_path: Path) -> None:
    from distributed import LocalCluster

    config = tmp_path / "dask.yaml"
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0"
    ) as cluster:
        content = yaml.safe_load(FAST_TRAINING_CONFIG.read_text())
        content["training"]["dask_scheduler"] = cluster.scheduler_address
        config.write_text(yaml.safe_dump(content))
        settings = load_settings(config)
        assert settings.training.dask_scheduler == cluster.scheduler_address
        train = small_splits.train  # type: ignore[attr-defined]
        model, params, table, _ = search_family("nb_logreg", train, settings)
        local_model, local_params, _, _ = search_family(
            "nb_logreg", train, load_settings(FAST_TRAINING_CONFIG)
        )

    assert params == local_params
    assert len(table) == 2  # both grid points were fitted
    texts = ["A wonderful film.", "A dreadful film."]
    np.testing.assert_allclose(model.positive_scores(texts), local_model.positive_scores(texts))


def test_families_with_the_same_features_featurise_each_fold_once(
    small_splits: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """logreg and linear_svm share their TF-IDF settings: with one cache folder, the second
    search fits no vectorizer at all, and each grid point reuses the fold's features."""
    from sentimentops.features.vectorizer import CompactTfidfVectorizer

    fits: list[int] = []
    real = CompactTfidfVectorizer._count_vocab

    def counted(self: CompactTfidfVectorizer, documents: Any, fixed_vocab: bool) -> Any:
        if not fixed_vocab:
            fits.append(1)
        return real(self, documents, fixed_vocab)

    monkeypatch.setattr(CompactTfidfVectorizer, "_count_vocab", counted)
    settings = load_settings(FAST_TRAINING_CONFIG)
    shared = {"tfidf": {"ngram_range": [1, 2], "min_df": 2}}
    candidates = {
        "logreg": {"features": shared, "grid": {"classifier__C": [1.0, 4.0]}},
        "linear_svm": {"features": shared, "grid": {"classifier__estimator__C": [0.5, 1.0]}},
    }
    settings = settings.model_copy(
        update={
            "training": settings.training.model_copy(
                update={
                    "n_jobs": 1,
                    "candidates": {
                        family: type(settings.training.candidates["logreg"]).model_validate(value)
                        for family, value in candidates.items()
                    },
                }
            )
        }
    )
    train = small_splits.train  # type: ignore[attr-defined]
    folds = settings.training.cv_folds

    search_family("logreg", train, settings, cache_dir=str(tmp_path))
    assert len(fits) == folds + 1  # each fold once for both C values, then the refit on train

    search_family("linear_svm", train, settings, cache_dir=str(tmp_path))
    assert len(fits) == folds + 1  # every fit came from the cache
