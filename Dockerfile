# The sentimentops image: one image for every command (the API, the SQS worker, the Prefect
# flows, `train`, `predict`, ...). The entrypoint is the CLI; the default command serves the API.
#
#   docker build -t sentimentops .
#   docker run -p 8000:8000 -v sentimentops:/var/lib/sentimentops sentimentops      # the API
#   docker run -v sentimentops:/var/lib/sentimentops sentimentops train --sample 5000
#
# Without a Docker engine: `make image` (podman, see docs/containers.md). No `# syntax=` line:
# the cache mounts below are in Docker's built-in Dockerfile frontend (BuildKit, Docker 23+),
# and the directive would make every build fetch a frontend image from Docker Hub.

# Named once: every stage builds on it, so `--build-arg BASE_IMAGE=...` swaps the base of the
# whole build (podman's --from would only replace the first FROM). Any image with a Python 3.11
# `python3` on PATH works: the official python:3.11-slim or a plain Debian bookworm + python3.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# Builder: the locked environment (uv.lock, no dev tools) in /opt/venv, the path it runs from.
FROM ${BASE_IMAGE} AS builder

# The uv that made uv.lock (`uv --version`); installed in its own venv, which stays here.
ARG UV_VERSION=0.13.9

# PIP_CERT and UV_SYSTEM_CERTS: trust the operating system's CA store (standard on both bases),
# so builds also work behind a TLS-inspecting proxy whose CA the build mounts there.
# UV_PYTHON: the base's own python3, never a downloaded one, so the venv's interpreter exists
# in the runtime stage (same base) at the same path.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_SYSTEM_CERTS=1 \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"

WORKDIR /build

# Dependencies first, from the lock alone: this layer is rebuilt only when the lock changes,
# not on every source edit. README.md is the package's readme (pyproject), needed to build it.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

# Then the project itself, installed as a wheel (not editable): /build is not copied onwards.
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# Runtime: the base, the venv, the vendored dataset and an unprivileged user. No uv, no pip
# cache, no sources, no compilers.
FROM ${BASE_IMAGE} AS runtime

# State (MLflow's SQLite store and artifacts, splits, reports, the prediction log, Prefect's
# home) lives in SENTIMENTOPS_HOME, a volume. Telemetry off, as in the Makefile.
# The API's port is a setting (serving.port), so the health check follows an override.
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SENTIMENTOPS_HOME=/var/lib/sentimentops \
    SENTIMENTOPS_SERVING__PORT=8000 \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    EVIDENTLY_DISABLE_TELEMETRY=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

# A fixed uid/gid (10001) so a mounted volume's ownership is predictable on any host.
RUN groupadd --system --gid 10001 sentimentops \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/sentimentops \
        --shell /usr/sbin/nologin sentimentops \
    && mkdir -p /var/lib/sentimentops \
    && chown sentimentops:sentimentops /var/lib/sentimentops

COPY --from=builder /opt/venv /opt/venv

# The vendored IMDB data (21 MB, with its checksum): `train` and the flows use it by default,
# through the relative data.reference_path, which resolves from this working directory.
WORKDIR /app
COPY data/imdb ./data/imdb

USER sentimentops
VOLUME ["/var/lib/sentimentops"]
EXPOSE 8000

# The API's liveness (python: the slim base has no curl). Commands other than `serve` (worker,
# pipelines) turn it off in their service definition.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SENTIMENTOPS_SERVING__PORT', '8000') + '/health/live', timeout=4)"]

ENTRYPOINT ["sentimentops"]
CMD ["serve", "--host", "0.0.0.0"]
