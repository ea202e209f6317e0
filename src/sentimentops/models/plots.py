"""Evaluation plots as PNG files: confusion matrix, ROC, precision-recall, calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentimentops.models.sentiment import DECISION_THRESHOLD

__all__ = ["save_evaluation_plots"]


def save_evaluation_plots(y: np.ndarray, scores: np.ndarray, directory: Path) -> dict[str, Path]:
    """Draw the four standard plots of a binary classifier into ``directory``; name -> PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    directory.mkdir(parents=True, exist_ok=True)
    predicted = (scores >= DECISION_THRESHOLD).astype(int)
    drawers = {
        "confusion_matrix": lambda ax: ConfusionMatrixDisplay.from_predictions(
            y, predicted, display_labels=["negative", "positive"], ax=ax, colorbar=False
        ),
        "roc_curve": lambda ax: RocCurveDisplay.from_predictions(y, scores, ax=ax),
        "precision_recall_curve": lambda ax: PrecisionRecallDisplay.from_predictions(
            y, scores, ax=ax
        ),
        "calibration": lambda ax: CalibrationDisplay.from_predictions(y, scores, n_bins=15, ax=ax),
    }
    paths = {}
    for name, draw in drawers.items():
        figure, axes = plt.subplots(figsize=(5, 4.5))
        draw(axes)  # type: ignore[no-untyped-call]
        axes.set_title(name.replace("_", " "))
        figure.tight_layout()
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths[name] = path
    return paths
