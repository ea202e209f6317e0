"""What a person sees in a real browser (Debian's Chromium, headless, driven by Playwright): the
dashboard that ``sentimentops monitor ui`` serves after real ``monitor`` runs, and a run's
report. The page text is asserted, and the browser console must stay free of errors.

``make test-stack`` runs these (``make browser-tools`` installs Chromium); a screenshot of each
page is written beside the test's files (docs/images holds the ones the README shows).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.servers import free_port, running
from tests.user import SCRIPT, clone_home, run_cli, user_env

pytestmark = pytest.mark.stack

PRODUCTS = [
    "The battery died after two days and the charger arrived broken.",
    "Great hotel, friendly staff, the breakfast was cold but the pool was clean.",
]


@pytest.fixture(scope="module")
def monitored_home(
    user_champion_home: Path,
    reference_reviews: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A home whose champion was monitored twice by the CLI: held-out labelled reviews (OK),
    then reviews of another domain (ALERT)."""
    folder = tmp_path_factory.mktemp("browser")
    home = clone_home(user_champion_home, folder / "home")
    test = reference_reviews[reference_reviews["split"] == "test"].sample(400, random_state=3)
    held_out = folder / "held_out.csv"
    test[["review", "sentiment"]].to_csv(held_out, index=False)
    products = folder / "products.csv"
    pd.DataFrame({"review": PRODUCTS * 150}).to_csv(products, index=False)
    for current, code in ((held_out, 0), (products, 3)):
        done = run_cli("monitor", "--current", str(current), home=home)
        assert done.returncode == code, done.stdout + done.stderr
    return home


COUNTERS = ("alerts", "accuracy", "text drift AUC", "rows")


def counter(page: Page, label: str) -> str:
    """The number a counter of the "Latest run" panel shows above ``label``."""
    value = page.locator(f"xpath=//pre[normalize-space()='{label}']/preceding-sibling::h2[1]")
    return value.inner_text()


def summaries(home: Path) -> list[dict[str, object]]:
    """The runs' summary.json, oldest first."""
    paths = sorted((home / "reports").glob("monitoring-*/summary.json"))
    return [json.loads(path.read_text()) for path in paths]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run `make browser-tools`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; its console errors and uncaught exceptions fail the test."""
    # Reduced motion: the charts draw at once, so a screenshot shows them whole.
    opened = browser.new_page(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened.close()
    assert errors == [], f"the browser console showed errors: {errors}"


def test_the_dashboard_shows_each_panel_and_the_latest_run(
    monitored_home: Path, page: Page, tmp_path: Path
) -> None:
    port = free_port()
    command = [str(SCRIPT), "monitor", "ui", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    env = user_env(monitored_home)
    with running(command, f"{base}/api/projects", tmp_path / "ui.log", env):
        page.goto(base)
        page.get_by_text("imdb-sentiment").first.click()
        # Each panel loads its points after the page: wait for the counters and the lines.
        page.get_by_text("alerts", exact=True).wait_for()
        page.get_by_text("rows (v1)", exact=True).wait_for()
        counters = {label: counter(page, label) for label in COUNTERS}
        text = page.inner_text("body")
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    for title in (
        "Latest run",
        "Accuracy (labels)",
        "Estimated accuracy (no labels)",
        "Text drift (domain classifier ROC AUC)",
        "Descriptor drift share",
        "Prediction drift (p-value)",
        "Reject rate",
        "Volume (rows)",
    ):
        assert title in text
    ok, alerting = summaries(monitored_home)
    latest: dict[str, object] = alerting["metrics"]  # type: ignore[assignment]
    assert counters["alerts"] == str(len(alerting["alerts"]))  # type: ignore[arg-type]
    assert counters["rows"] == str(latest["rows"])
    # The newest run had no labels: the counter keeps the last accuracy measured (the first run).
    assert float(counters["accuracy"]) == round(ok["metrics"]["accuracy"], 2)  # type: ignore[index]
    auc = latest["text_drift"]["score"]  # type: ignore[index]
    assert float(counters["text drift AUC"]) == round(auc, 2)
    assert "alert limit" in text
    assert "(v1)" in text  # the model version of the points


def test_a_report_opens_with_the_verdict_and_the_alerts(
    monitored_home: Path, page: Page, tmp_path: Path
) -> None:
    ok, alerting = summaries(monitored_home)
    report = Path(str(alerting["report"]))

    page.goto(report.as_uri())
    # Evidently's part draws itself by script: its first metric shows once it ran.
    page.get_by_text("Drift in column 'review'").first.wait_for()
    summary = page.inner_text("#summary")
    page.screenshot(path=str(tmp_path / "report.png"))

    assert page.inner_text("#verdict") == "ALERT"
    assert summary.index("ALERT") < summary.index("Checks")
    assert "imdb-sentiment version 1" in summary
    for alert in alerting["alerts"]:  # type: ignore[attr-defined]
        assert alert["message"] in page.inner_text("#alerts")
    assert "text drift (domain classifier AUC)" in page.inner_text("#checks")

    page.goto(Path(str(ok["report"])).as_uri())
    page.get_by_role("heading", name="Classification quality (labelled rows)").wait_for()
    assert page.inner_text("#verdict") == "OK"
    assert "Accuracy by review length" in page.inner_text("#summary")
