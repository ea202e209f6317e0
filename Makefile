# sentimentops: `make run` runs the main job, `make test` runs every test. Both set up what they
# need first: uv (via pip) if missing, then the locked environment (`uv sync --frozen`), with
# bytecode compiled at install, the project's own src/ too: where PYTHONDONTWRITEBYTECODE is set,
# every process would otherwise compile MLflow, Evidently, scikit-learn... again (about 20 s each).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The project runs offline: no telemetry from MLflow, Prefect or Evidently.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export EVIDENTLY_DISABLE_TELEMETRY := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
SYNCED := $(VENV)/.synced
RUNTIME := $(VENV)/.synced-runtime
HOME_DIR ?= $(or $(SENTIMENTOPS_HOME),.sentimentops)

.PHONY: help setup run test lint terraform-check audit lambda-zip image test-stack test-container container-tools browser-tools format bench bench-speed bench-data bench-train bench-batch bench-serve bench-shadow bench-monitor bench-model bench-run bench-reliability bench-outage bench-loop bench-dashboard clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

# uv itself, when missing.
UV_READY = command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
	$(PYTHON) -m pip install --user --quiet uv || \
	$(PYTHON) -m pip install --user --quiet --break-system-packages uv

# Everything, the test and lint tools too.
$(SYNCED): pyproject.toml uv.lock
	@$(UV_READY)
	$(UV) sync --frozen --compile-bytecode
	@# The project is installed editable, which uv leaves uncompiled: its own modules too.
	@$(BIN)/python -m compileall -q -j 0 src >/dev/null
	@touch $@ $(RUNTIME)

# What the project runs on, without the development group (64 packages, a fifth of the install):
# the first `make run` waits on no test tool. --inexact keeps the tools when they are there.
$(RUNTIME): pyproject.toml uv.lock
	@$(UV_READY)
	$(UV) sync --frozen --no-dev --inexact --compile-bytecode
	@$(BIN)/python -m compileall -q -j 0 src >/dev/null
	@touch $@

setup: $(SYNCED) ## Install uv if missing and the locked environment

run: $(RUNTIME) ## The main job (Prefect): train, batch-score the test split, monitor it, summarise
	$(BIN)/sentimentops pipeline run main

# Test processes for `make test` (pytest-xdist). Two overlap the tests that wait on servers they
# start; more than the cores buy little, and each holds its own models and data in memory.
TEST_WORKERS ?= 2

# Extra pytest arguments, e.g. PYTEST_ARGS=--durations=25 (make bench-speed does).
PYTEST_ARGS ?=

test: $(SYNCED) ## Run all tests but the stack and container ones (pyproject's -m), in parallel
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-stack: $(SYNCED) browser-tools ## Tests of real servers for minutes: the team-mode stack, load, MLflow server, the dashboard in Chromium
	$(BIN)/pytest -m stack

test-container: $(SYNCED) container-tools ## Build the image (podman here, see docs/containers.md) and run it
	$(BIN)/pytest -m container tests/container

# Without a Docker engine the image is built with podman/buildah on a debootstrapped base
# (docs/containers.md): the Debian packages, installed once when missing (as root, or via sudo).
CONTAINER_TOOLS := podman buildah debootstrap
container-tools: ## Install podman, buildah and debootstrap (apt) unless present or Docker answers
	@if docker info >/dev/null 2>&1; then exit 0; fi; \
	missing=$$(for tool in $(CONTAINER_TOOLS); do command -v $$tool >/dev/null || echo $$tool; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "Installing $$missing (apt)"; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq $(CONTAINER_TOOLS); \
	fi

# The browser tests (tests/monitoring/test_browser.py) drive Debian's Chromium with Playwright:
# Playwright's own browser download needs the internet, the Debian package does not.
browser-tools: ## Install Debian's chromium (apt) unless present
	@if ! command -v chromium >/dev/null; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "Installing chromium (apt)"; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium; \
	fi

lint: $(SYNCED) ## ruff check, ruff format --check, mypy, checkov on the Terraform
	$(BIN)/ruff check src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy
	$(BIN)/mypy
	$(MAKE) terraform-check

# checkov runs in its own throwaway environment (uvx): its pins must not shape the project's.
CHECKOV := checkov==3.2.533
terraform-check: $(SYNCED) ## checkov on deploy/terraform: no failed check (skips justified inline)
	$(UV) tool run --python 3.11 --from "$(CHECKOV)" checkov -d deploy/terraform \
		--framework terraform --compact --quiet --skip-download

# pip-audit also runs in a throwaway environment, against the exact pins of uv.lock (every group,
# hashes included) exported to a temporary file. It asks PyPI's JSON API for each pinned
# version's advisories. --strict: a pin that cannot be looked up fails the audit instead of
# being skipped, so an unreachable PyPI can never pass as "no known vulnerabilities".
# It needs an advisory service: GitHub's CI runs it (ci.yml, job audit). The project's own CI
# machine reaches only the package registries, where PyPI's per-version JSON answers 404 and
# osv.dev does not resolve, so there it could only fail (or, without --strict, check nothing).
PIP_AUDIT := pip-audit==2.10.1
# Advisories accepted on purpose: one `--ignore-vuln ID` per known-vulnerable pin that cannot
# be upgraded yet, each with the reason on the line above it. None listed yet.
AUDIT_IGNORES :=
audit: $(SYNCED) ## pip-audit on uv.lock's pinned versions: no known vulnerability left unexplained
	@requirements=$$(mktemp) && trap 'rm -f "$$requirements"' EXIT && \
	$(UV) export --frozen --no-emit-project --format requirements-txt --quiet \
		-o "$$requirements" && \
	$(UV) tool run --python 3.11 --from "$(PIP_AUDIT)" pip-audit --strict --disable-pip \
		--progress-spinner off -r "$$requirements" $(AUDIT_IGNORES)

format: $(SYNCED) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks deploy
	$(BIN)/ruff format src tests benchmarks deploy

# Every benchmark measures the machine calibration first (benchmarks/calibration.py) and reports
# its figures in seconds and as multiples of it (BENCHMARKS.md).
bench: bench-speed bench-data bench-train bench-batch bench-serve bench-shadow bench-monitor bench-model bench-reliability bench-outage bench-loop bench-dashboard ## Run every benchmark (bench-speed includes bench-run)

bench-speed: $(SYNCED) ## What a user meets: make run, make test on fresh clones, cold commands (about an hour)
	$(BIN)/python benchmarks/bench_speed.py

bench-data: $(SYNCED) ## Data loading/validation/splitting throughput and peak memory on the 50k set
	$(BIN)/python benchmarks/bench_data.py

bench-train: $(SYNCED) ## Full training on the official split, 3 times: wall time, peak memory, accuracy
	$(BIN)/python benchmarks/bench_train.py official

bench-batch: $(SYNCED) ## Batch scoring: overhead vs raw predict_proba, Dask scaling, 1M-row memory
	$(BIN)/python benchmarks/bench_batch.py

bench-serve: $(SYNCED) ## The API against `mlflow models serve`: throughput, p50, p99 at 1/16/64
	$(BIN)/python benchmarks/bench_serve.py

bench-shadow: $(SYNCED) ## What shadow scoring costs the champion: p99 at concurrency 16, shadow off vs on
	$(BIN)/python benchmarks/bench_shadow.py

bench-monitor: $(SYNCED) ## Monitoring calibration: false alarms, detection per shift, estimate error
	$(BIN)/python benchmarks/bench_monitor.py

bench-model: $(SYNCED) ## The model alone: latency by batch size, two-process parallel ceiling
	$(BIN)/python benchmarks/bench_model.py

bench-run: $(SYNCED) ## make run on fresh clones, then again in each: wall time, what was reused
	$(BIN)/python benchmarks/bench_speed.py --only run

bench-dashboard: $(SYNCED) browser-tools ## The workspace snapshot's cost per run; the dashboard of 500 runs in Chromium
	$(BIN)/python benchmarks/bench_dashboard.py

bench-reliability: $(SYNCED) ## 5 min of locust at 64 clients: 5xx, p99, RSS growth, log rows
	$(BIN)/python benchmarks/bench_reliability.py --duration 300 --users 64

bench-outage: $(SYNCED) ## 64 clients for 18 min, the log database away for 10 of them: spool, replay, p99
	$(BIN)/python benchmarks/bench_reliability.py --duration 1080 --users 64 \
		--outage-start 120 --outage-seconds 600 --output benchmarks/results/reliability-outage.json

bench-loop: $(SYNCED) ## The closed loop on a vocabulary shift: alert, retrain on feedback, shadow, online promotion (about 10 min)
	$(BIN)/python benchmarks/bench_loop.py --calibration-runs 1

image: container-tools ## Build the container image: docker build, or podman on a cached Debian base
	deploy/container/build_image.sh $(or $(IMAGE),localhost/sentimentops:dev)

lambda-zip: $(SYNCED) ## Build build/lambda.zip, the Lambda deployment package (sizes printed)
	$(BIN)/python deploy/lambda/build_zip.py

clean: ## Remove the environment and local state
	rm -rf $(VENV) $(HOME_DIR) build .pytest_cache .mypy_cache .ruff_cache
