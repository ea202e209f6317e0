"""The compose stack as local processes: each service of docker-compose.yml runs its own
command with its own environment, read from the file, on this machine instead of in a
container. Only what a container would change is translated: service host names and ports
become 127.0.0.1 and free ports, the databases are ones this test created on the local
PostgreSQL, a moto server stands in for LocalStack, and the image's state folder is a
temporary folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deploy.compose import (
    ROOT,
    command_of,
    environment_of,
    interpolate_document,
    raw_compose,
    read_env_file,
)
from tests.servers import POSTGRES, free_port, wait_for

VENV_BIN = Path(sys.executable).parent
# What the image's ENTRYPOINT and ENV hold (Dockerfile): the CLI, the state folder, no telemetry.
IMAGE_ENTRYPOINT = [str(VENV_BIN / "sentimentops")]
IMAGE_STATE = "/var/lib/sentimentops"
IMAGE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
# Ports the services listen on inside the compose network.
SERVICE_PORTS = {"mlflow": 5000, "prefect": 4200, "api": 8000}
HEALTH_PATHS = {"mlflow": "/health", "prefect": "/api/health", "api": "/health/live"}
# moto's account id in queue URLs, where LocalStack's is 000000000000.
LOCALSTACK_ACCOUNT, MOTO_ACCOUNT = "000000000000", "123456789012"
# The host's own variables a service must not inherit: it gets only what compose gives it.
_INHERITED_PREFIXES = ("SENTIMENTOPS_", "MLFLOW_", "PREFECT_", "AWS_")


@dataclass
class TeamStack:
    """The stack's services on this machine. ``env_file`` plays the part of ``.env``."""

    env_file: dict[str, str]
    databases: dict[str, str]  # compose database name -> the database created for this test
    moto_endpoint: str
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {service: free_port() for service in SERVICE_PORTS}
        self.compose = interpolate_document(raw_compose(), self.env_file)
        self.state = self.workdir / "state"  # the named volume `state`
        self.state.mkdir(parents=True, exist_ok=True)

    # -- translation -------------------------------------------------------------------------

    def localise(self, value: str) -> str:
        """A value of the compose file as it must read on this machine."""
        user, password = self.env_file["POSTGRES_USER"], self.env_file["POSTGRES_PASSWORD"]
        for database, local_name in self.databases.items():
            value = value.replace(
                f"{user}:{password}@postgres:5432/{database}",
                f"{POSTGRES.split('://', 1)[1]}/{local_name}",
            )
        value = value.replace(
            f"http://localstack:4566/{LOCALSTACK_ACCOUNT}/", f"{self.moto_endpoint}/{MOTO_ACCOUNT}/"
        )
        value = value.replace("http://localstack:4566", self.moto_endpoint)
        for service, port in SERVICE_PORTS.items():
            value = value.replace(f"{service}:{port}", f"127.0.0.1:{self.ports[service]}")
        return value.replace(IMAGE_STATE, str(self.state))

    def service(self, name: str) -> dict[str, Any]:
        return dict(self.compose["services"][name])

    def environment(self, name: str) -> dict[str, str]:
        host = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_INHERITED_PREFIXES)
        }
        own = {
            key: self.localise(value) for key, value in environment_of(self.service(name)).items()
        }
        return host | IMAGE_ENV | {"SENTIMENTOPS_HOME": str(self.state)} | own

    def argv(self, name: str, command: list[str] | None = None) -> list[str]:
        service = self.service(name)
        if command is not None:
            service["command"] = command
        argv = [self.localise(part) for part in command_of(service, IMAGE_ENTRYPOINT)]
        if name in SERVICE_PORTS:  # listen where this machine can reach it, on its free port
            argv = [
                {"0.0.0.0": "127.0.0.1", str(SERVICE_PORTS[name]): str(self.ports[name])}.get(
                    part, part
                )
                for part in argv
            ]
            argv = [
                part.replace(f":{SERVICE_PORTS[name]}", f":{self.ports[name]}") for part in argv
            ]
        if argv[0] in ("mlflow", "prefect"):  # the image has them on PATH; here, the venv
            argv[0] = str(VENV_BIN / argv[0])
        return argv

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    # -- processes ---------------------------------------------------------------------------

    def up(self, name: str, timeout: float = 180.0) -> None:
        """``docker compose up <name>``: start it and wait until it is healthy (or running)."""
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                self.argv(name),
                env=self.environment(name),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # servers fork workers: stop the whole group
            )
        self._processes[name] = process
        if name in HEALTH_PATHS:
            wait_for(self.url(name, HEALTH_PATHS[name]), process, timeout=timeout)
        else:
            time.sleep(2)
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.log(name)}")

    def run(
        self, name: str, *command: str, env: dict[str, str] | None = None, timeout: float = 600.0
    ) -> subprocess.CompletedProcess[str]:
        """``docker compose run --rm [-e NAME=value...] <name> <command...>``: a one-off run,
        its output captured."""
        return subprocess.run(
            self.argv(name, list(command)),
            env=self.environment(name) | (env or {}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def running(self, name: str) -> bool:
        return self._processes[name].poll() is None

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def down(self) -> None:
        """``docker compose down``: SIGTERM every service, as compose does, then SIGKILL."""
        for process in reversed(list(self._processes.values())):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def team_stack(
    databases: dict[str, str], moto_endpoint: str, workdir: Path, **env_file: str
) -> Iterator[TeamStack]:
    """The stack with .env.example's values (``env_file`` overrides some), stopped afterwards."""
    stack = TeamStack(read_env_file() | env_file, databases, moto_endpoint, workdir)
    try:
        yield stack
    finally:
        stack.down()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)
