"""The machine calibration that every benchmark measures in the same run as its figures.

Machines differ by 2-3x, so a figure in seconds alone says little on another machine. The
calibration is a fixed scikit-learn workload in a fresh process, process start and imports
included: TF-IDF unigrams (10,000 features) and a logistic regression fitted on the 25,000
official training reviews and scored on the 25,000 test reviews. Benchmarks report each figure
in seconds and as a multiple of it (``figure / calibration``); goals are stated as multiples.
A throughput is also given per calibration: what is done in the time of one calibration run
(``rate * calibration``), which, like the rate, grows with the machine's speed.

It uses scikit-learn and pandas directly, never the project's code, so a change to the project
cannot change the yardstick.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "imdb" / "imdb_reviews.parquet"

WORKLOAD = f"""
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

reviews = pd.read_parquet({str(DATA)!r})
train, test = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
vectorizer = TfidfVectorizer(max_features=10_000)
model = LogisticRegression(max_iter=1_000).fit(
    vectorizer.fit_transform(train["review"]), train["sentiment"]
)
accuracy = (model.predict(vectorizer.transform(test["review"])) == test["sentiment"]).mean()
assert accuracy > 0.85, accuracy
"""


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")


def spread(values: list[float]) -> dict[str, Any]:
    """Median, smallest and largest of repeated measurements, and the runs themselves."""
    return {
        "median": _rounded(statistics.median(values)),
        "min": _rounded(min(values)),
        "max": _rounded(max(values)),
        "runs": [_rounded(value) for value in values],
    }


def number(value: float) -> str:
    """Three significant digits, thousands separated, millions as M: 0.127, 15.8, 2,518, 1.02M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def cell(values: list[float], unit: str = "") -> str:
    """``median (min-max)`` of repeated values with their unit; the value alone for one run."""
    median = f"{number(statistics.median(values))}{unit}"
    if len(values) == 1:
        return median
    return f"{median} ({number(min(values))}-{number(max(values))})"


@dataclass(frozen=True)
class Calibration:
    """Wall seconds of the calibration workload, each run in a fresh process."""

    runs: list[float]

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    def multiple(self, seconds: float) -> float:
        """``seconds`` as a multiple of this machine's calibration."""
        return seconds / self.seconds

    def per_calibration(self, rate: float) -> float:
        """A rate (per second) as what is done in the time of one calibration run."""
        return rate * self.seconds

    def figure(self, values: list[float]) -> dict[str, Any]:
        """Repeated wall times in seconds and as multiples of the calibration."""
        return {
            "seconds": spread(values),
            "multiple": spread([self.multiple(value) for value in values]),
        }

    def rate(self, values: list[float]) -> dict[str, Any]:
        """Repeated throughputs per second and per calibration."""
        return {
            "per_second": spread(values),
            "per_calibration": spread([self.per_calibration(value) for value in values]),
        }

    def time_cells(self, values: list[float]) -> list[str]:
        """Table cells of repeated wall times: seconds, then the multiple of the calibration."""
        return [cell(values, " s"), cell([self.multiple(value) for value in values], "x")]

    def rate_cells(self, values: list[float]) -> list[str]:
        """Table cells of repeated throughputs: per second, then per calibration."""
        return [cell(values, "/s"), cell([self.per_calibration(value) for value in values])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": "TF-IDF 10k unigrams + logistic regression, fit on 25k IMDB train "
            "reviews, scored on 25k test reviews, in a fresh process",
            "seconds": spread(self.runs),
            "machine": machine(),
        }

    def describe(self) -> str:
        low, high = min(self.runs), max(self.runs)
        return (
            f"calibration: {self.seconds:.1f} s (median of {len(self.runs)}, "
            f"{low:.1f}-{high:.1f} s) on {os.cpu_count()} cores"
        )


def calibrate(runs: int = 3) -> Calibration:
    """Run the workload ``runs`` times, each in a fresh interpreter of this environment."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", WORKLOAD], check=True)
        seconds.append(time.perf_counter() - started)
    return Calibration(seconds)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def table_row(name: str, values: list[float], calibration: Calibration, goal: str = "") -> str:
    """A Markdown table row: median seconds (spread), median multiple, and the goal."""
    return markdown_row([name, *calibration.time_cells(values), goal])


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` holds one letter per column, ``l`` or ``r``."""
    rule = ["---:" if side == "r" else "---" for side in align]
    return "\n".join(markdown_row(cells) for cells in [header, rule, *rows])


def goals_table(goals: dict[str, bool], title: str = "goal") -> str:
    """The goals a run met (yes) or not (**no**), as a Markdown table."""
    rows = [[goal, "yes" if met else "**no**"] for goal, met in goals.items()]
    return markdown_table([title, "met"], rows, "ll")


if __name__ == "__main__":
    print(calibrate().describe())
