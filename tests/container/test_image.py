"""The container image, built from the Dockerfile exactly as ``make image`` builds it, then run.

There is no Docker engine on the machines this runs on: podman builds the image (vfs storage,
chroot isolation; a local Debian bookworm base bootstrapped once and cached, see
``deploy/container/build_image.sh``), and ``buildah run --isolation chroot`` runs commands in
it (``podman run`` needs a container runtime these machines refuse). Such a run shares the host's
network, so an API started inside answers on the host's 127.0.0.1.

Marked ``container``: ``make test`` leaves these out, ``make test-container`` runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST_TRAINING_CONFIG
from tests.servers import free_port, stop

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "deploy" / "container" / "build_image.sh"
# vfs as in the build script: the store must be opened with the driver that wrote it.
PODMAN = ["podman", "--storage-driver", "vfs"]
BUILDAH = ["buildah", "--storage-driver", "vfs"]
APP_UID = 10001
STATE = "/var/lib/sentimentops"


def _run(command: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _checked(command: list[str], timeout: float = 600) -> str:
    completed = _run(command, timeout)
    assert completed.returncode == 0, (
        f"{command} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


@dataclass(frozen=True)
class Image:
    name: str
    config: dict[str, Any]  # `podman image inspect` of the built image

    def run_args(
        self,
        container: str,
        *command: str,
        volumes: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> list[str]:
        """A ``buildah run`` command line: as the image's own user (no --user), like a runtime."""
        args = [*BUILDAH, "run", "--isolation", "chroot"]
        for volume in volumes:
            args += ["--volume", volume]
        for name, value in (env or {}).items():
            args += ["--env", f"{name}={value}"]
        return [*args, container, "--", *command]


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """The image, built once for this module with the project's build script; removed after
    (the cached base image stays, so the next run skips the bootstrap)."""
    for tool in ("podman", "buildah"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install -y {tool} debootstrap"
    existing = os.environ.get("SENTIMENTOPS_TEST_IMAGE")
    if existing:  # iterating on the tests: an image built before (`make image`), kept afterwards
        inspected = json.loads(_checked([*PODMAN, "image", "inspect", existing]))
        yield Image(name=existing, config=inspected[0])
        return
    name = f"localhost/sentimentops:test-{uuid.uuid4().hex[:8]}"
    # podman even where a Docker engine answers: buildah runs the commands below from its store.
    env = {**os.environ, "CONTAINER_ENGINE": "podman"}
    # 20 minutes: a cold build takes 3.5 (7 on a loaded machine); more means something hangs.
    build = subprocess.run(
        [str(BUILD_SCRIPT), name],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1200,
    )
    assert build.returncode == 0, f"the build failed:\n{build.stdout[-8000:]}\n{build.stderr}"
    try:
        inspected = json.loads(_checked([*PODMAN, "image", "inspect", name]))
        yield Image(name=name, config=inspected[0])
    finally:
        # --force also removes any container still made from it.
        _run([*PODMAN, "rmi", "--force", name])


@pytest.fixture(scope="module")
def container(image: Image) -> Iterator[str]:
    """A working container of the image, removed afterwards. One for the module: with vfs each
    costs a full copy of the image (about 15 s to make, as long to remove), and the tests only
    read it (state goes to a mounted volume)."""
    name = _checked([*BUILDAH, "from", "--pull=never", "--quiet", image.name]).strip()
    # buildah run (1.28) mounts the image's VOLUME and a --volume for the same path in random
    # order, so the state volume would be hidden by an empty one in some runs. Drop the
    # declaration from this working container (the image keeps it: see the first test); a
    # runtime's named volume simply replaces the anonymous one.
    _checked([*BUILDAH, "config", "--volume", f"{STATE}-", name])
    try:
        yield name
    finally:
        _run([*BUILDAH, "rm", name])


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Host files the runs mount. Not pytest's tmp_path: concurrent pytest sessions on the
    machine rotate /tmp/pytest-of-<user>, and this test outlives many of them."""
    folder = Path(tempfile.mkdtemp(prefix="sentimentops-container-test-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def state_volume(workdir: Path) -> Path:
    """A host folder mounted as the image's state volume, owned by the image's user as a named
    volume would be."""
    state = workdir / "state"
    state.mkdir()
    os.chown(state, APP_UID, APP_UID)
    return state


def test_the_image_declares_how_it_runs(image: Image) -> None:
    config = image.config["Config"]
    assert config["User"] == "sentimentops"
    assert config["Entrypoint"] == ["sentimentops"]
    assert config["Cmd"] == ["serve", "--host", "0.0.0.0"]
    assert "8000/tcp" in config["ExposedPorts"]
    assert STATE in config["Volumes"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SENTIMENTOPS_HOME"] == STATE
    assert env["SENTIMENTOPS_SERVING__PORT"] == "8000"
    assert env["PATH"].startswith("/opt/venv/bin:")
    for name, value in {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    }.items():
        assert env[name] == value, name
    # The docker format keeps HEALTHCHECK (the OCI format would silently drop it).
    assert image.config["Healthcheck"]["Test"][0] == "CMD"


def test_it_runs_as_an_unprivileged_user_who_cannot_change_the_code(
    image: Image, container: str
) -> None:
    assert _checked(image.run_args(container, "id", "-u")).strip() == str(APP_UID)
    assert _checked(image.run_args(container, "id", "-un")).strip() == "sentimentops"
    tampering = _run(image.run_args(container, "touch", "/opt/venv/bin/sentimentops"))
    assert tampering.returncode != 0
    assert "Permission denied" in tampering.stderr
    # Only what the image needs: no uv, no build folder, no sources or tests beside the data.
    present = _checked(
        image.run_args(
            container,
            "sh",
            "-c",
            'for p in /opt/uv /build /app/src /app/tests; do [ -e "$p" ] && echo "$p"; done; true',
        )
    )
    assert present == ""
    assert _checked(image.run_args(container, "ls", "/app/data/imdb")).split() == [
        "imdb_reviews.parquet",
        "imdb_reviews.parquet.sha256",
    ]


def test_the_cli_answers(image: Image, container: str) -> None:
    output = _checked(image.run_args(container, "sentimentops", "--help"))
    for command in ("data", "train", "models", "predict", "serve", "monitor", "pipeline", "worker"):
        assert command in output, command


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited {server.returncode}:\n{log.read_text()}"
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(1)
    raise AssertionError(f"{url} not ready within {timeout} s:\n{log.read_text()}")


def test_it_trains_a_model_and_serves_it(
    image: Image, container: str, state_volume: Path, workdir: Path
) -> None:
    """A short training registers the champion in the state volume (MLflow's SQLite store by
    default); the image's default command then serves it, and its own HEALTHCHECK passes."""
    config = workdir / "config"
    config.mkdir()
    shutil.copy(FAST_TRAINING_CONFIG, config / "fast_training.yaml")
    volumes = (f"{state_volume}:{STATE}", f"{config}:/config:ro")

    trained = _run(
        image.run_args(
            container,
            "sentimentops",
            "--config",
            "/config/fast_training.yaml",
            "train",
            "--sample",
            "2000",
            "--models",
            "logreg",
            volumes=volumes,
        ),
        timeout=900,
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "Registered imdb-sentiment version 1" in trained.stdout
    assert "Champion is version 1" in trained.stdout
    database = state_volume / "mlflow.db"
    assert database.is_file()
    assert database.stat().st_uid == APP_UID  # written by the image's user, not root

    # The image's own entrypoint and command, on a free port (the network is the host's).
    port = free_port()
    env = {"SENTIMENTOPS_SERVING__PORT": str(port)}
    default_command = image.config["Config"]["Entrypoint"] + image.config["Config"]["Cmd"]
    log = workdir / "serve.log"
    base = f"http://127.0.0.1:{port}"
    healthcheck = image.config["Healthcheck"]["Test"][1:]
    with log.open("wb") as output:
        server = subprocess.Popen(
            image.run_args(container, *default_command, volumes=volumes, env=env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )
        try:
            _wait_ready(f"{base}/health/ready", server, log, timeout=180)
            status, body = _get(f"{base}/health/live")
            assert status == 200
            assert body["model"] == {"name": "imdb-sentiment", "version": "1"}
            request = urllib.request.Request(
                f"{base}/v1/predict",
                data=json.dumps({"text": "A wonderful, moving film."}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.loads(response.read())["label"] == "positive"
            # The HEALTHCHECK command, run inside as a runtime would run it.
            probe = _run(image.run_args(container, *healthcheck, env=env), timeout=60)
            assert probe.returncode == 0, probe.stderr
        finally:
            stop_group(server)
    assert server.returncode is not None
    # ... and it fails once the API is gone: it does check something.
    probe = _run(image.run_args(container, *healthcheck, env=env), timeout=60)
    assert probe.returncode != 0
    assert "Connection refused" in probe.stderr


def stop_group(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group (buildah and the server it started), as a runtime's
    stop would; SIGKILL if it does not finish in time."""
    stop(server, 40, group=True)
