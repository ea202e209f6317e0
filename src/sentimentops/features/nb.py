"""Naive Bayes log-count-ratio weighting, the feature half of NBSVM (Wang & Manning, 2012): a
linear model on the scaled features beats raw TF-IDF on long reviews for one extra pass."""

from __future__ import annotations

from numbers import Real
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import ClassifierTags, Tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

__all__ = ["NBLogCountRatio"]

# float32 TF-IDF stays float32; anything else becomes float64, the first entry.
_FLOAT_DTYPES = (np.float64, np.float32)


class NBLogCountRatio(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Scale non-negative features by ``r_[j] = log((p[j] / sum(p)) / (q[j] / sum(q)))``, where
    ``p``/``q`` are ``alpha`` plus the column sums of the rows of ``classes_[1]``/``classes_[0]``
    (each feature counted once per row with ``binarize``, as the paper does). ``alpha`` > 0
    keeps features unseen in one class finite."""

    def __init__(self, alpha: float = 1.0, binarize: bool = True) -> None:
        self.alpha = alpha
        self.binarize = binarize

    def fit(self, X: Any, y: Any) -> Self:
        """Learn ``r_`` from non-negative ``X`` (dense or sparse) and two-class labels ``y``;
        ValueError for a bad ``alpha``, negative or infinite ``X``, or not two classes."""
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_FLOAT_DTYPES)
        check_non_negative(X, f"{type(self).__name__}.fit (X)")
        check_classification_targets(y)
        classes = np.unique(y)
        n_classes = classes.shape[0]
        if n_classes != 2:
            raise ValueError(
                f"{type(self).__name__} needs labels of exactly two classes, got {n_classes} "
                f"class{'' if n_classes == 1 else 'es'}: {classes.tolist()[:10]}. "
                "Fit it on binary labels."
            )
        present = X > 0 if self.binarize else X
        is_positive = y == classes[1]
        # Sums in float64: counts over 50k documents lose precision in float32.
        p = self.alpha + _column_sums(present[is_positive])
        q = self.alpha + _column_sums(present[~is_positive])
        self.classes_ = classes
        # In the input's dtype: casting it on every transform costs a third of one prediction.
        self.r_ = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(X.dtype, copy=False)
        return self

    def transform(self, X: Any) -> Any:
        """``X`` with each column scaled by ``r_`` (CSR stays CSR, the dtype is kept);
        NotFittedError before ``fit``, ValueError for other features or bad values."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=_FLOAT_DTYPES, reset=False)
        check_non_negative(X, f"{type(self).__name__}.transform (X)")
        r = self.r_.astype(X.dtype, copy=False)
        if sp.issparse(X):
            scaled = X.copy()  # stored values scaled in place: the input's exact sparsity
            scaled.data *= r[scaled.indices]
            return scaled
        return X * r

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = True
        # "Binary labels only", as sklearn's checks read it; estimator_type stays None.
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_params(self) -> None:
        # bool is a Real in Python; True as alpha is a caller's mistake, not a smoothing of 1.
        if (
            not isinstance(self.alpha, Real)
            or isinstance(self.alpha, bool)
            or not np.isfinite(self.alpha)
            or self.alpha <= 0
        ):
            raise ValueError(
                f"{type(self).__name__}: alpha must be a finite number > 0, got {self.alpha!r}."
            )


def _column_sums(X: Any) -> npt.NDArray[np.float64]:
    return np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
