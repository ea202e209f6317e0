"""``sentimentops serve`` as a user runs it: a real process of the installed script, with the
default store of a home holding a champion."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.servers import free_port, running
from tests.user import SCRIPT, run_cli, user_env


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


def test_a_host_that_is_not_this_machine_exits_2(user_champion_home: Path) -> None:
    completed = run_cli(
        "serve", "--host", "192.0.2.1", "--port", "8000", home=user_champion_home, timeout=120
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    assert completed.stderr.startswith("error: Cannot serve on http://192.0.2.1:8000: ")


def test_with_an_api_key_the_docs_and_schema_are_not_served(
    user_champion_home: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = user_env(user_champion_home, SENTIMENTOPS_API_KEY="s3cret")
    with running([str(SCRIPT), "serve", "--port", str(port)], f"{url}/health/live", log, env):
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert httpx.get(f"{url}{path}").status_code == 404, path
        assert httpx.get(f"{url}/v1/model").status_code == 401
    first_line = log.read_text().splitlines()[0]
    assert first_line.startswith("Serving models:/imdb-sentiment@champion (version 1) on")
    assert "/docs" not in first_line
