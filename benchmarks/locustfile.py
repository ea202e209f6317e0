"""Locust load on the prediction API: real IMDB reviews, a mix of single, batch and V2 requests.

Each simulated client sends its next request as soon as the last one is answered (a closed
loop, like ``bench_serve.py``), picking one of the kinds in ``load_mix.py`` by weight and texts
at random from the 25,000 official test reviews. A response counts as a success only when it
is a 200 holding one prediction per text sent, so a wrong answer fails like an error would.

``bench_reliability.py`` runs it against a server of its own; it also runs alone:
``locust -f benchmarks/locustfile.py --headless -u 64 -r 16 -t 5m --host http://127.0.0.1:8000``
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from champion import official_split
from load_mix import BATCH, SINGLE, V2_INFER, RequestKind

REVIEWS: list[str] = official_split()[1]["review"].tolist()
LABELS = {"positive", "negative"}
_client_seeds = itertools.count()  # each client draws its own reproducible sequence of texts
_served_model = {"name": ""}
_environment: list[Environment] = []  # the run's, kept at init for the quit listener
_latencies: list[tuple[float, float]] = []


@events.init.add_listener
def prepare(environment: Environment, **_: Any) -> None:
    """Keep the environment for the quit listener, and make ``--run-time`` last as long as asked.

    gevent's loop caches the time of its last iteration, and it has not iterated while locust
    imported its modules and this file (several seconds on a busy machine). Locust sets its
    run-time timer right after this event, from that stale time: unrefreshed, an 8 s run lasted
    3 s here, the import time cut off.
    """
    _environment.append(environment)
    gevent.get_hub().loop.update_now()


@events.quit.add_listener
def save_failure_messages(**_: Any) -> None:
    """Beside ``--json-file``'s final stats (which hold failure counts, not their reasons), write
    each failure message with its count: the harness tells 5xx answers from other failures."""
    environment = _environment[0]
    stats_file = environment.parsed_options.json_file if environment.parsed_options else None
    if stats_file:
        messages = [
            {"message": error.to_name(), "occurrences": error.occurrences}
            for error in environment.stats.errors.values()
        ]
        Path(f"{stats_file}_failures.json").write_text(json.dumps(messages, indent=2))


@events.request.add_listener
def keep_latency(start_time: float, response_time: float, **_: Any) -> None:
    """Each request's start (Unix seconds) and latency (ms), written beside the final stats:
    ``bench_reliability.py --outage-seconds`` splits them before, during and after an outage."""
    _latencies.append((round(start_time, 3), round(response_time, 1)))


@events.quit.add_listener
def save_latencies(**_: Any) -> None:
    environment = _environment[0]
    stats_file = environment.parsed_options.json_file if environment.parsed_options else None
    if stats_file:
        Path(f"{stats_file}_latencies.json").write_text(json.dumps(_latencies))


@events.test_start.add_listener
def learn_served_model_name(environment: Environment, **_: Any) -> None:
    """The V2 path names the model; a model folder is served under its folder's name."""
    with urllib.request.urlopen(f"{environment.host}/v1/model", timeout=60) as response:
        _served_model["name"] = json.load(response)["name"]


def single_answered(body: dict[str, Any]) -> int:
    return int(body.get("label") in LABELS)


def batch_answered(body: dict[str, Any]) -> int:
    return sum(item.get("label") in LABELS for item in body.get("predictions", []))


def v2_answered(body: dict[str, Any]) -> int:
    outputs = body.get("outputs", [])
    labels: list[Any] = next((out["data"] for out in outputs if out["name"] == "label"), [])
    return sum(label in LABELS for label in labels)


class ApiClient(FastHttpUser):
    wait_time = constant(0)  # closed loop: no think time, the server sets the pace

    def on_start(self) -> None:
        self.rng = random.Random(next(_client_seeds))

    @task(SINGLE.weight)
    def predict_one(self) -> None:
        [text] = self.rng.sample(REVIEWS, SINGLE.texts)
        self.post(SINGLE, "/v1/predict", {"text": text}, single_answered)

    @task(BATCH.weight)
    def predict_batch(self) -> None:
        texts = self.rng.sample(REVIEWS, BATCH.texts)
        self.post(BATCH, "/v1/predict/batch", {"texts": texts}, batch_answered)

    @task(V2_INFER.weight)
    def infer_v2(self) -> None:
        texts = self.rng.sample(REVIEWS, V2_INFER.texts)
        body = {
            "inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]
        }
        path = f"/v2/models/{_served_model['name']}/infer"
        self.post(V2_INFER, path, body, v2_answered)

    def post(
        self,
        kind: RequestKind,
        path: str,
        body: dict[str, Any],
        answered: Callable[[dict[str, Any]], int],
    ) -> None:
        with self.client.post(path, json=body, name=kind.name, catch_response=True) as response:
            if response.status_code != 200:
                # "HTTP 0" is a connection that never got an answer; bench_reliability.py counts
                # "HTTP 5xx" messages as the clients' view of server errors.
                response.failure(f"HTTP {response.status_code}")
                return
            try:
                predictions = answered(response.json())
            except (ValueError, KeyError, TypeError) as error:
                response.failure(f"unreadable body: {type(error).__name__}")
                return
            if predictions != kind.texts:
                response.failure(f"{predictions} predictions for {kind.texts} texts")
            else:
                response.success()
