"""``sentimentops serve`` as a user runs it: a real process of the installed script, with the
default store of a home holding a champion."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import eventually, free_port, running, stop, wait_for
from tests.user import SCRIPT, clone_home, run_cli, user_env


def test_a_busy_port_exits_2_with_one_line_before_the_model_is_checked(
    user_champion_home: Path,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        completed = run_cli("serve", "--port", str(port), home=user_champion_home, timeout=120)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    # Nothing claims to serve: the port is checked before the model (seconds of imports).
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        f"error: Port {port} is already in use on 127.0.0.1, so the API cannot serve on "
        f"http://127.0.0.1:{port}. Stop what holds it, or pick another port with --port."
    ]


@pytest.mark.parametrize("port", ["65536", "999999", "-5"])
def test_a_port_outside_tcp_s_range_is_a_usage_error(port: str, tmp_path: Path) -> None:
    """999999 was served on 999999 mod 65536 (16959) while the banner said 999999; -5 was
    refused as "Servname not supported"."""
    completed = run_cli("serve", "--port", port, home=tmp_path / "home", timeout=120)

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Invalid value for '--port'" in completed.stderr
    assert "Serving" not in completed.stdout


def test_a_host_that_is_not_this_machine_exits_2(user_champion_home: Path) -> None:
    completed = run_cli(
        "serve", "--host", "192.0.2.1", "--port", "8000", home=user_champion_home, timeout=120
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.startswith("error: Cannot serve on http://192.0.2.1:8000: ")


def test_a_bad_setting_of_the_app_exits_2_before_any_worker_starts(
    user_champion_home: Path,
) -> None:
    """With several workers, each builds the app: uvicorn restarted every failing worker,
    forever, instead of the command saying what is wrong."""
    completed = run_cli(
        "serve", "--port", str(free_port()), "--workers", "2",
        home=user_champion_home, timeout=120, SENTIMENTOPS_PREDICTION_LOG__URL="mysql://db/log",
    )  # fmt: skip

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""  # nothing claims to serve
    assert completed.stderr.startswith(
        "error: prediction_log.url (SENTIMENTOPS_PREDICTION_LOG__URL)"
    )
    assert "Traceback" not in completed.stderr


def test_a_spool_folder_that_cannot_be_written_exits_2(
    user_champion_home: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    completed = run_cli(
        "serve", "--port", str(free_port()),
        home=user_champion_home, timeout=120,
        SENTIMENTOPS_PREDICTION_LOG__SPOOL_DIR=str(blocker / "spool"),
    )  # fmt: skip

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.startswith(
        f"error: The prediction log spool folder {blocker / 'spool'} cannot be used"
    )
    assert "SENTIMENTOPS_PREDICTION_LOG__SPOOL_DIR" in completed.stderr
    assert "Traceback" not in completed.stderr


KEY = "s3cret"


@dataclass(frozen=True)
class Served:
    url: str
    log: Path


@pytest.fixture(scope="module")
def guarded_api(
    user_champion_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``sentimentops serve`` with an API key, as a user starts it, ready to answer; in a copy
    of the session's home, whose prediction log other tests read."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("serve")
    log = folder / "serve.log"
    env = user_env(clone_home(user_champion_home, folder / "home"), SENTIMENTOPS_API_KEY=KEY)
    with running([str(SCRIPT), "serve", "--port", str(port)], f"{url}/health/ready", log, env):
        yield Served(url, log)


def test_with_an_api_key_the_docs_and_schema_are_not_served(guarded_api: Served) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(f"{guarded_api.url}{path}").status_code == 404, path
    assert httpx.get(f"{guarded_api.url}/v1/model").status_code == 401
    first_line = guarded_api.log.read_text().splitlines()[0]
    assert first_line.startswith("Serving models:/imdb-sentiment@champion (version 1) on")
    assert "/docs" not in first_line


def test_feedback_is_accepted_for_an_answered_prediction_only(guarded_api: Served) -> None:
    with httpx.Client(base_url=guarded_api.url, headers={"X-API-Key": KEY}) as client:
        answer = client.post("/v1/predict", json={"text": "A moving, wonderful film."}).json()
        # At once, while the log writer may still hold the prediction.
        accepted = client.post(
            "/v1/feedback", json={"request_id": answer["request_id"], "label": "positive"}
        )
        assert accepted.status_code == 202, accepted.text
        for never_issued in ("nope", "0" * 32):
            refused = client.post(
                "/v1/feedback", json={"request_id": never_issued, "label": "positive"}
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["type"] == "unknown_request_id"


def test_liveness_answers_while_the_model_still_loads(user_home: Path, tmp_path: Path) -> None:
    """The port opens before a model is in. A champion loads in milliseconds once its
    registry answer is prefetched, too fast to catch between the two: so the champion alias
    appears only after the API started (``--wait-for-model``), and is loaded when it does."""
    from mlflow import MlflowClient

    registry = MlflowClient(tracking_uri=f"sqlite:///{user_home / 'mlflow.db'}")
    registry.delete_registered_model_alias("imdb-sentiment", "champion")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port), "--wait-for-model"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=user_env(user_home),
        )
        try:
            first_live = eventually(
                lambda: _answer(f"{url}/health/live"), timeout=120, interval=0.02
            )
            ready_then = _answer(f"{url}/health/ready", accept_503=True)
            registry.set_registered_model_alias("imdb-sentiment", "champion", "1")
            wait_for(f"{url}/health/ready", process)
            live_now = _answer(f"{url}/health/live")
        finally:
            stop(process)

    # The port opened before the model was in: alive, not ready yet.
    assert first_live == {"status": "ok", "model": None, "error": None, "rollout": None}
    assert ready_then is not None
    assert ready_then["status"] == "loading"
    assert live_now is not None
    assert live_now["model"] == {"name": "imdb-sentiment", "version": "1"}


def _answer(url: str, *, accept_503: bool = False) -> dict[str, object] | None:
    """The JSON body of a 200 (or 503) from ``url``; None while the port is closed."""
    try:
        response = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None
    if response.status_code == 200 or (accept_503 and response.status_code == 503):
        return dict(response.json())
    return None


def test_port_0_is_served_on_the_port_the_system_picks_and_says_where(
    user_champion_home: Path, tmp_path: Path
) -> None:
    """The banner said http://127.0.0.1:0, where nothing listens."""
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=user_env(user_champion_home),
        )
        try:
            running_on = eventually(
                lambda: re.search(
                    r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log_path.read_text()
                ),
                timeout=120,
                interval=0.05,
            )
            assert running_on is not None, log_path.read_text()
            url = f"http://127.0.0.1:{running_on[1]}"
            wait_for(f"{url}/health/ready", process)
        finally:
            stop(process)

    output = " ".join(log_path.read_text().split())
    assert "on a free port of 127.0.0.1 (uvicorn's line below names it)" in output
    assert "127.0.0.1:0" not in output
