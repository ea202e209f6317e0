"""The model card: what the model is for, what it was trained on, how good it is, its limits."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from sentimentops.models.gate import GateDecision
from sentimentops.models.train import TrainingResult

__all__ = ["CONFIG_HEADING", "render_model_card", "summary_of"]

# The last section of a card: the whole configuration as JSON, some 250 lines.
CONFIG_HEADING = "## Training configuration"


def render_model_card(
    result: TrainingResult,
    *,
    model_name: str,
    version: str,
    decision: GateDecision,
    lineage: dict[str, Any],
    length_slices: pd.DataFrame,
    config: dict[str, Any],
) -> str:
    """Markdown for humans, logged with the model and printed by ``sentimentops models show``."""
    metrics = result.test_metrics
    chosen = result.chosen
    lines = [
        f"# Model card: {model_name} version {version}",
        "",
        "## Intended use",
        "Classifies the sentiment (positive/negative) of English movie reviews of a paragraph or "
        "more, such as IMDB user reviews. Outputs a label and the probability of positive.",
        "",
        "## Model",
        f"- family: `{chosen.family}`; hyperparameters: `{chosen.best_params}`",
        "- one scikit-learn pipeline from raw text: HTML removal, unicode normalisation, "
        "tokenisation, TF-IDF n-grams"
        + (", Naive-Bayes log-count-ratio weighting" if "nb" in result.model.named_steps else "")
        + ", classifier",
        "- selected on validation accuracy among: "
        + ", ".join(f"`{c.family}`" for c in result.candidates),
        "",
        "## Data",
        f"- source: `{lineage.get('source')}` (digest `{str(lineage.get('source_digest'))[:12]}`)",
        f"- split: {result.splits.mode}, seed {result.splits.seed}; rows: "
        + ", ".join(f"{name} {len(frame):,}" for name, frame in result.splits.frames().items()),
        "- split digests: "
        + ", ".join(f"{k} `{v[:12]}`" for k, v in lineage.get("split_digests", {}).items()),
        "",
        "## Test metrics (95% interval for accuracy, Wilson)",
        f"- accuracy: {metrics['accuracy']:.4f} "
        f"[{metrics['accuracy_ci_low']:.4f}, {metrics['accuracy_ci_high']:.4f}] "
        f"on {int(metrics['n']):,} reviews",
        f"- F1 {metrics['f1']:.4f}, ROC AUC {metrics['roc_auc']:.4f}, log loss "
        f"{metrics['log_loss']:.4f}, Brier {metrics['brier']:.4f}, ECE {metrics['ece']:.4f}",
        f"- scoring time: {result.predict_seconds_per_1k:.3f} s per 1,000 reviews",
        "",
        "## Slices by review length (words)",
        "| words | n | accuracy | F1 |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {row.words} | {row.n:,} | {row.accuracy:.4f} | {row.f1:.4f} |"
            for row in length_slices.itertuples()
        ),
        "",
        "## Promotion",
        f"- {'promoted to champion' if decision.promote else 'not promoted'}: {decision.reason}",
        *([f"- {rows}"] if (rows := decision.rows_summary()) else []),
        "",
        "## Limitations",
        "- Trained on English movie reviews; other domains (products, tweets), other languages, "
        "sarcasm and very short texts degrade accuracy, and the probabilities lose calibration.",
        '- Bag-of-n-grams: long-range negation and contrast ("not bad at all", "I wanted to '
        'love it, but") are only partly captured.',
        "- Labels come from star ratings (<= 4 negative, >= 7 positive): neutral reviews were "
        "never seen and get an arbitrary side.",
        "",
        CONFIG_HEADING,
        "```json",
        json.dumps(config, indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


def summary_of(card: str) -> str:
    """The card without its training configuration: what a person reads first."""
    return card.split(CONFIG_HEADING)[0].rstrip()
