"""The online gate's decisions acted on: read the log window, move the registry's aliases, and
tell the webhook why."""

from __future__ import annotations

import logging
from datetime import datetime

from sentimentops.config import Settings
from sentimentops.errors import BadInputError, ModelNotFoundError
from sentimentops.monitoring.compare import OnlineComparison, compare_online
from sentimentops.monitoring.delivery import send_notification, webhook_of
from sentimentops.monitoring.online_gate import (
    OnlineDecision,
    decide_online_promotion,
    decide_rollback,
)
from sentimentops.prediction_log import open_store
from sentimentops.tracking import registry
from sentimentops.tracking.store import connect_registry

__all__ = ["compare_from_log", "pending_challenger", "promote_online", "rollback_if_worse"]

log = logging.getLogger(__name__)


def compare_from_log(
    settings: Settings,
    since: datetime,
    until: datetime,
    *,
    champion: str | None = None,
    challenger: str | None = None,
) -> OnlineComparison:
    """:func:`compare_online` on the prediction log's window ``[since, until)``.

    Raises:
        BadInputError: the window has no traffic of one of the versions.
        PredictionLogUnavailableError: the log's database cannot be read.
    """
    store = open_store(settings)
    try:
        window = store.read_window(since, until)
    finally:
        store.dispose()
    return compare_online(
        window,
        champion=champion,
        challenger=challenger,
        confidence_level=settings.monitoring.confidence_level,
        since=since.isoformat(timespec="seconds"),
        until=until.isoformat(timespec="seconds"),
    )


def pending_challenger(settings: Settings) -> str | None:
    """The challenger's version when it is not the champion (a model on trial), else None."""
    connect_registry(settings)
    name = settings.registry.model_name
    challenger = registry.challenger_version(name)
    return challenger if challenger != registry.champion_version(name) else None


def promote_online(settings: Settings, since: datetime, until: datetime) -> OnlineDecision:
    """Promote the challenger to champion when the log window shows it is not worse.

    Raises:
        ModelNotFoundError: no challenger is registered (:func:`pending_challenger` asks).
        TrackingUnavailableError, PredictionLogUnavailableError: a store does not answer.
    """
    connect_registry(settings)
    name = settings.registry.model_name
    try:
        challenger = registry.lookup_version(name, registry.CHALLENGER)
    except ModelNotFoundError:
        raise ModelNotFoundError(
            f"{name} has no challenger to judge on live traffic. Train with "
            "registry.promotion: online (SENTIMENTOPS_REGISTRY__PROMOTION=online), which leaves "
            "a new version as challenger, then serve it in shadow (serving.shadow_share)."
        ) from None
    champion = registry.champion_version(name)
    if champion is None:
        decision = OnlineDecision(True, f"no champion yet: version {challenger} becomes one")
    elif champion == challenger:
        return OnlineDecision(False, f"version {challenger} is the champion already")
    else:
        try:
            comparison = compare_from_log(
                settings, since, until, champion=champion, challenger=challenger
            )
        except BadInputError as error:
            return OnlineDecision(False, f"no online evidence yet: {error}", waiting=True)
        decision = decide_online_promotion(
            comparison,
            significance_level=settings.registry.significance_level,
            tolerance=settings.registry.online_tolerance,
            min_labelled=settings.registry.online_min_labelled,
        )
    if decision.act:
        registry.promote(name, challenger)
        message = f"{name} version {challenger} promoted: {decision.reason}"
        _notify(settings, "promotion", message, decision)
    return decision


def rollback_if_worse(
    settings: Settings, model_version: str, alerts: list[str], since: datetime, until: datetime
) -> OnlineDecision | None:
    """After an accuracy alert on champion ``model_version``, roll the alias back if the previous
    champion did better; None when there is nothing to decide."""
    if not {"accuracy", "estimated_accuracy"} & set(alerts):
        return None
    connect_registry(settings)
    name = settings.registry.model_name
    previous = registry.previous_champion(name)
    if previous is None or registry.champion_version(name) != model_version:
        return None
    try:
        comparison = compare_from_log(
            settings, since, until, champion=model_version, challenger=previous
        )
    except BadInputError as error:
        decision = OnlineDecision(False, f"no evidence on the previous champion: {error}")
    else:
        decision = decide_rollback(
            comparison,
            significance_level=settings.registry.significance_level,
            min_labelled=settings.monitoring.alerts.min_labelled_rows,
        )
    if not decision.act:
        log.info("champion %s kept after its alert: %s", model_version, decision.reason)
        return decision
    back = registry.rollback(name)
    withdrawn = registry.withdraw_challenger(name, model_version)
    message = (
        f"{name} champion rolled back from version {model_version} to version {back} after "
        f"the alert(s) {', '.join(sorted(alerts))}: {decision.reason}"
        + (f"; version {model_version} is no longer the challenger" if withdrawn else "")
    )
    _notify(settings, "rollback", message, decision)
    return decision


def _notify(settings: Settings, event: str, message: str, decision: OnlineDecision) -> None:
    details = {"decision": decision.to_dict()}
    for problem in send_notification(event, message, details, **webhook_of(settings.monitoring)):
        log.warning(problem)
