"""Tests of the Naive Bayes log-count-ratio feature weighting (NBSVM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sentimentops.features.nb import NBLogCountRatio

# Four documents over three features; documents 0 and 2 are positive (label 1).
X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
Y = np.array([1, 0, 1, 0])


@parametrize_with_checks([NBLogCountRatio(), NBLogCountRatio(alpha=0.5, binarize=False)])
def test_nb_log_count_ratio_passes_sklearn_estimator_checks(
    estimator: BaseEstimator,
    check: Callable[[BaseEstimator], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set. It only runs the estimator
    # on NumPy arrays with array-API dispatch enabled, which needs no scipy array-API mode, so
    # setting the variable for that check's duration lets it run instead of being skipped.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def test_log_count_ratio_matches_hand_computation_with_binarized_counts() -> None:
    # Binarized positive rows [1,0,1] + [1,0,0] = [2,0,1]; p = 1 + that = [3,1,2], sums to 6.
    # Negative rows [0,1,0] + [0,1,1] = [0,2,1]; q = [1,3,2], sums to 6.
    # r = log((p/6) / (q/6)) = [log 3, log 1/3, log 1].
    nb = NBLogCountRatio(alpha=1.0, binarize=True).fit(X, Y)

    np.testing.assert_allclose(nb.r_, [np.log(3.0), -np.log(3.0), 0.0], atol=1e-12)
    np.testing.assert_array_equal(nb.classes_, [0, 1])


def test_log_count_ratio_matches_hand_computation_with_raw_counts() -> None:
    # Raw positive sums [4,0,2]; p = [5,1,3], sums to 9. Raw negative sums [0,3,1]; q = [1,4,2],
    # sums to 7. r = log((p/9) / (q/7)).
    nb = NBLogCountRatio(alpha=1.0, binarize=False).fit(X, Y)

    np.testing.assert_allclose(nb.r_, np.log([35 / 9, 7 / 36, 21 / 18]), atol=1e-12)


def test_alpha_smooths_towards_zero_weights() -> None:
    weak = NBLogCountRatio(alpha=1.0).fit(X, Y).r_
    strong = NBLogCountRatio(alpha=1000.0).fit(X, Y).r_

    assert np.all(np.abs(strong) <= np.abs(weak))
    np.testing.assert_allclose(strong, 0.0, atol=1e-2)


def test_transform_scales_each_column_by_its_ratio() -> None:
    nb = NBLogCountRatio().fit(X, Y)

    np.testing.assert_allclose(nb.transform(X), X * nb.r_)


@pytest.mark.parametrize("sparse_container", [sp.csr_matrix, sp.csr_array, sp.csc_matrix])
def test_sparse_input_gives_sparse_csr_output_with_the_same_structure(
    sparse_container: Callable[[Any], Any],
) -> None:
    X_sparse = sparse_container(X.astype(np.float32))
    nb = NBLogCountRatio().fit(X_sparse, Y)

    scaled = nb.transform(X_sparse)

    assert sp.issparse(scaled)
    assert scaled.format == "csr"
    assert scaled.dtype == np.float32
    assert scaled.nnz == X_sparse.nnz
    np.testing.assert_allclose(scaled.toarray(), X * nb.r_, rtol=1e-6)
    # The input is left untouched.
    np.testing.assert_array_equal(X_sparse.toarray(), X)


def test_sparse_and_dense_fits_agree() -> None:
    dense = NBLogCountRatio().fit(X, Y)
    sparse = NBLogCountRatio().fit(sp.csr_matrix(X), Y)

    np.testing.assert_allclose(sparse.r_, dense.r_)


def test_any_two_label_values_work_and_the_second_sorted_is_positive() -> None:
    labels = np.where(Y == 1, "positive", "negative")

    by_name = NBLogCountRatio().fit(X, labels)

    assert by_name.classes_.tolist() == ["negative", "positive"]
    np.testing.assert_allclose(by_name.r_, NBLogCountRatio().fit(X, Y).r_)


def test_features_of_the_positive_class_get_positive_weights() -> None:
    nb = NBLogCountRatio().fit(X, Y)

    assert nb.r_[0] > 0  # only in positive documents
    assert nb.r_[1] < 0  # only in negative documents


@pytest.mark.parametrize(
    ("labels", "count"),
    [([0, 1, 2, 0], "3 classes"), ([1, 1, 1, 1], "1 class")],
)
def test_fit_rejects_labels_that_are_not_binary(labels: list[int], count: str) -> None:
    with pytest.raises(ValueError, match=f"exactly two classes, got {count}"):
        NBLogCountRatio().fit(X, labels)


def test_fit_and_transform_reject_negative_values() -> None:
    negative = X.copy()
    negative[0, 0] = -1.0

    with pytest.raises(ValueError, match="Negative values"):
        NBLogCountRatio().fit(negative, Y)
    with pytest.raises(ValueError, match="Negative values"):
        NBLogCountRatio().fit(X, Y).transform(negative)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_fit_rejects_an_invalid_alpha(alpha: Any) -> None:
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        NBLogCountRatio(alpha=alpha).fit(X, Y)


def test_transform_needs_fit_and_the_same_number_of_features() -> None:
    with pytest.raises(NotFittedError):
        NBLogCountRatio().transform(X)
    with pytest.raises(ValueError, match="features"):
        NBLogCountRatio().fit(X, Y).transform(X[:, :2])


def test_feature_names_pass_through() -> None:
    nb = NBLogCountRatio().fit(X, Y)

    assert nb.get_feature_names_out(["a", "b", "c"]).tolist() == ["a", "b", "c"]
