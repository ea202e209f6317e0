"""The closed loop, measured (``make bench-loop``): a shift in live traffic, from the first
shifted request to a recovered champion answering, with nobody touching the registry.

0. Measures the machine calibration (calibration.py).
1. Trains the champion (version 1, logistic regression) on ``--train-rows`` official training
   reviews; its test split is the whole official test split (25,000 reviews), so every
   version's registered test accuracy is the official one.
2. Serves it (``sentimentops serve``) with ``serving.shadow_share: 1`` and
   ``registry.promotion: online``.
3. The shift: held-out official training reviews in which 40 frequent sentiment words are
   replaced by slang (``great`` -> ``goated``, ``bad`` -> ``mid``, ...), the vocabulary of a
   new audience the champion never saw. Client threads send them at ``--rate`` requests/s
   from then on, and post the true label as feedback for ``--feedback-share`` of them.
4. Once ``--labels`` feedback labels are in, the retraining flow runs (``sentimentops pipeline
   run retraining``): monitoring alerts, training adds the feedback, the new version is left as
   challenger; the API picks it up and scores every request in shadow too.
5. Once the challenger has shadowed ``--labels`` more labelled requests, the retraining flow
   runs again: it promotes the challenger on that online evidence. The API reloads.
6. Traffic goes on until ``--after`` answers of the new champion are in.

Reports shifted-traffic accuracy of the answers before and after, official test accuracy of
both versions, feedback labels used, the wall time from the first shifted request to the first
answer of the recovered champion, and the requests answered and failed during the loop.
Results go to benchmarks/results/loop.json and are printed as a Markdown table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from calibration import DATA, REPO, Calibration, markdown_table
from measure import CLI, benchmark_parser, calibrate_first, timed, user_env, write_results

sys.path.insert(0, str(REPO))  # the test helpers start and probe servers the same way
from tests.servers import free_port, wait_for

# The new audience's words for the champion's strongest sentiment words.
SLANG = {
    "great": "goated", "excellent": "bussin", "best": "peak", "wonderful": "fire",
    "amazing": "slaps", "love": "stan", "loved": "stanned", "perfect": "immaculate",
    "brilliant": "elite", "beautiful": "gorgeous af", "favorite": "fave",
    "enjoyed": "vibed with", "fun": "a vibe", "superb": "chef's kiss", "fantastic": "lit",
    "good": "solid", "nice": "dope", "funny": "hilarious fr", "recommend": "rec",
    "better": "more goated", "highly": "hella", "bad": "mid", "worst": "most mid",
    "awful": "trash", "terrible": "cringe", "boring": "snoozefest", "waste": "L",
    "poor": "weak sauce", "horrible": "yikes", "stupid": "dumb af", "worse": "more mid",
    "dull": "meh", "mess": "flop", "disappointing": "a letdown fr",
    "disappointed": "let down fr", "crap": "garbage fr", "avoid": "skip", "lame": "basic",
    "pointless": "no cap pointless", "annoying": "extra",
}  # fmt: skip
_SLANG_WORDS = re.compile(r"\b(" + "|".join(map(re.escape, SLANG)) + r")\b", re.IGNORECASE)

CONFIG = """\
split: {{mode: official}}
training:
  models: [logreg]
  cv_folds: 2
  n_jobs: 1
  candidates:
    logreg:
      features:
        tfidf: {{ngram_range: [1, 2], min_df: 2}}
      grid:
        classifier__C: [4.0]
registry:
  promotion: online
  online_min_labelled: {min_labelled}
  reference_sample_rows: 2000
serving:
  shadow_share: 1.0
  reload_interval_seconds: 1.0
prediction_log:
  flush_seconds: 0.2
pipeline:
  monitoring_window_hours: 1
  retraining_use_feedback: true
  retraining_data: {data}
"""


def slang(text: str) -> str:
    """``text`` in the new audience's words."""
    return _SLANG_WORDS.sub(lambda match: SLANG[match.group(1).lower()], text)


@dataclass
class Answer:
    at: float
    status: int
    version: str
    correct: bool
    labelled: bool


@dataclass
class Traffic:
    """Client threads sending the shifted reviews in order at ``rate`` requests/s in all,
    posting the true label for every ``1 / feedback_share``-th; each answer recorded."""

    url: str
    reviews: pd.DataFrame
    rate: float
    feedback_share: float
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._workers = [threading.Thread(target=self._send) for _ in range(self.threads)]

    def start(self) -> None:
        self.started = time.perf_counter()
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join()

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def _take(self) -> int:
        with self._lock:
            index, self._next = self._next, self._next + 1
        return index

    def _send(self) -> None:
        every = round(1 / self.feedback_share)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                index = self._take()
                # Paced: request i is due at i / rate seconds after the start.
                wait = self.started + index / self.rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                # A long loop sends the pool again: new requests, new feedback, same texts.
                row = self.reviews.iloc[index % len(self.reviews)]
                review, truth = row["review"], row["sentiment"]
                labelled = index % every == 0
                try:
                    response = client.post("/v1/predict", json={"text": review})
                    body = response.json() if response.status_code == 200 else {}
                    if labelled and body:
                        sent = {"request_id": body["request_id"], "label": truth}
                        client.post("/v1/feedback", json=sent).raise_for_status()
                except httpx.HTTPError as error:
                    with self._lock:
                        self.failures.append(repr(error))
                    continue
                answer = Answer(
                    at=time.perf_counter(),
                    status=response.status_code,
                    version=str(body.get("model", {}).get("version", "")),
                    correct=body.get("label") == truth,
                    labelled=labelled,
                )
                with self._lock:
                    self.answers.append(answer)


def loop_data(train_rows: int, folder: Path) -> tuple[Path, pd.DataFrame]:
    """The champion's training data (``train_rows`` official training reviews and the whole
    official test split) as a file, and the rest of the training reviews, shifted."""
    reviews = pd.read_parquet(DATA)
    train = reviews[reviews["split"] == "train"].sample(frac=1.0, random_state=7)
    test = reviews[reviews["split"] == "test"]
    path = folder / "champion-data.parquet"
    pd.concat([train.iloc[:train_rows], test]).to_parquet(path, index=False)
    held_out = train.iloc[train_rows:][["review", "sentiment"]].reset_index(drop=True)
    return path, held_out.assign(review=held_out["review"].map(slang))


def run_flow(env: dict[str, str], log: Path) -> dict[str, Any]:
    """One retraining flow run, its result (exit 3: monitoring alerted, also a result)."""
    command = [CLI, "pipeline", "run", "retraining", "--json"]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    log.write_text(completed.stdout + completed.stderr)
    if completed.returncode not in (0, 3):
        raise RuntimeError(f"the retraining flow exited {completed.returncode}: see {log}")
    # The JSON is the last thing printed, its braces at the start of their lines.
    starts = [match.start() for match in re.finditer(r"^\{$", completed.stdout, re.MULTILINE)]
    result = dict(json.loads(completed.stdout[starts[-1] :]))
    # Traffic goes on while the flow monitors: it counts the labels when it collects them.
    used = re.search(r"([\d,]+) labelled feedback rows join", completed.stdout + completed.stderr)
    result["feedback_rows"] = int(used.group(1).replace(",", "")) if used else None
    return result


def shadowed_labels(home: Path, version: str) -> int:
    """Requests the challenger ``version`` scored in shadow that have feedback."""
    from sentimentops.prediction_log import PredictionLogStore

    store = PredictionLogStore(f"sqlite:///{home / 'prediction_log.db'}")
    try:
        window = store.read_window()
    finally:
        store.dispose()
    mine = window[(window["role"] == "shadow") & (window["model_version"] == version)]
    return int(mine["feedback_label"].notna().sum())


def test_accuracies(home: Path) -> dict[str, float]:
    """Each registered version's accuracy on its test split: the official one here."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    return {
        str(version.version): float(
            client.get_run(str(version.run_id)).data.metrics["test_accuracy"]
        )
        for version in client.search_model_versions("name = 'imdb-sentiment'")
    }


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--train-rows", type=int, default=4000)
    parser.add_argument("--labels", type=int, default=800, help="feedback labels per phase")
    parser.add_argument("--feedback-share", type=float, default=0.5)
    parser.add_argument("--rate", type=float, default=15.0, help="requests/s in all")
    parser.add_argument("--after", type=int, default=600, help="answers of the new champion")
    args = parser.parse_args()
    calibration = calibrate_first(args.calibration_runs)
    folder = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    home = folder / "home"
    data, shifted = loop_data(args.train_rows, folder)
    config = folder / "loop.yaml"
    config.write_text(CONFIG.format(min_labelled=args.labels // 2, data=data))
    env = user_env(home, {"SENTIMENTOPS_CONFIG": str(config)})

    print("training the champion", flush=True)
    train = [CLI, "train", "--data", str(data)]
    train_seconds = timed(train, folder / "train.log", env=env)
    port = free_port()
    with (folder / "server.log").open("wb") as server_log:
        server = subprocess.Popen(
            [CLI, "serve", "--port", str(port)], env=env, stdout=server_log, stderr=server_log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health/ready", server, timeout=300)
        traffic = Traffic(url, shifted, args.rate, args.feedback_share)
        results = _closed_loop(args, traffic, env, home, folder)
    finally:
        server.terminate()
        server.wait(timeout=60)
    results["train_seconds"] = calibration.figure([train_seconds])
    results["test_accuracy"] = test_accuracies(home)
    results["setup"] = vars(args) | {"folder": str(folder)}
    write_results("loop.json", results, calibration)
    print(_table(results, calibration))


def _closed_loop(
    args: Any, traffic: Traffic, env: dict[str, str], home: Path, folder: Path
) -> dict[str, Any]:
    def labels() -> int:
        return sum(answer.labelled for answer in traffic.snapshot())

    traffic.start()
    try:
        print("shifted traffic: waiting for the first feedback labels", flush=True)
        wait_until(lambda: labels() >= args.labels, 1800, f"{args.labels} feedback labels")
        retrain_started = time.perf_counter()
        retrained = run_flow(env, folder / "retraining-1.log")
        retrain_seconds = time.perf_counter() - retrain_started
        challenger = str((retrained.get("training") or {}).get("version", ""))
        print(f"retraining: {retrained['message']}", flush=True)
        if not challenger or retrained["promoted"]:
            raise RuntimeError(f"no challenger on trial after retraining: {retrained['message']}")
        wait_until(
            lambda: shadowed_labels(home, challenger) >= args.labels,
            1800,
            f"{args.labels} labelled requests shadowed by version {challenger}",
        )
        promotion = run_flow(env, folder / "retraining-2.log")
        print(f"promotion: {promotion['message']}", flush=True)
        if not promotion["promoted"]:
            raise RuntimeError(f"the challenger was not promoted: {promotion['message']}")

        def answered_by_challenger() -> int:
            return sum(answer.version == challenger for answer in traffic.snapshot())

        wait_until(
            lambda: answered_by_challenger() >= args.after, 1800, f"{args.after} new answers"
        )
    finally:
        traffic.stop()
    answers = traffic.snapshot()
    first_new = min(answer.at for answer in answers if answer.version == challenger)
    before = [a.correct for a in answers if a.version == "1" and a.status == 200]
    after = [a.correct for a in answers if a.version == challenger and a.status == 200]
    return {
        "challenger": challenger,
        "shifted_accuracy_before": sum(before) / len(before),
        "shifted_accuracy_after": sum(after) / len(after),
        "answers_before": len(before),
        "answers_after": len(after),
        "feedback_labels_for_training": retrained["feedback_rows"],
        # The requests both versions scored that had feedback, as the promotion counted them.
        "shadowed_labels_for_promotion": promotion["online"]["comparison"]["paired_labelled"],
        "recovery_seconds": first_new - traffic.started,
        "retraining_seconds": retrain_seconds,
        "requests": len(answers) + len(traffic.failures),
        "errors": sum(a.status != 200 for a in answers) + len(traffic.failures),
        "promotion_reason": promotion["message"],
    }


def _table(results: dict[str, Any], calibration: Calibration) -> str:
    recovery = results["recovery_seconds"]
    test = results["test_accuracy"]
    challenger = results["challenger"]
    rows = [
        [
            "accuracy on the shifted traffic (answers)",
            f"{results['shifted_accuracy_before']:.4f} ({results['answers_before']:,} answers)",
            f"{results['shifted_accuracy_after']:.4f} ({results['answers_after']:,} answers)",
        ],
        ["accuracy on the official test split", f"{test['1']:.4f}", f"{test[challenger]:.4f}"],
        [
            "feedback labels: for training / shadowed for promotion",
            f"{results['feedback_labels_for_training']:,}",
            f"{results['shadowed_labels_for_promotion']:,}",
        ],
        [
            "shift start to the recovered champion answering",
            f"{recovery:.0f} s",
            f"{calibration.multiple(recovery):.2f} x calibration",
        ],
        [
            "requests answered during the loop / errors",
            f"{results['requests']:,}",
            str(results["errors"]),
        ],
    ]
    return markdown_table(["", "before (version 1)", f"after (version {challenger})"], rows, "lrr")


if __name__ == "__main__":
    main()
