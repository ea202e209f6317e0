"""The CLI starts fast, and each package exposes an explicit public API."""

from __future__ import annotations

import ast
import graphlib
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

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


# The layers, bottom first: a package imports only from layers below its own (docs/architecture.md).
LAYERS: list[set[str]] = [
    {"errors"},
    {"config"},
    {"storage", "csv_safety", "helper_process", "features", "prediction_log"},
    {"data"},
    {"models"},
    {"tracking"},
    {"batch", "serving", "monitoring", "training"},
    {"cloud"},
    {"pipelines"},
    {"cli"},
]


def imported_packages(module: Path) -> set[str]:
    """The sentimentops packages ``module`` imports (``sentimentops.X...`` -> ``X``)."""
    tree = ast.parse(module.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("sentimentops.")}


def test_every_package_imports_only_from_the_layers_below_it() -> None:
    root = Path(sentimentops.__file__).parent
    layer_of = {package: level for level, layer in enumerate(LAYERS) for package in layer}
    upward = []
    for module in sorted(root.rglob("*.py")):
        own = module.relative_to(root).parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        assert own in layer_of, f"{own} is in no layer: add it to LAYERS"
        for imported in imported_packages(module) - {own}:
            if layer_of[imported] >= layer_of[own]:
                upward.append(f"{module.relative_to(root)} imports sentimentops.{imported}")

    assert not upward, upward


def imported_modules(module: Path) -> set[str]:
    """Every ``sentimentops`` module ``module`` imports, at its top or inside a function (a lazy
    import still ties two modules together), as dotted names."""
    tree = ast.parse(module.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("sentimentops.")}


def test_no_package_has_an_import_cycle_inside_it() -> None:
    """Within a package, modules import each other one way only: a cycle (batch/engines ->
    batch/model -> batch/predictor -> batch/engines, once) is hidden by a lazy import and makes
    the package one tangle."""
    root = Path(sentimentops.__file__).parent
    modules = {
        ".".join(("sentimentops", *path.relative_to(root).with_suffix("").parts)): path
        for path in root.rglob("*.py")
        if path.name != "__init__.py"
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.rsplit(".", 1)[0]
        graph[name] = {
            imported
            for imported in imported_modules(path)
            if imported in modules and imported.rsplit(".", 1)[0] == package and imported != name
        }

    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_cycle_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from sentimentops.batch import engines\n")

    assert "sentimentops.batch.engines" in imported_modules(module)
