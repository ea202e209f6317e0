"""Shadow and canary rollouts, as users run them: `sentimentops serve` on a free port, the
champion and the challenger aliases in a real registry, the prediction log in SQLite or
PostgreSQL.

The champion (version 1) and the challenger (version 2) are different models, so a shadow or
canary prediction can be told from the champion's by its score as well as by its version.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from scipy import stats

from sentimentops.config import get_settings
from sentimentops.prediction_log import PredictionLogStore
from sentimentops.tracking.loading import LoadedModel, load_version
from tests.conftest import save_small_model
from tests.servers import eventually, free_port, running

CLI = str(Path(sys.executable).parent / "sentimentops")
REVIEWS = [
    "A wonderful, moving film with superb acting.",
    "Dull, tedious and badly acted. I want my two hours back.",
    "Not bad at all, I enjoyed it more than I expected.",
    "The plot made no sense and the ending was worse.",
    "An instant classic: funny, sharp and beautifully shot.",
    "I fell asleep twice. Avoid.",
]


@pytest.fixture(scope="module")
def challenger_folder(
    reference_reviews: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Another small real model (other reviews, fewer of them): its scores differ from the
    champion's."""
    train = reference_reviews.sample(800, random_state=7)
    return save_small_model(train, tmp_path_factory.mktemp("challenger") / "imdb-challenger")


@pytest.fixture
def registry(model_folder: Path, challenger_folder: Path) -> dict[str, str]:
    """imdb-sentiment version 1 (champion) and 2 (challenger model, no alias yet) in the test's
    own SQLite registry: ``{"champion": "1", "challenger": "2"}``."""
    import mlflow

    from sentimentops.tracking.flavor import load_pipeline, log_model
    from sentimentops.tracking.registry import promote
    from sentimentops.tracking.store import connect

    connect(get_settings())
    versions = []
    for folder in (model_folder, challenger_folder):
        with mlflow.start_run():
            info = log_model(
                load_pipeline(str(folder)), name="model", registered_model_name="imdb-sentiment"
            )
        versions.append(str(info.registered_model_version))
    promote("imdb-sentiment", versions[0])
    return {"champion": versions[0], "challenger": versions[1]}


def set_challenger(version: str) -> None:
    from sentimentops.tracking.registry import set_challenger as point

    point("imdb-sentiment", version)


def remove_challenger() -> None:
    import mlflow

    mlflow.MlflowClient().delete_registered_model_alias("imdb-sentiment", "challenger")


@contextmanager
def serve(tmp_path: Path, **settings: str) -> Iterator[httpx.Client]:
    """`sentimentops serve` with ``SENTIMENTOPS_SERVING__<KEY>`` (or any ``section__key``)
    settings, ready; a client on it. Stopped with SIGTERM, which flushes the prediction log."""
    port = free_port()
    env = os.environ | {f"SENTIMENTOPS_{key.upper()}": value for key, value in settings.items()}
    url = f"http://127.0.0.1:{port}"
    command = [CLI, "serve", "--port", str(port)]
    with (
        running(command, f"{url}/health/ready", tmp_path / "server.log", env),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def rollout(client: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/health/ready").json()["rollout"]
    return body


def challenger_in_play(client: httpx.Client, version: str) -> None:
    eventually(
        lambda: (rollout(client)["challenger"] or {}).get("version") == version,
        timeout=60,
        what=f"challenger version {version} in play",
    )


def metric(client: httpx.Client, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {line_start} in /metrics")


def read_log(url: str | None = None) -> pd.DataFrame:
    settings = get_settings()
    store = PredictionLogStore(url or settings.prediction_log.resolved_url(settings.home))
    try:
        return store.read_window()
    finally:
        store.dispose()


def scores_of(folder: Path, texts: list[str]) -> list[float]:
    model: LoadedModel = load_version(str(folder))
    return [float(score) for score in model.score(texts)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_shadow_logs_the_challenger_for_every_request_and_leaves_answers_unchanged(
    database: str,
    registry: dict[str, str],
    model_folder: Path,
    challenger_folder: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    log_url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    set_challenger(registry["challenger"])
    extra = {} if log_url is None else {"prediction_log__url": log_url}
    singles = REVIEWS * 5
    batches = [REVIEWS[i : i + 4] for i in range(3)]
    with serve(tmp_path, serving__shadow_share="1", **extra) as client:
        challenger_in_play(client, registry["challenger"])
        answers = [client.post("/v1/predict", json={"text": text}).json() for text in singles]
        batch_answers = [
            client.post("/v1/predict/batch", json={"texts": texts}).json() for texts in batches
        ]
        requests = len(singles) + len(batches)
        eventually(
            lambda: (
                metric(client, 'sentimentops_shadow_requests_total{outcome="scored"}') == requests
            ),
            what="every request scored in shadow",
        )
        dropped = metric(client, 'sentimentops_shadow_requests_total{outcome="dropped"}')
        shadow_count = metric(
            client, 'sentimentops_prediction_score_count{role="shadow"}'
        )  # one per text
        health = rollout(client)
    log = read_log(log_url)

    texts = singles + [text for batch in batches for text in batch]
    answered = answers + [p for body in batch_answers for p in body["predictions"]]
    # The champion answered everything, with its own scores: what it gives with shadow off.
    assert {a["model"]["version"] for a in answered} == {registry["champion"]}
    assert [a["score"] for a in answered] == pytest.approx(scores_of(model_folder, texts))
    assert dropped == 0
    assert shadow_count == len(texts)
    assert health["shadow_share"] == 1.0
    assert health["canary_share"] == 0.0
    assert health["challenger"] == {"name": "imdb-sentiment", "version": registry["challenger"]}

    # Two rows per answered text, joined by its request id: the champion's and the shadow's.
    ids = [a["request_id"] for a in answered]
    rows = {role: part.set_index("request_id") for role, part in log.groupby("role")}
    assert sorted(rows) == ["champion", "shadow"]
    assert sorted(rows["champion"].index) == sorted(ids)
    assert sorted(rows["shadow"].index) == sorted(ids)
    champion, shadow = rows["champion"].loc[ids], rows["shadow"].loc[ids]
    assert set(champion["model_version"]) == {registry["champion"]}
    assert set(shadow["model_version"]) == {registry["challenger"]}
    assert champion["score"].tolist() == pytest.approx([a["score"] for a in answered])
    assert shadow["score"].tolist() == pytest.approx(scores_of(challenger_folder, texts))
    assert shadow["score"].tolist() != pytest.approx(champion["score"].tolist())
    assert shadow["text"].tolist() == texts
    assert (shadow["timestamp"] == champion["timestamp"]).all()  # one window holds both


def test_canary_share_is_within_a_binomial_interval_and_sticky_per_client(
    registry: dict[str, str], tmp_path: Path
) -> None:
    share, requests = 0.2, 2000
    set_challenger(registry["challenger"])
    with serve(tmp_path, serving__canary_share=str(share)) as client:
        challenger_in_play(client, registry["challenger"])
        versions = {
            f"client-{i}": client.post(
                "/v1/predict",
                json={"text": REVIEWS[i % len(REVIEWS)]},
                headers={"X-Client-ID": f"client-{i}"},
            ).json()["model"]["version"]
            for i in range(requests)
        }
        # Each of 100 clients, asking again about other reviews, meets the model it met first.
        again = {
            (client_id, client.post(
                "/v1/predict", json={"text": text}, headers={"X-Client-ID": client_id}
            ).json()["model"]["version"])
            for client_id in list(versions)[:100]
            for text in REVIEWS
        }  # fmt: skip
        # Without X-Client-ID, the same text meets the same model.
        anonymous = {
            text: {
                client.post("/v1/predict", json={"text": text}).json()["model"]["version"]
                for _ in range(3)
            }
            for text in REVIEWS
        }
        # The Open Inference Protocol answer names the version too, per the same draw.
        v2 = {
            client_id: client.post(
                "/v2/models/imdb-sentiment/infer",
                json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                  "data": [REVIEWS[0]]}]},
                headers={"X-Client-ID": client_id},
            ).json()["model_version"]
            for client_id in list(versions)[:40]
        }  # fmt: skip
        canary_count = metric(client, 'sentimentops_prediction_score_count{role="canary"}')
    log = read_log()

    canary = sum(version == registry["challenger"] for version in versions.values())
    low, high = stats.binom.interval(0.999, requests, share)
    assert low <= canary <= high, f"{canary} of {requests} answered by the canary"
    assert again == {(client_id, versions[client_id]) for client_id in list(versions)[:100]}
    assert all(len(met) == 1 for met in anonymous.values())
    assert v2 == {client_id: versions[client_id] for client_id in v2}
    assert len(set(v2.values())) == 2  # both sides among the 40
    # The log says which model answered each request, under role canary for the challenger.
    first = log.iloc[:requests]
    by_role = first.groupby("role")["model_version"].agg(set).to_dict()
    assert by_role == {"champion": {registry["champion"]}, "canary": {registry["challenger"]}}
    assert (first["role"] == "canary").sum() == canary
    assert canary_count == (log["role"] == "canary").sum()


def test_clients_sharing_the_api_key_are_split_by_their_texts(
    registry: dict[str, str], tmp_path: Path
) -> None:
    """A team's clients all present the one API key: it must not put them all on one side."""
    set_challenger(registry["challenger"])
    key = "a-team-key-long-enough-for-the-api-0123456789"
    with serve(tmp_path, serving__canary_share="0.5", api_key=key) as client:
        challenger_in_play(client, registry["challenger"])
        versions = [
            client.post(
                "/v1/predict",
                json={"text": f"{REVIEWS[i % len(REVIEWS)]} (review {i})"},
                headers={"X-API-Key": key},
            ).json()["model"]["version"]
            for i in range(60)
        ]

    assert set(versions) == {registry["champion"], registry["challenger"]}


def test_the_challenger_alias_may_come_and_go_while_the_champion_serves(
    registry: dict[str, str], tmp_path: Path
) -> None:
    settings = {"serving__shadow_share": "1", "serving__reload_interval_seconds": "0.5"}
    with serve(tmp_path, **settings) as client:
        eventually(
            lambda: "No challenger at" in (rollout(client)["note"] or ""),
            timeout=60,
            what="a note on the missing challenger",
        )
        before = rollout(client)
        no_challenger = client.post("/v1/predict", json={"text": REVIEWS[0]}).json()

        set_challenger(registry["challenger"])
        challenger_in_play(client, registry["challenger"])
        shadowed = client.post("/v1/predict", json={"text": REVIEWS[1]}).json()
        eventually(
            lambda: metric(client, 'sentimentops_shadow_requests_total{outcome="scored"}') == 1
        )
        info = client.get("/metrics").text

        set_challenger(registry["champion"])  # after a promotion both aliases name one version
        eventually(lambda: "champion itself" in (rollout(client)["note"] or ""))
        # Not held twice in memory: the challenger's slot is emptied, and says why.
        same_as_champion = rollout(client)["note"]
        remove_challenger()
        eventually(lambda: "no challenger" in (rollout(client)["note"] or ""))
        after = client.post("/v1/predict", json={"text": REVIEWS[2]}).json()
    server_log = (tmp_path / "server.log").read_text()
    log = read_log()

    assert before["challenger"] is None
    assert before["note"].startswith("no challenger at models:/imdb-sentiment@challenger")
    assert no_challenger["model"]["version"] == registry["champion"]
    assert after["model"]["version"] == registry["champion"]
    assert (
        f'sentimentops_model_info{{name="imdb-sentiment",role="challenger",'
        f'version="{registry["challenger"]}"}} 1.0'
    ) in info
    assert (
        f"rollout: challenger imdb-sentiment version {registry['challenger']} scores 100% of "
        "requests in shadow and answers 0% of clients (canary)"
    ) in server_log
    assert "the champion answers everything" in server_log
    assert same_as_champion == (
        "no challenger at models:/imdb-sentiment@challenger: it names the champion itself "
        f"(models:/imdb-sentiment/{registry['champion']})"
    )
    # Only the request answered while the challenger was in play has a shadow row.
    shadow = log[log["role"] == "shadow"]
    assert shadow["request_id"].tolist() == [shadowed["request_id"]]
    assert (log["role"] == "champion").sum() == 3
