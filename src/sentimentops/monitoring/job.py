"""The monitoring job as the CLI and the flows run it: load, measure, alert, then record the run
in the SQL history, the Evidently workspace and MLflow."""

from __future__ import annotations

import dataclasses
import functools
import logging
from datetime import datetime
from pathlib import Path

from sentimentops.config import Settings
from sentimentops.data.load import load_reviews
from sentimentops.errors import BadInputError
from sentimentops.helper_process import ctrl_c_deferred
from sentimentops.monitoring.current import CurrentData, current_from_file, current_from_log
from sentimentops.monitoring.delivery import send_alerts, webhook_of
from sentimentops.monitoring.evidently_process import in_evidently, meanwhile
from sentimentops.monitoring.history import build_run_record, prune_reports
from sentimentops.monitoring.rollout import rollback_if_worse
from sentimentops.monitoring.run import (
    MonitoringOutcome,
    Progress,
    empty_outcome,
    run_monitoring,
    with_note,
)
from sentimentops.monitoring.run_store import write_monitoring_run
from sentimentops.monitoring.workspace import record_snapshot, workspace_location
from sentimentops.prediction_log import open_store, spooled_between
from sentimentops.storage import Location
from sentimentops.tracking.loading import load_version
from sentimentops.tracking.monitoring import connect_ahead, log_monitoring_run

__all__ = ["monitor_and_record"]

log = logging.getLogger(__name__)

_LOCAL_FOLDER = "local"  # the version of a model loaded from a folder (tracking.loading)


def monitor_and_record(
    settings: Settings,
    *,
    model_uri: str,
    current: CurrentData | None = None,
    current_location: str | None = None,
    log_window: tuple[datetime, datetime] | None = None,
    reference_location: str | None = None,
    text_column: str = "review",
    label_column: str = "sentiment",
    output_dir: Path | None = None,
    progress: Progress | None = None,
    allow_incomplete: bool = False,
) -> MonitoringOutcome:
    """Monitor ``current``, a file (``current_location``) or a log window (give one), send the
    alerts and record the run; ``progress`` is told each step.

    Raises:
        BadInputError: predictions of ``log_window`` still wait in the API's spool, unless
            ``allow_incomplete``.
    """
    report = progress or (lambda _step: None)
    if current is None:
        current = _load_current(
            settings, current_location, log_window, text_column, label_column, report
        )
        if log_window is not None:
            current = _checked_for_spooled(current, settings, log_window, allow_incomplete)
    # Inputs first: a bad file is reported before seconds of model loading.
    report(f"loading the model {model_uri}")
    model = load_version(model_uri, with_reference=True)
    current = _of_monitored_version(
        current, model.name, model.version, from_log=log_window is not None
    )
    reference = None
    if reference_location:
        report(f"reading the reference {reference_location}")
        reference = load_reviews(
            reference_location, text_column=text_column, label_column=label_column
        )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # two runs a second must not collide
    name = f"monitoring-{stamp}"
    reports = settings.monitoring.reports_dir
    remote = reports is not None and Location(reports).remote
    local_reports = Path(reports) if reports and not remote else settings.state_path("reports")
    target = output_dir or local_reports / name
    meanwhile(functools.partial(connect_ahead, settings))  # while Evidently computes the drift
    # No traffic is a verdict (the volume alert: exit 3, webhook, history), not a failure.
    outcome = (
        empty_outcome(current, model, settings, output_dir=target)
        if current.rows == 0
        else run_monitoring(
            current, model, settings, reference=reference, output_dir=target, progress=report
        )
    )
    if log_window is not None and settings.monitoring.rollback_on_alert:
        # Before the report is copied and announced: its notes say what was decided.
        outcome = _rolled_back_if_worse(outcome, settings, model_uri, log_window, report)
    if remote and output_dir is None:
        assert reports is not None
        report(f"copying the report to {reports}")
        outcome = _publish(outcome, f"{reports.rstrip('/')}/{name}")

    context = {
        "model": {"name": outcome.model_name, "version": outcome.model_version},
        "input": outcome.source,
        "report": outcome.report_location,
    }
    if outcome.alerts and settings.monitoring.webhook_url:
        report(f"sending {len(outcome.alerts)} alerts to the webhook")
    problems = send_alerts(outcome.alerts, context=context, **webhook_of(settings.monitoring))
    report("recording the run (monitoring history, Evidently workspace, MLflow)")
    with ctrl_c_deferred():  # a run is in all three stores or in none
        _record(outcome, settings)
    if output_dir is None:
        prune_reports(local_reports, settings.monitoring.keep_reports, spare=target)
    return dataclasses.replace(outcome, delivery_problems=problems)


def _rolled_back_if_worse(
    outcome: MonitoringOutcome,
    settings: Settings,
    model_uri: str,
    window: tuple[datetime, datetime],
    report: Progress,
) -> MonitoringOutcome:
    """After an alert on the champion, roll back if the previous one did better; a note says
    what was decided, and a failure is noted, never hiding the verdict."""
    if model_uri != f"models:/{settings.registry.model_name}@champion" or not outcome.alerts:
        return outcome
    kinds = [alert.kind for alert in outcome.alerts]
    report("checking whether the previous champion did better")
    try:
        decision = rollback_if_worse(settings, outcome.model_version, kinds, *window)
    except Exception as error:
        log.error("could not decide on a rollback after the alerts: %s", error)
        note = f"no rollback decided: {error}"
    else:
        if decision is None:
            return outcome
        verb = "rolled back" if decision.act else "kept"
        note = f"champion version {outcome.model_version} {verb}: {decision.reason}"
    return with_note(outcome, note)


def _of_monitored_version(
    current: CurrentData, name: str, version: str, *, from_log: bool
) -> CurrentData:
    """Only the predictions of the version judged (:meth:`CurrentData.of_version`); BadInputError
    when there is none outside a log window."""
    # A file scored elsewhere names registry versions a model folder cannot match; the log of a
    # server that served this folder says "local", as the folder does.
    if "model_version" not in current.frame.columns or (version == _LOCAL_FOLDER and not from_log):
        return current
    if current.rows == 0:
        return current  # a batch that predicted nothing: the volume and reject alerts judge it
    held = current.versions()
    kept, others = current.of_version(version)
    if kept.rows == 0 and from_log:
        # No traffic by this version is what the volume alert is for: an outcome, not an error.
        note = (
            f"the log window holds {others:,} predictions, none by {name} version {version}: "
            f"judge the version that served them with --model models:/{name}/<version>"
        )
        return dataclasses.replace(kept, notes=(*kept.notes, note))
    if kept.rows == 0:
        raise BadInputError(
            f"{current.source} holds predictions of model version(s) {', '.join(held)}, none by "
            f"{name} version {version}, the model monitored: judge them against the version "
            f"that made them with --model models:/{name}/<version>."
        )
    if others:
        note = (
            f"left out {others:,} of {current.rows:,} rows predicted by other model "
            f"versions than {version} (the data holds versions {', '.join(held)})"
        )
        log.info(note)
        kept = dataclasses.replace(kept, notes=(*kept.notes, note))
    return kept


def _checked_for_spooled(
    current: CurrentData,
    settings: Settings,
    window: tuple[datetime, datetime],
    allow_incomplete: bool,
) -> CurrentData:
    """``current`` noting the window's predictions still in the (local) spool; BadInputError
    when there are any, unless ``allow_incomplete``."""
    folder = settings.prediction_log.resolved_spool_dir(settings.home)
    if not folder.is_dir():
        note = (
            f"no prediction log spool at {folder} on this machine: predictions an API on "
            "another machine still holds in its spool are not counted"
        )
        return dataclasses.replace(current, notes=(*current.notes, note))
    spooled = spooled_between(folder, *window)
    if not spooled:
        return current
    start, end = (moment.isoformat(timespec="seconds") for moment in window)
    if not allow_incomplete:
        raise BadInputError(
            f"{spooled:,} predictions of the window {start} to {end} still wait in the "
            f"prediction log spool at {folder} (the log database was away; the API writes "
            f"them once it answers); the {current.rows:,} delivered so far would be "
            "judged as the whole window. Rerun once GET /health/log answers 200, or pass "
            "--allow-incomplete to judge the delivered ones."
        )
    note = (
        f"{spooled:,} predictions of the window were still in the prediction log spool at "
        f"{folder}: judged without them (--allow-incomplete)"
    )
    log.warning(note)
    return dataclasses.replace(current, notes=(*current.notes, note))


def _publish(outcome: MonitoringOutcome, folder: str) -> MonitoringOutcome:
    """Copy the report and summary to ``folder`` (S3); on failure keep the local copy, say so."""
    try:
        for path in (outcome.summary_path, outcome.report_path):
            if path is not None:
                Location(f"{folder}/{path.name}").put(path)
    except Exception as error:
        log.error("could not copy the monitoring report to %s: %s", folder, error)
        note = (
            f"the report could not be copied to {folder} ({error}); it is in {outcome.output_dir}"
        )
        return dataclasses.replace(outcome, notes=[*outcome.notes, note])
    return dataclasses.replace(outcome, published=folder)


def _load_current(
    settings: Settings,
    location: str | None,
    log_window: tuple[datetime, datetime] | None,
    text_column: str,
    label_column: str,
    report: Progress,
) -> CurrentData:
    if location is not None:
        report(f"reading {location}")
        return current_from_file(
            location,
            text_column=text_column,
            label_column=label_column,
            sample_rows=settings.monitoring.sample_rows,  # read in chunks, sampled as it goes
            seed=settings.monitoring.seed,
        )
    if log_window is None:
        raise BadInputError("Monitoring needs current data: a file or a prediction-log window.")
    start, end = (moment.isoformat(timespec="seconds") for moment in log_window)
    report(f"reading the prediction log from {start} to {end}")
    store = open_store(settings)
    try:
        return current_from_log(store, *log_window)
    finally:
        store.dispose()


def _record(outcome: MonitoringOutcome, settings: Settings) -> None:
    """History, workspace and MLflow; a recording failure is logged, never hides the verdict."""
    record = build_run_record(
        outcome.metrics,
        outcome.alerts,
        started_at=outcome.started_at,
        source=outcome.source,
        model_name=outcome.model_name,
        model_version=outcome.model_version,
        report_path=outcome.report_location,
    )
    metrics = dict(record.metrics)
    # The workspace's snapshot is made in Evidently's process while the other two are written.
    snapshot = in_evidently(
        record_snapshot,
        settings,
        metrics=metrics,
        alerts=len(outcome.alerts),
        model_name=outcome.model_name,
        model_version=outcome.model_version,
        started_at=outcome.started_at,
        verdict=outcome.verdict,
        source=outcome.source,
    )
    try:
        store = open_store(settings)
        try:
            write_monitoring_run(store, record)
        finally:
            store.dispose()
    except Exception as error:
        log.error("could not record the monitoring run in the history store: %s", error)
    try:
        log_monitoring_run(
            settings,
            run_name=f"monitor-{outcome.started_at:%Y%m%d-%H%M%S}",
            metrics=metrics,
            tags={
                "verdict": outcome.verdict,
                "source": outcome.source[:250],
                "model_name": outcome.model_name,
                "model_version": outcome.model_version,
            },
            artifacts=[
                outcome.summary_path,
                *([outcome.report_path] if outcome.report_path else []),
            ],
        )
    except Exception as error:
        log.error("could not record the monitoring run in MLflow: %s", error)
    try:
        snapshot.result()
    except Exception as error:
        log.error(
            "could not add the monitoring run to the Evidently workspace %s: %s",
            workspace_location(settings),
            error,
        )
