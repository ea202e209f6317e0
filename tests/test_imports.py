"""The CLI starts fast, and each package exposes an explicit public API."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import sentimentops

HEAVY = ("mlflow", "prefect", "evidently", "dask", "distributed")


def modules_loaded_by(code: str) -> set[str]:
    script = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(output.splitlines()[-1])}


def test_importing_the_cli_loads_no_heavy_framework() -> None:
    loaded = modules_loaded_by("import sentimentops.cli.main")

    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_help_loads_no_heavy_framework() -> None:
    code = (
        "from typer.testing import CliRunner\n"
        "from sentimentops.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output"
    )
    loaded = modules_loaded_by(code)

    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    # The check can fail: the frameworks are installed and importable in this environment.
    assert "mlflow" in modules_loaded_by("import mlflow")


@pytest.mark.parametrize(
    "module",
    sorted(
        m.name for m in pkgutil.walk_packages(sentimentops.__path__, "sentimentops.") if not m.ispkg
    ),
)
def test_public_names_exist(module: str) -> None:
    imported = importlib.import_module(module)

    assert hasattr(imported, "__all__"), f"{module} declares no __all__"
    for name in imported.__all__:
        assert hasattr(imported, name), f"{module}.__all__ names missing {name}"
