"""The cost of the monitoring dashboard: a run's snapshot, and the dashboard of 500 runs.

0. Measures the machine calibration (calibration.py).
1. Records ``--runs`` (500) monitoring runs into a fresh workspace, as ``monitor`` records them
   (monitoring.workspace.record_snapshot): hourly, the model version changing every 100 runs,
   labels in every other run.
2. Snapshot cost: in a fresh process that has imported what a monitoring run has imported by
   then (Evidently's report and drift metrics), one more run's snapshot added to that workspace,
   ``--repeat`` times: what recording adds to a monitoring run. Goal: at most 1 s.
3. Dashboard render: ``sentimentops monitor ui`` serves the workspace; headless Chromium (Debian's,
   driven by Playwright; ``make browser-tools``) opens the project's dashboard in a fresh
   context, ``--repeat`` times, timed from navigation until the first view shows its points (the
   latest-run counters and the two accuracy panels), and until every panel does (each line
   panel draws its alert limit's legend with its points). Each page is left to finish loading
   before the next. Goal: every panel in at most 3 s.
Results go to benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calibration import REPO, table_row
from measure import CLI, benchmark_parser, calibrate_first, user_env, write_results

from sentimentops.monitoring.workspace import PANELS

# What a monitoring run has imported when it records its snapshot: drift ran Evidently.
SNAPSHOT_PROCESS = """
import sys, time, warnings
from datetime import UTC, datetime
warnings.simplefilter("ignore")
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from sentimentops.config import get_settings
from sentimentops.monitoring.workspace import record_snapshot
metrics = {metrics}
started = time.perf_counter()
record_snapshot(get_settings(), metrics=metrics, alerts=1, model_name="imdb-sentiment",
                model_version="6", started_at=datetime.now(UTC), verdict="alert",
                source="bench")
print(time.perf_counter() - started)
"""


def run_metrics(index: int) -> dict[str, float]:
    """The numbers of the ``index``-th run, as flatten_metrics names them."""
    wave = (index % 24) / 100
    metrics = {
        "rows": 900.0 + index % 200,
        "reference_rows": 5000.0,
        "text_drift_auc": 0.5 + wave,
        "drifted_descriptor_share": 0.25 * (index % 3),
        "prediction_drift_score": 0.4 - wave,
        "prediction_drift_label": 0.5 - wave,
        "estimated_accuracy": 0.88 - wave / 4,
        "estimated_accuracy_lower": 0.86 - wave / 4,
        "estimated_accuracy_upper": 0.9 - wave / 4,
        "reject_rate": 0.01 + wave / 10,
        "reference_accuracy": 0.89,
    }
    if index % 2 == 0:
        metrics["accuracy"] = 0.87 - wave / 4
    return metrics


def fill_workspace(home: Path, runs: int) -> float:
    """Record ``runs`` runs into ``home``'s workspace; returns the seconds it took."""
    script = f"""
import warnings
warnings.simplefilter("ignore")
from datetime import UTC, datetime, timedelta
from bench_dashboard import run_metrics
from sentimentops.config import get_settings
from sentimentops.monitoring.workspace import record_snapshot
start = datetime(2026, 1, 1, tzinfo=UTC)
settings = get_settings()
for index in range({runs}):
    record_snapshot(settings, metrics=run_metrics(index), alerts=index % 3,
                    model_name="imdb-sentiment", model_version=str(1 + index // 100),
                    started_at=start + timedelta(hours=index),
                    verdict="alert" if index % 3 else "ok", source=f"log:run-{{index}}")
"""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", script],
        env=user_env(home, {"PYTHONPATH": str(REPO / "benchmarks")}),
        check=True,
    )
    return time.perf_counter() - started


def snapshot_seconds(home: Path) -> float:
    """What one more run's snapshot takes, in a process where drift has imported Evidently."""
    code = SNAPSHOT_PROCESS.format(metrics=repr(run_metrics(1)))
    done = subprocess.run(
        [sys.executable, "-c", code], env=user_env(home), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def wait_for_lines(page: Any, panels: int) -> None:
    """Until ``panels`` line panels show their points: each draws its alert limit's legend."""
    # Polled every 100 ms among the legends' labels only: a scan of every element (20,000 at
    # 500 runs, 13 ms each) at each poll would slow the very drawing it measures.
    page.wait_for_function(
        "count => [...document.querySelectorAll('.MuiChartsLegend-label')].filter("
        "e => e.textContent === 'alert limit').length >= count",
        arg=panels,
        polling=100,
        timeout=60_000,
    )


def render_seconds(home: Path, repeat: int, port: int = 8795) -> tuple[list[float], list[float]]:
    """Seconds from navigation until the first view shows its points (the latest-run counters
    and the two accuracy panels beside them), and until every panel does."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is missing: run `make browser-tools`")
    base = f"http://127.0.0.1:{port}"
    log = home / "ui.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [CLI, "monitor", "ui", "--port", str(port)],
            env=user_env(home),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        projects = wait_for_projects(f"{base}/api/projects", server)
        url = f"{base}/projects/{projects[0]['id']}"
        first_view, every_panel = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for _ in range(repeat + 1):  # the first warms the server's caches: not counted
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                started = time.perf_counter()
                page.goto(url)
                page.get_by_text("alerts", exact=True).wait_for(timeout=60_000)
                wait_for_lines(page, 2)  # the two line panels beside the counters
                first_view.append(time.perf_counter() - started)
                wait_for_lines(page, len(PANELS))
                every_panel.append(time.perf_counter() - started)
                page.wait_for_load_state("networkidle")  # an idle server for the next page
                context.close()
            browser.close()
        return first_view[1:], every_panel[1:]
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_projects(url: str, server: subprocess.Popen[bytes]) -> list[dict[str, str]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"monitor ui exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                projects: list[dict[str, str]] = json.loads(response.read())
                if projects:
                    return projects
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not list the project within 120 s")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", type=int, default=500, help="runs in the workspace")
    parser.add_argument("--repeat", type=int, default=5, help="measurements of each figure")
    args = parser.parse_args()
    calibration = calibrate_first(args.calibration_runs)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        home = Path(folder) / "home"
        filled = fill_workspace(home, args.runs)
        print(f"recorded {args.runs} runs in {filled:.1f} s", flush=True)
        snapshots = [snapshot_seconds(home) for _ in range(args.repeat)]
        print(table_row("snapshot of one run", snapshots, calibration, "<= 1 s"), flush=True)
        first_view, renders = render_seconds(home, args.repeat)
        print(table_row("first view (counters, accuracy panels)", first_view, calibration))
        print(
            table_row(f"dashboard of {args.runs} runs, every panel", renders, calibration, "<= 3 s")
        )
    write_results(
        "dashboard.json",
        {
            "runs_in_workspace": args.runs,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "fill_seconds": round(filled, 2),
            "fill_seconds_per_run": round(filled / args.runs, 4),
            "snapshot_seconds": calibration.figure(snapshots),
            "render_seconds": calibration.figure(renders),
            "first_view_seconds": calibration.figure(first_view),
            "goals": {"snapshot_seconds": 1.0, "render_seconds": 3.0},
        },
        calibration,
    )


if __name__ == "__main__":
    main()
