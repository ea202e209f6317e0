"""Real servers for tests: any command with a health URL on a free port, moto S3, and
databases of their own on the local PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import pytest
from moto.server import ThreadedMotoServer

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def eventually(
    check: Callable[[], T],
    timeout: float = 20.0,
    *,
    what: str = "the condition",
    interval: float = 0.05,
    not_yet: tuple[type[BaseException], ...] = (),
) -> T:
    """``check()``'s first truthy result, polling every ``interval`` s until ``timeout``.

    An exception of a type in ``not_yet`` (a server not answering yet, an object not written
    yet) counts as "not yet", not as a failure.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except not_yet:
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0, *, group: bool = False) -> bool:
    """SIGTERM (to its whole process group with ``group``), then SIGKILL if it has not exited
    within ``timeout``. Returns whether it stopped on SIGTERM."""
    if process.poll() is not None:
        return True

    def signal_it(number: int) -> None:
        with suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, number)
            else:
                process.send_signal(number)

    signal_it(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        signal_it(signal.SIGKILL)
        process.wait()
        return False


def kill_group(command: subprocess.Popen[str]) -> None:
    """A test that failed half-way leaves no process behind: SIGKILL to the command's process
    group (it was started in a session of its own), then reap it."""
    if command.poll() is None:
        os.killpg(command.pid, signal.SIGKILL)
    command.communicate()


@contextmanager
def running(
    command: list[str],
    health_url: str,
    log: Path,
    env: dict[str, str],
    *,
    new_session: bool = False,
) -> Iterator[None]:
    """Start ``command``, wait until ``health_url`` answers 200, stop it afterwards.

    ``new_session``: in a process group of its own, stopped as a group (``mlflow server`` runs
    its web server as a child that outlives a signal to the parent).
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=new_session,
        )
        try:
            wait_for(health_url, process)
            yield
        finally:
            stop(process, group=new_session)


def script_json(
    script: str, *, env: dict[str, str] | None = None, new_session: bool = False
) -> dict[str, Any]:
    """``script`` in a fresh interpreter (one thread, as a command starts); the JSON it printed
    last. ``new_session``: in a process group of its own, as a terminal's foreground job."""
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
        start_new_session=new_session,
    )
    assert completed.returncode == 0, completed.stderr
    printed: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return printed


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def mlflow_server_command(backend_store: str, artifacts: Path, port: int) -> list[str]:
    """``mlflow server`` on 127.0.0.1:``port`` with one worker, artifacts proxied to a folder."""
    return [
        MLFLOW, "server",
        "--backend-store-uri", backend_store,
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip


MLFLOW = str(Path(sys.executable).parent / "mlflow")


@contextmanager
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server speaking the AWS APIs on loopback; AWS_ENDPOINT_URL points at it, as it
    would at LocalStack. Yields the endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state in the process, across servers: start every test from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield endpoint
    finally:
        server.stop()


def without_aws_credentials(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """No AWS credentials anywhere botocore looks: none in the environment, empty shared files
    (written in ``folder``), no instance metadata service. ``AWS_ENDPOINT_URL`` is kept."""
    import s3fs

    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        empty = folder / variable.lower()
        empty.write_text("")
        monkeypatch.setenv(variable, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()  # a cached filesystem keeps the credentials it had


POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@contextmanager
def postgres_database(prefix: str = "sentimentops_test") -> Iterator[str]:
    """A fresh database on the local PostgreSQL (trust auth), dropped afterwards even when a
    connection was left open. Yields its SQLAlchemy URL (``postgresql+psycopg2://...``)."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES.replace("+psycopg2", "") + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
