"""Two model versions compared on a prediction log window: agreement, accuracy (paired McNemar
where both scored a request), score drift and latency. Pure functions of the window."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, norm

from sentimentops.errors import BadInputError
from sentimentops.models.evaluate import accuracy_interval, mcnemar_test

__all__ = [
    "ANSWER_ROLES",
    "CHALLENGER_ROLES",
    "OnlineComparison",
    "VersionEvidence",
    "answered_rows",
    "compare_online",
    "paired_difference_interval",
]

# Rows whose prediction was the answer a client received; a shadow row was scored, not sent.
ANSWER_ROLES: Final = ("champion", "canary")
# Rows of the model being tried out: answering a share (canary) or scoring beside (shadow).
CHALLENGER_ROLES: Final = ("shadow", "canary")


@dataclass(frozen=True)
class VersionEvidence:
    """One version's traffic in the window: requests it scored (answered or in shadow), those
    with feedback and its accuracy on them (Wilson interval), latency percentiles in ms."""

    version: str
    requests: int
    answered: int
    shadow: int
    labelled: int
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None


@dataclass(frozen=True)
class OnlineComparison:
    """A challenger against the champion on one log window. ``paired*`` fields count requests
    both scored (accuracies, McNemar, difference challenger minus champion with its interval);
    ``score_drift`` is the K-S statistic on paired rows, else all rows (``score_drift_rows``)."""

    since: str
    until: str
    champion: VersionEvidence
    challenger: VersionEvidence
    paired: int
    agreement: float | None
    paired_labelled: int
    champion_paired_accuracy: float | None
    challenger_paired_accuracy: float | None
    only_challenger_right: int
    only_champion_right: int
    p_value: float | None
    difference: float | None
    difference_low: float | None
    difference_high: float | None
    confidence_level: float
    score_drift: float | None
    score_drift_p_value: float | None
    score_drift_rows: str

    def to_dict(self) -> dict[str, Any]:
        """Every number, JSON-ready (None where it could not be measured)."""
        return asdict(self)


def answered_rows(window: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``window`` whose prediction a client received (champion and canary roles)."""
    if "role" not in window.columns:
        return window
    return window[window["role"].isin(ANSWER_ROLES)].reset_index(drop=True)


def compare_online(
    window: pd.DataFrame,
    *,
    champion: str | None = None,
    challenger: str | None = None,
    confidence_level: float = 0.95,
    since: str = "",
    until: str = "",
) -> OnlineComparison:
    """Compare ``challenger`` with ``champion`` on the log ``window``; by default the versions
    of its latest champion row and latest shadow or canary row.

    Raises:
        BadInputError: the window has no row of one of the two versions (or none to name them).
    """
    window = window.assign(model_version=window["model_version"].astype(str))
    champion = champion or _latest_version(window, ("champion",), "champion")
    challenger = challenger or _latest_version(window, CHALLENGER_ROLES, "challenger")
    if champion == challenger:
        raise BadInputError(
            f"The champion and the challenger are the same version ({champion}): there is "
            "nothing to compare. Register a new version as challenger (sentimentops train)."
        )
    mine = {
        version: window[window["model_version"] == version] for version in (champion, challenger)
    }
    for version, rows in mine.items():
        if rows.empty:
            raise BadInputError(
                f"The prediction log window {since}..{until} holds no prediction of version "
                f"{version}: widen --since, or set serving.shadow_share or serving.canary_share "
                "so the challenger scores live traffic."
            )
    # A replayed log might hold a version's answer and shadow of one request: the answer counts.
    old, new = _one_per_request(mine[champion]), _one_per_request(mine[challenger])
    # A pair needs the same text too: a client may reuse an X-Request-ID for another review.
    keys = ["request_id", "text_sha256"] if "text_sha256" in window.columns else ["request_id"]
    pairs = old.merge(new, on=keys, suffixes=("_old", "_new"))
    labelled = pairs[pairs["feedback_label_old"].notna()]
    y = labelled["feedback_label_old"].to_numpy()
    old_accuracy = new_accuracy = p_value = difference = low = high = None
    only_new = only_old = 0
    if len(labelled):
        old_pred, new_pred = labelled["label_old"].to_numpy(), labelled["label_new"].to_numpy()
        test = mcnemar_test(y, new_pred, old_pred)
        only_new, only_old, p_value = test.only_new_right, test.only_old_right, test.p_value
        old_accuracy = float((old_pred == y).mean())
        new_accuracy = float((new_pred == y).mean())
        difference = new_accuracy - old_accuracy
        low, high = paired_difference_interval(only_new, only_old, len(y), confidence_level)
    if len(pairs):
        drift_old, drift_new, drift_rows = pairs["score_old"], pairs["score_new"], "paired"
    else:
        drift_old, drift_new, drift_rows = old["score"], new["score"], "all"
    drift = ks_2samp(drift_old.to_numpy(), drift_new.to_numpy())
    return OnlineComparison(
        since=since,
        until=until,
        champion=_evidence(champion, mine[champion], old, confidence_level),
        challenger=_evidence(challenger, mine[challenger], new, confidence_level),
        paired=len(pairs),
        agreement=float((pairs["label_old"] == pairs["label_new"]).mean()) if len(pairs) else None,
        paired_labelled=len(labelled),
        champion_paired_accuracy=old_accuracy,
        challenger_paired_accuracy=new_accuracy,
        only_challenger_right=only_new,
        only_champion_right=only_old,
        p_value=p_value,
        difference=difference,
        difference_low=low,
        difference_high=high,
        confidence_level=confidence_level,
        score_drift=float(drift.statistic),
        score_drift_p_value=float(drift.pvalue),
        score_drift_rows=drift_rows,
    )


def paired_difference_interval(
    only_new_right: int, only_old_right: int, total: int, level: float = 0.95
) -> tuple[float, float]:
    """The interval of new minus old accuracy on the same ``total`` rows from McNemar's
    discordant counts: Wald, Agresti-Min adjusted (docs/decisions.md, "Monitoring")."""
    if total == 0:
        return (-1.0, 1.0)
    b, c, n = only_new_right + 0.5, only_old_right + 0.5, total + 2
    z = float(norm.ppf(0.5 + level / 2))
    centre = (b - c) / n
    half = z * math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    return (max(centre - half, -1.0), min(centre + half, 1.0))


def _latest_version(window: pd.DataFrame, roles: tuple[str, ...], who: str) -> str:
    rows = window[window["role"].isin(roles)] if "role" in window.columns else window.iloc[:0]
    if rows.empty:
        hint = (
            "Set serving.shadow_share (or serving.canary_share) above 0 with a challenger "
            "registered, and let it score traffic"
            if who == "challenger"
            else "Check that the API logs its predictions to this prediction_log.url, or widen "
            "--since"
        )
        raise BadInputError(
            f"The prediction log window holds no {' or '.join(roles)} rows, so the {who}'s "
            f"version is unknown. {hint}; or name the versions with --champion V "
            "--challenger V."
        )
    return str(rows.sort_values("timestamp", kind="stable")["model_version"].iloc[-1])


def _one_per_request(rows: pd.DataFrame) -> pd.DataFrame:
    answered_first = rows.assign(_shadow=rows["role"].eq("shadow")).sort_values(
        ["_shadow", "timestamp"], kind="stable"
    )
    return answered_first.drop_duplicates("request_id").drop(columns="_shadow")


def _evidence(
    version: str, rows: pd.DataFrame, requests: pd.DataFrame, level: float
) -> VersionEvidence:
    labelled = requests[requests["feedback_label"].notna()]
    correct = int((labelled["label"] == labelled["feedback_label"]).sum())
    accuracy = low = high = None
    if len(labelled):
        accuracy = correct / len(labelled)
        low, high = accuracy_interval(correct, len(labelled), level)
    latency = rows["latency_ms"].to_numpy(dtype=float)
    p50, p99 = (
        (float(v) for v in np.percentile(latency, [50, 99])) if len(latency) else (None, None)
    )
    return VersionEvidence(
        version=version,
        requests=len(requests),
        answered=int(rows["role"].isin(ANSWER_ROLES).sum()),
        shadow=int(rows["role"].eq("shadow").sum()),
        labelled=len(labelled),
        accuracy=accuracy,
        accuracy_low=low,
        accuracy_high=high,
        latency_p50_ms=p50,
        latency_p99_ms=p99,
    )
