"""Naive Bayes log-count-ratio feature weighting: the feature half of NBSVM.

Wang & Manning (2012), "Baselines and Bigrams: Simple, Good Sentiment and Topic Classification",
scale each feature by how much more often it occurs in positive than in negative documents. A
linear model on the scaled features ("NBSVM", or NB-LR with a logistic regression) beats the same
model on raw TF-IDF on long movie reviews at the cost of one extra pass over the training matrix.
"""

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

# float32 stays float32 (TF-IDF is built in float32 to halve memory); anything else is cast to
# float64, the first entry.
_FLOAT_DTYPES = (np.float64, np.float32)


class NBLogCountRatio(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Scale non-negative features by their Naive Bayes log-count ratio between two classes.

    ``fit`` computes, per feature ``j``::

        p = alpha + sum of rows of X labelled classes_[1]
        q = alpha + sum of rows of X labelled classes_[0]
        r_[j] = log((p[j] / sum(p)) / (q[j] / sum(q)))

    and ``transform`` returns ``X * r_`` column-wise. A feature frequent in the positive class gets
    a large positive weight, one frequent in the negative class a large negative weight, and one
    spread evenly a weight near zero.

    Args:
        alpha: additive (Laplace) smoothing, > 0; keeps features unseen in one class finite.
        binarize: count each feature once per document (``X > 0``) when fitting, as the paper
            does; ``transform`` still scales the original values.

    Attributes:
        classes_: the two labels seen in ``fit``, sorted; ``classes_[1]`` is the positive class.
        r_: the log-count ratio of each feature, shape ``(n_features_in_,)``.
        n_features_in_: the number of features seen in ``fit``.
    """

    def __init__(self, alpha: float = 1.0, binarize: bool = True) -> None:
        self.alpha = alpha
        self.binarize = binarize

    def fit(self, X: Any, y: Any) -> Self:
        """Learn the log-count ratio of each feature.

        Args:
            X: non-negative features, dense or sparse, shape ``(n_samples, n_features)``.
            y: labels with exactly two distinct values, shape ``(n_samples,)``.

        Raises:
            ValueError: ``alpha`` is not > 0, ``X`` holds negative values, NaN or infinity, or
                ``y`` does not hold exactly two classes.
        """
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
        # Sum in float64 whatever the input dtype: counts over 50k documents lose precision in
        # float32 and r_ is one small vector.
        p = self.alpha + _column_sums(present[is_positive])
        q = self.alpha + _column_sums(present[~is_positive])
        self.classes_ = classes
        # Kept in the input's dtype: transform scales in that dtype anyway, and casting a
        # million-entry vector on every call costs a third of a one-review prediction.
        self.r_ = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(X.dtype, copy=False)
        return self

    def transform(self, X: Any) -> Any:
        """Scale each column of ``X`` by ``r_``; sparse CSR stays sparse CSR, dtype is kept.

        Raises:
            ValueError: ``X`` has another number of features than in ``fit``, or holds negative
                values, NaN or infinity.
            sklearn.exceptions.NotFittedError: ``fit`` was not called.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=_FLOAT_DTYPES, reset=False)
        check_non_negative(X, f"{type(self).__name__}.transform (X)")
        r = self.r_.astype(X.dtype, copy=False)
        if sp.issparse(X):
            scaled = X.copy()
            # Scaling the stored values in place avoids building a diagonal matrix product and
            # keeps the exact sparsity structure of the input.
            scaled.data *= r[scaled.indices]
            return scaled
        return X * r

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        tags.target_tags.required = True
        # sklearn spells "binary labels only" as a classifier tag; its estimator checks read it to
        # fit binary-only estimators on two classes. estimator_type stays None: not a classifier.
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
    """Sum the rows of a dense or sparse matrix, as a 1-d float64 vector."""
    return np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()
