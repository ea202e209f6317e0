"""The model registry by alias: load the champion, promote, roll back, list versions. The
champion's versions, oldest first, are a registered-model tag that ``rollback`` walks back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentimentops.errors import ModelNotFoundError, TrackingUnavailableError

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ModelVersionInfo",
    "challenger_version",
    "champion_version",
    "find_version",
    "list_versions",
    "lookup_version",
    "model_files",
    "previous_champion",
    "promote",
    "resolve_version",
    "rollback",
    "set_challenger",
    "version_info",
    "withdraw_challenger",
]

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version: its aliases, run, creation time (ms), tags and test metrics."""

    version: str
    aliases: list[str]
    run_id: str
    created: int
    tags: dict[str, str]
    metrics: dict[str, float]


def model_files(uri: str) -> str:
    """The local folder of the files of ``models:/name/version`` (downloaded when remote);
    ModelNotFoundError when there are none, TrackingUnavailableError when the registry fails."""
    import mlflow

    try:
        return str(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except mlflow.exceptions.MlflowException as error:
        _raise_if_unavailable(uri, error)
        raise ModelNotFoundError(f"No model at {uri}: {error}") from None


def resolve_version(uri: str) -> tuple[str, str]:
    """Name and version behind ``models:/name@alias`` or ``models:/name/version``; raises
    ModelNotFoundError if there is none, TrackingUnavailableError if the registry fails."""
    import mlflow

    reference = uri.removeprefix("models:/")
    try:
        if "@" in reference:
            name, alias = reference.split("@", 1)
            found = _client().get_model_version_by_alias(name, alias)
        else:
            name, version = reference.rsplit("/", 1)
            found = _client().get_model_version(name, version)
    except (ValueError, mlflow.exceptions.MlflowException) as error:
        if isinstance(error, mlflow.exceptions.MlflowException):
            _raise_if_unavailable(uri, error)
        raise ModelNotFoundError(_no_model(uri, error)) from None
    return str(found.name), str(found.version)


def _no_model(uri: str, error: Exception) -> str:
    """What to do when nothing is at ``uri``; a missing challenger is no matter of --model (the
    serving and rollout settings name it), but of training one."""
    if uri.endswith(f"@{CHALLENGER}"):
        return (
            f"No challenger at {uri} ({error}): no version holds the alias {CHALLENGER!r}. "
            "`sentimentops train` registers each new version as the challenger (with "
            "registry.promotion: online, one within registry.tolerance of the champion on the "
            "test split); `sentimentops models list` shows the aliases there are."
        )
    return (
        f"No model at {uri} ({error}). Train one with `sentimentops train`, or pass a local "
        "model folder with --model."
    )


def _raise_if_unavailable(uri: str, error: Any) -> None:
    """Raise TrackingUnavailableError when the MlflowException ``error`` means the registry did
    not answer (HTTP 5xx, refused, timeout): "train one" would send the user the wrong way."""
    if error.get_http_status_code() < 500:
        return
    raise TrackingUnavailableError(
        f"The model registry did not answer for {uri} ({error}). Check that the MLflow "
        "tracking server (MLFLOW_TRACKING_URI) is running and reachable; the model may well "
        "exist."
    ) from None


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def champion_version(name: str) -> str | None:
    """The version the champion alias points at, or None when there is no champion."""
    return _alias_version(name, CHAMPION)


def challenger_version(name: str) -> str | None:
    """The version the challenger alias points at, or None when there is no challenger."""
    return _alias_version(name, CHALLENGER)


def _alias_version(name: str, alias: str) -> str | None:
    import mlflow

    try:
        return str(_client().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def previous_champion(name: str) -> str | None:
    """The champion before the current one (where ``rollback`` would go), or None."""
    import mlflow

    try:
        history = _history(name)
    except mlflow.exceptions.MlflowException:
        return None
    return history[-2] if len(history) >= 2 else None


def set_challenger(name: str, version: str) -> None:
    """Point the ``challenger`` alias of ``name`` at ``version``."""
    _client().set_registered_model_alias(name, CHALLENGER, version)


def withdraw_challenger(name: str, version: str) -> bool:
    """Remove the challenger alias when it names ``version`` (a version rolled back must not
    come back through the canary or a later online promotion); whether it did."""
    if challenger_version(name) != version:
        return False
    _client().delete_registered_model_alias(name, CHALLENGER)
    return True


def lookup_version(name: str, version_or_alias: str) -> str:
    """The version ``version_or_alias`` (``2``, ``challenger``) names among those of ``name``;
    ModelNotFoundError, listing those there are, if none."""
    import mlflow

    client = _client()
    try:
        model = client.get_registered_model(name)
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    except mlflow.exceptions.MlflowException as error:
        _raise_if_unavailable(f"models:/{name}", error)
        raise ModelNotFoundError(
            f"No registered model {name!r} yet. Train one first: sentimentops train"
        ) from None
    aliases = {str(alias): str(version) for alias, version in (model.aliases or {}).items()}
    wanted = version_or_alias.strip()
    if wanted in aliases:
        return aliases[wanted]
    if wanted.isdigit() and int(wanted) in versions:
        return str(int(wanted))
    kind = "version" if wanted.isdigit() else "version or alias"
    named = ", ".join(f"{alias} ({version})" for alias, version in sorted(aliases.items()))
    raise ModelNotFoundError(
        f"{name} has no {kind} {wanted!r}. It has versions "
        + ", ".join(map(str, versions))
        + (f" and aliases {named}" if named else "")
        + "; `sentimentops models list` shows them."
    )


def promote(name: str, version_or_alias: str) -> str:
    """Point ``champion`` at a version (or an alias's) and remember it for rollback; returns it.
    ModelNotFoundError when there is no such version or alias."""
    version = lookup_version(name, version_or_alias)
    history = _history(name)
    if not history or history[-1] != version:
        history.append(version)
    _crown(name, history)
    return version


def rollback(name: str) -> str:
    """Move ``champion`` back to the previous one and return it; ModelNotFoundError if none."""
    history = _history(name)
    if len(history) < 2:
        raise ModelNotFoundError(
            f"{name} has no previous champion to roll back to (history: {history or 'empty'})."
        )
    history.pop()
    _crown(name, history)
    return history[-1]


def list_versions(name: str) -> list[ModelVersionInfo]:
    """Every version of the registered model, newest first, with aliases and test metrics."""
    import mlflow

    client = _client()
    try:
        model = client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        raise ModelNotFoundError(
            f"No registered model {name!r}. Train one first: sentimentops train"
        ) from None
    infos = [
        _version_info(client, version, model)
        for version in client.search_model_versions(f"name = '{name}'")
    ]
    return sorted(infos, key=lambda info: int(info.version), reverse=True)


def find_version(name: str, tag: str, value: str) -> str | None:
    """The newest version of ``name`` whose ``tag`` equals ``value``; None if none (or no model).
    Filtered here: not every MLflow backend filters model versions by tag."""
    import mlflow

    try:
        versions = _client().search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return None
    matching = [int(v.version) for v in versions if (v.tags or {}).get(tag) == value]
    return str(max(matching)) if matching else None


def version_info(name: str, version: str) -> ModelVersionInfo:
    """One version with its aliases, tags (data digest, family) and test metrics."""
    import mlflow

    client = _client()
    try:
        model = client.get_registered_model(name)
        model_version = client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException as error:
        raise ModelNotFoundError(f"No version {version} of {name!r} ({error}).") from None
    return _version_info(client, model_version, model)


def _version_info(client: Any, version: Any, model: Any) -> ModelVersionInfo:
    """``version`` of the registered ``model``, with the aliases that point at it."""
    run = client.get_run(version.run_id)
    aliases = [a for a, v in (model.aliases or {}).items() if str(v) == str(version.version)]
    return ModelVersionInfo(
        version=str(version.version),
        aliases=sorted(aliases),
        run_id=version.run_id,
        created=int(version.creation_timestamp),
        tags=dict(version.tags or {}),
        metrics={k: v for k, v in run.data.metrics.items() if k.startswith("test_")},
    )


def _history(name: str) -> list[str]:
    tags = _client().get_registered_model(name).tags or {}
    return [v for v in tags.get(HISTORY_TAG, "").split(",") if v]


def _crown(name: str, history: list[str]) -> None:
    """Point ``champion`` at the last of ``history`` and record the history for rollback."""
    client = _client()
    client.set_registered_model_alias(name, CHAMPION, history[-1])
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
