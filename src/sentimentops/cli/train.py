"""``sentimentops train``: search, evaluate, track, register and gate the candidate models."""

from __future__ import annotations

from typing import get_args

import typer

from sentimentops.cli.output import console
from sentimentops.config import ModelFamily, get_settings

__all__ = ["parse_families", "train_command"]

FAMILIES: dict[str, ModelFamily] = {family: family for family in get_args(ModelFamily)}


def parse_families(models: str | None) -> list[ModelFamily] | None:
    """``logreg,nb_logreg`` as a list of families (None: all configured); ConfigError for an
    unknown family."""
    from sentimentops.errors import ConfigError

    if models is None:
        return None
    names = [name.strip() for name in models.split(",") if name.strip()]
    if not names:  # an empty shell variable: never read as "all", minutes of training
        raise ConfigError(f"--models names no family; choose from {', '.join(FAMILIES)}.")
    if unknown := sorted(set(names) - set(FAMILIES)):
        raise ConfigError(f"--models: unknown {unknown}; choose from {', '.join(FAMILIES)}.")
    return [FAMILIES[name] for name in names]


def train_command(
    data: str | None = typer.Option(
        None, "--data", help="Dataset to train on (default: the vendored IMDB data)."
    ),
    split: str | None = typer.Option(
        None, "--split", help="random (70/10/20 by movie) or official (the 25k/25k split)."
    ),
    sample: int | None = typer.Option(
        None, "--sample", min=100, help="Train on a stratified sample of N rows (quick runs)."
    ),
    models: str | None = typer.Option(
        None, "--models", help=f"Comma-separated families: {','.join(FAMILIES)}."
    ),
) -> None:
    """Train the candidates, pick the best on validation, evaluate once on test, log it all to
    MLflow, register the model as challenger and promote it to champion only through the gate.
    """
    from rich.table import Table

    from sentimentops.tracking.store import mlflow_ui_command
    from sentimentops.training.data import with_split_mode
    from sentimentops.training.job import run_training

    settings = with_split_mode(get_settings(), split)
    families = parse_families(models)
    with console.status("Training") as status:
        outcome = run_training(
            settings,
            data=data,
            sample=sample,
            models=families,
            progress=lambda message: status.update(f"Training: {message}"),
        )
    result, tracked = outcome.training, outcome.tracked

    table = Table(title="Candidates", title_justify="left")
    for column in ("family", "CV accuracy", "val acc", "val F1", "test acc", "test AUC", "fit s"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for candidate in result.candidates:
        table.add_row(
            candidate.family + (" *" if candidate is result.chosen else ""),
            f"{candidate.cv_mean:.4f}±{candidate.cv_std:.4f}",
            f"{candidate.validation['accuracy']:.4f}",
            f"{candidate.validation['f1']:.4f}",
            f"{candidate.test['accuracy']:.4f}",
            f"{candidate.test['roc_auc']:.4f}",
            f"{candidate.fit_seconds:.1f}",
        )
    console.print(table)
    metrics = result.test_metrics
    console.print(
        f"Final model ({result.chosen.family}, refit on train+validation: "
        f"{settings.training.refit_on_validation}): test accuracy {metrics['accuracy']:.4f} "
        f"[95% CI {metrics['accuracy_ci_low']:.4f}-{metrics['accuracy_ci_high']:.4f}], "
        f"F1 {metrics['f1']:.4f}, ROC AUC {metrics['roc_auc']:.4f}"
    )
    verdict = "promoted to champion" if tracked.decision.promote else "champion kept"
    console.print(
        f"Registered {tracked.model_name} version {tracked.version} as challenger; "
        f"{verdict}: {tracked.decision.reason}. Champion is version {tracked.champion}."
    )
    if rows := tracked.decision.rows_summary():
        console.print(rows)
    console.print(f"MLflow run {tracked.run_id} in {outcome.tracking_uri}")
    console.print(f"Browse: {mlflow_ui_command(outcome.tracking_uri)}", soft_wrap=True)
