"""Score a linear TF-IDF pipeline in one pass over its n-grams, without scikit-learn's per-call
overhead; the same probabilities to about 1e-6 (docs/decisions.md, "Features and models")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from sentimentops.features.nb import NBLogCountRatio
from sentimentops.features.ngram_index import NgramIndex
from sentimentops.features.text import TextCleaner
from sentimentops.features.vectorizer import CompactTfidfVectorizer

__all__ = ["LinearScorer"]


@dataclass(frozen=True, eq=False)  # eq would compare arrays
class LinearScorer:
    """Probability of one class for cleaned texts, as the fitted linear pipeline computes it:
    ``expit(sign * (b + sum tf * folded_weights / norm(tf * idf)))``."""

    index: NgramIndex
    idf: np.ndarray
    folded_weights: np.ndarray  # idf * r * w per column
    intercept: float
    sublinear_tf: bool
    binary: bool
    norm: str | None
    sign: float  # +1: the probability of classes_[1]; -1: of classes_[0]

    @classmethod
    def of(cls, steps: list[Any], positive: Any) -> LinearScorer | None:
        """The scorer of fitted ``steps`` for class ``positive``; None unless they are a cleaner,
        an indexable TF-IDF, an optional NB weighting and a binary logistic regression."""
        estimators = [estimator for _, estimator in steps]
        if len(estimators) == 4 and type(estimators[2]) is NBLogCountRatio:
            cleaner, vectorizer, nb, classifier = estimators
            ratios = np.asarray(nb.r_, dtype=np.float64)
        elif len(estimators) == 3:
            cleaner, vectorizer, classifier = estimators
            ratios = None
        else:
            return None
        if (
            type(cleaner) is not TextCleaner
            or type(vectorizer) is not CompactTfidfVectorizer
            or type(classifier) is not LogisticRegression
            or len(getattr(classifier, "classes_", ())) != 2
            # scikit-learn < 1.8 scores a binary multinomial model as expit(2z), not expit(z).
            or getattr(classifier, "multi_class", "auto") == "multinomial"
            or sp.issparse(classifier.coef_)  # sparsify()'d: leave it to scikit-learn
        ):
            return None
        # Fixed at fit in the inner TfidfTransformer: a later set_params changes neither it nor us.
        tfidf = vectorizer._tfidf
        index = vectorizer.ngram_index()
        if index is None or tfidf.norm not in ("l2", "l1", None):
            return None
        n_features = index.n_features
        idf = (
            np.asarray(tfidf.idf_, dtype=np.float64)
            if hasattr(tfidf, "idf_")
            else np.ones(n_features)
        )
        weights = np.asarray(classifier.coef_, dtype=np.float64).ravel()
        if weights.shape != (n_features,) or (ratios is not None and ratios.shape != weights.shape):
            return None
        folded = idf * weights if ratios is None else idf * ratios * weights
        classes = list(classifier.classes_)
        return cls(
            index,
            idf=idf,
            folded_weights=folded,
            intercept=float(np.asarray(classifier.intercept_).ravel()[0]),
            sublinear_tf=bool(tfidf.sublinear_tf),
            binary=bool(vectorizer.binary),  # read by transform at each call, not fixed at fit
            norm=tfidf.norm,
            sign=1.0 if classes.index(positive) == 1 else -1.0,
        )

    def scores(self, cleaned_texts: Any) -> np.ndarray:
        """The probability of the positive class per cleaned text (TextCleaner's output)."""
        rows, columns, n_texts = self.index.occurrences(cleaned_texts)
        # One entry per (text, column) pair with its count, as the count matrix would hold.
        pairs, counts = np.unique(rows * self.index.n_features + columns, return_counts=True)
        rows, columns = np.divmod(pairs, self.index.n_features)
        tf = counts.astype(np.float64)
        if self.binary:
            tf.fill(1.0)
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        numerator = np.bincount(rows, weights=tf * self.folded_weights[columns], minlength=n_texts)
        if self.norm is not None:
            weighted = tf * self.idf[columns]
            if self.norm == "l2":
                norms = np.sqrt(np.bincount(rows, weights=weighted**2, minlength=n_texts))
            else:
                norms = np.bincount(rows, weights=np.abs(weighted), minlength=n_texts)
            # A text with no known n-gram has an all-zero row, which normalising leaves as is.
            numerator = np.divide(numerator, norms, out=np.zeros(n_texts), where=norms > 0)
        return np.asarray(expit(self.sign * (numerator + self.intercept)))
