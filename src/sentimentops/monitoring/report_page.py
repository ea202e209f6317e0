"""A run's self-contained ``report.html``: the summary (verdict, checks, alerts, errors), then
Evidently's drift report as the details."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from sentimentops.monitoring.checks import Check
from sentimentops.monitoring.results import Alert, ClassificationQuality, MonitoringMetrics
from sentimentops.storage import write_atomically

__all__ = ["DETAILS_ANCHOR", "JudgedRun", "write_report"]


class JudgedRun(Protocol):
    """What the report shows of a run (monitoring.run.MonitoringOutcome)."""

    @property
    def verdict(self) -> str: ...
    @property
    def metrics(self) -> MonitoringMetrics: ...
    @property
    def alerts(self) -> list[Alert]: ...
    @property
    def checks(self) -> list[Check]: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def seconds(self) -> float: ...
    @property
    def report_path(self) -> Path | None: ...


DETAILS_ANCHOR: Final = "drift-details"

_STYLE: Final = """<style>
.so-summary { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #1b1b1b; }
.so-summary h1 { font-size: 1.7em; margin: 0 0 0.4em; }
.so-summary h2 { font-size: 1.2em; margin: 1.2em 0 0.4em; }
.so-verdict { padding: 0.1em 0.5em; border-radius: 4px; color: #fff; }
.so-verdict.ok { background: #2e7d32; }
.so-verdict.alert { background: #c62828; }
.so-summary table { border-collapse: collapse; font-size: 0.95em; }
.so-summary th, .so-summary td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
.so-summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
.so-summary tr.alert td { background: #fdecea; }
.so-summary tr.drift td { background: #fff8e1; }
.so-summary dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
.so-summary dt { font-weight: 600; }
.so-summary dd { margin: 0; }
.so-bar { display: inline-block; height: 0.7em; background: #1976d2; vertical-align: middle; }
.so-alerts li { color: #b71c1c; }
</style>
"""

_STATUS: Final = {"ok": "ok", "drift": "drift", "alert": "ALERT"}
_SUMMARY_START: Final = '<section class="so-summary" id="summary">'
_SUMMARY_END: Final = "</section>\n"  # the summary's own: none of its parts is a section


def rewrite_summary(outcome: JudgedRun) -> None:
    """Render the summary of the report already at ``outcome.report_path`` again (a note added
    after it was written, such as a rollback's); Evidently's part is left as it is."""
    assert outcome.report_path is not None, "a report is written to the outcome's report path"
    page = outcome.report_path.read_text(encoding="utf-8")
    start = page.index(_SUMMARY_START)
    end = page.index(_SUMMARY_END, start) + len(_SUMMARY_END)
    summary = _summary(outcome, has_details=f'id="{DETAILS_ANCHOR}"' in page)
    rewritten = page[:start] + summary + page[end:]
    write_atomically(outcome.report_path, lambda path: path.write_text(rewritten, "utf-8"))


def write_report(outcome: JudgedRun, details: Path | None) -> Path:
    """Write the summary, then ``details`` (Evidently's HTML, removed once copied) if any, to
    ``outcome.report_path``, whole or not at all; returns that path."""
    assert outcome.report_path is not None, "a report is written to the outcome's report path"
    summary = _STYLE + _summary(outcome, has_details=details is not None)
    if details is None:
        page = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_title(outcome)}</title>\n</head>\n<body>\n{summary}</body>\n</html>\n"
        )
    else:
        evidently = details.read_text(encoding="utf-8")
        # Evidently's page draws itself into the first element of its <body>: the summary goes
        # before it, and its <title> (none of its own) names the run.
        body = evidently.index("<body>") + len("<body>")
        details_heading = f'<h2 class="so-summary" id="{DETAILS_ANCHOR}">Drift details</h2>\n'
        page = evidently[:body] + "\n" + summary + details_heading + evidently[body:]
        page = page.replace("<head>", f"<head>\n<title>{_title(outcome)}</title>", 1)
    write_atomically(outcome.report_path, lambda path: path.write_text(page, "utf-8"))
    if details is not None and details != outcome.report_path:
        details.unlink(missing_ok=True)
    return outcome.report_path


def _title(outcome: JudgedRun) -> str:
    return html.escape(
        f"{outcome.verdict.upper()}: monitoring of {outcome.model_name} "
        f"version {outcome.model_version}"
    )


def _summary(outcome: JudgedRun, *, has_details: bool) -> str:
    metrics = outcome.metrics
    parts = [
        _SUMMARY_START,
        f'<h1>Monitoring: <span class="so-verdict {outcome.verdict}" id="verdict">'
        f"{outcome.verdict.upper()}</span></h1>",
        "<dl>",
        _item("model", f"{outcome.model_name} version {outcome.model_version}"),
        _item("window", _window(outcome.source, metrics.reject_rate is not None)),
        _item(
            "rows",
            f"{metrics.rows:,} current, {metrics.reference_rows:,} reference"
            + (f", {metrics.labelled_rows:,} labelled" if metrics.labelled_rows else ""),
        ),
        _item("started", f"{outcome.started_at:%Y-%m-%d %H:%M:%S} UTC ({outcome.seconds:.1f} s)"),
        "</dl>",
    ]
    if outcome.alerts:
        parts.append(f"<h2>Alerts ({len(outcome.alerts)})</h2>")
        items = (
            f"<li><b>{html.escape(alert.kind)}</b>: {html.escape(alert.message)}</li>"
            for alert in outcome.alerts
        )
        parts.append('<ul class="so-alerts" id="alerts">' + "".join(items) + "</ul>")
    else:
        parts.append("<p>No alert fired.</p>")
    parts += ["<h2>Checks</h2>", _checks_table(outcome.checks)]
    if outcome.notes:
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in outcome.notes)
        parts += ["<h2>Notes</h2>", f"<ul>{notes}</ul>"]
    links = ['<a href="summary.json">summary.json</a> (every number of this run)']
    if metrics.quality is not None:
        links.insert(0, '<a href="#quality">classification quality</a> (labels)')
    if has_details:
        links.insert(0, f'<a href="#{DETAILS_ANCHOR}">drift details</a> (Evidently)')
    parts.append("<p>Details: " + " · ".join(links) + "</p>")
    if metrics.quality is not None:
        parts.append(_quality(metrics.quality))
    parts.append(_SUMMARY_END)
    return "\n".join(parts)


def _item(name: str, value: str) -> str:
    return f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>"


def _window(source: str, batch_output: bool) -> str:
    """``log:<since>..<until>`` as words; a file path as it is, said to be a batch output."""
    if source.startswith("log:"):
        since, _, until = source.removeprefix("log:").partition("..")
        return f"prediction log from {since or 'the start'} to {until or 'now'}"
    return f"batch output {source}" if batch_output else f"file {source}"


def _checks_table(checks: list[Check]) -> str:
    rows = []
    for check in checks:
        value = _number(check.value)
        if check.interval is not None:
            value += f" [{_number(check.interval[0])}, {_number(check.interval[1])}]"
        if check.reference is not None:
            value += f" (model's test: {_number(check.reference)})"
        limit = f"{'<' if check.flagged_when == 'below' else '>'} {_number(check.limit)}"
        rows.append(
            f'<tr class="{check.status}"><td>{html.escape(check.name)}</td>'
            f'<td class="num">{html.escape(value)}</td><td class="num">{html.escape(limit)}</td>'
            f"<td>{_STATUS[check.status]}</td></tr>"
        )
    return (
        '<table id="checks"><thead><tr><th>check</th><th>value</th><th>flagged when</th>'
        "<th>status</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _quality(quality: ClassificationQuality) -> str:
    """The confusion matrix, accuracy by length, calibration: tables, bars drawn in CSS."""
    matrix = (
        "<table><thead><tr><th>true \\ predicted</th><th>positive</th><th>negative</th></tr>"
        f'</thead><tbody><tr><th>positive</th><td class="num">{quality.true_positive:,}</td>'
        f'<td class="num">{quality.false_negative:,}</td></tr><tr><th>negative</th>'
        f'<td class="num">{quality.false_positive:,}</td>'
        f'<td class="num">{quality.true_negative:,}</td></tr></tbody></table>'
    )
    lengths = "".join(
        f'<tr><td>{html.escape(piece.name)}</td><td class="num">{piece.rows:,}</td>'
        f'<td class="num">{_number(piece.accuracy) if piece.accuracy is not None else "-"}</td>'
        f"<td>{_bar(piece.accuracy or 0.0)}</td></tr>"
        for piece in quality.by_length
    )
    calibration = "".join(
        f'<tr><td>{b.low:.1f}-{b.high:.1f}</td><td class="num">{b.rows:,}</td>'
        f'<td class="num">{b.mean_score:.3f}</td><td class="num">{b.positive_share:.3f}</td>'
        f"<td>{_bar(b.positive_share)}</td></tr>"
        for b in quality.calibration
    )
    parts = ['<h2 id="quality">Classification quality (labelled rows)</h2>', matrix]
    if lengths:
        parts += [
            "<h2>Accuracy by review length</h2>",
            "<table><thead><tr><th>length</th><th>rows</th><th>accuracy</th><th></th></tr>"
            f"</thead><tbody>{lengths}</tbody></table>",
        ]
    parts += [
        "<h2>Calibration</h2>",
        "<p>Reviews by the model's score: a calibrated model's positive share matches the mean "
        "score in each bin.</p>",
        "<table><thead><tr><th>score</th><th>rows</th><th>mean score</th>"
        f"<th>positive share</th><th></th></tr></thead><tbody>{calibration}</tbody></table>",
    ]
    return "\n".join(parts)


def _bar(share: float) -> str:
    return f'<span class="so-bar" style="width: {max(share, 0.0) * 10:.2f}em"></span>'


def _number(value: float) -> str:
    """Counts in full (12,345 rows), measurements to four significant digits."""
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
