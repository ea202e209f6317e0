"""Security (issue #10, item 8): no model is ever unpickled, the API key is compared in
constant time and never written anywhere, and secrets come only from the environment."""

from __future__ import annotations

import ast
import base64
import hashlib
import logging
import pickle
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sentimentops.cli.main import app
from sentimentops.config import get_settings, load_settings
from sentimentops.errors import ConfigError, ModelIntegrityError
from sentimentops.serving.app import create_app
from sentimentops.tracking.flavor import CHECKSUM_KEY, MODEL_FILE
from sentimentops.tracking.loading import load_version
from tests.pickles import RunsCode
from tests.serving.conftest import wait_ready

SOURCE = Path(__file__).resolve().parents[2] / "src" / "sentimentops"
SECRET = "sk-test-7f3a9c1e5b2d8f4a"  # distinctive: any occurrence anywhere is a leak
runner = CliRunner()


# ---- no pickle: a static scan of src/, and models that would run code are refused ----

# Functions that unpickle what they read (or may: numpy with allow_pickle, skops told to trust
# anything), by their full dotted name.
UNPICKLING_CALLS = {
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "_pickle.load",
    "_pickle.loads",
    "cloudpickle.load",
    "cloudpickle.loads",
    "dill.load",
    "dill.loads",
    "joblib.load",
    "pandas.read_pickle",
    "shelve.open",
    "marshal.load",
    "marshal.loads",
    "torch.load",
    "mlflow.sklearn.load_model",  # pickle, cloudpickle or skops: whatever the MLmodel says
    "mlflow.pyfunc.load_model",
}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _calls(tree: ast.Module, function: str, callee: str) -> bool:
    """Whether the module's function ``function`` calls ``callee`` (by its plain name)."""
    return any(
        isinstance(node, ast.FunctionDef)
        and node.name == function
        and any(
            isinstance(call, ast.Call) and ast.unparse(call.func) == callee
            for call in ast.walk(node)
        )
        for node in ast.walk(tree)
    )


def _key_fn_unguarded(task: ast.Call, tree: ast.Module) -> bool:
    key_fn = _keyword(task, "cache_key_fn")
    return isinstance(key_fn, ast.Name) and not _calls(tree, key_fn.id, "trusted_cache_key")


def unpickling_in(source: str) -> list[str]:
    """What in ``source`` unpickles (or lets a task's result be pickled), as ``line: call``."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases) or ""
        if name in UNPICKLING_CALLS:
            found.append(f"{node.lineno}: {name}")
        elif name.endswith(("numpy.load", "np.load")) and _is_true(_keyword(node, "allow_pickle")):
            found.append(f"{node.lineno}: {name}(allow_pickle=True)")
        elif name in ("skops.io.load", "skops.io.loads") and (
            _keyword(node, "trusted") is None or _is_true(_keyword(node, "trusted"))
        ):
            found.append(f"{node.lineno}: {name} without a fixed trusted list")
        elif (
            name.endswith("task")
            and (_is_true(_keyword(node, "persist_result")) or _keyword(node, "cache_key_fn"))
            and _keyword(node, "result_serializer") is None
        ):
            # A cached Prefect task's result is read back by the next run: pickle by default.
            found.append(f"{node.lineno}: {name} cached with Prefect's default (pickle)")
        elif name.endswith("task") and _key_fn_unguarded(node, tree):
            # Prefect reads a record with the serializer the record names: the key function
            # must drop records not written by SkopsResultSerializer before Prefect looks.
            found.append(f"{node.lineno}: a cache_key_fn that does not call trusted_cache_key")
    return found


def test_the_scan_finds_each_way_of_unpickling() -> None:
    """The scan below proves something only if it would have caught these."""
    source = (
        "import pickle, joblib\nimport numpy as np\nimport pandas as pd\nimport skops.io\n"
        "from mlflow import sklearn\nfrom cloudpickle import loads as unpickle\n"
        "from prefect import task\n"
        "pickle.load(f)\njoblib.load(p)\nnp.load(p, allow_pickle=True)\npd.read_pickle(p)\n"
        "skops.io.load(p, trusted=True)\nsklearn.load_model(u)\nunpickle(b)\n"
        "@task(cache_key_fn=key)\ndef cached(): ...\n"
        "np.load(p)\nskops.io.load(p, trusted=TRUSTED)\n"
        "@task(persist_result=True, result_serializer=Safe())\ndef safe(): ...\n"
        "def key(c, p): return p['k']\n"
        "@task(cache_key_fn=key, result_serializer=Safe())\ndef unguarded(): ...\n"
        "def guarded_key(c, p): return trusted_cache_key(p['k'], storage)\n"
        "@task(cache_key_fn=guarded_key, result_serializer=Safe())\ndef guarded(): ...\n"
    )
    assert [line.split(":")[0] for line in unpickling_in(source)] == [
        *(str(number) for number in range(8, 16)),
        "22",
    ]


def test_no_source_file_unpickles_anything() -> None:
    found = {
        str(path.relative_to(SOURCE)): problems
        for path in sorted(SOURCE.rglob("*.py"))
        if (problems := unpickling_in(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def _tampered(model_folder: Path, tmp_path: Path, content: bytes) -> Path:
    """A copy of the model folder whose model.skops is ``content``, with MLmodel's checksum
    updated to match: only the loader's own refusal can stop it."""
    folder = tmp_path / "tampered"
    shutil.copytree(model_folder, folder)
    (folder / MODEL_FILE).write_bytes(content)
    mlmodel = folder / "MLmodel"
    spec = yaml.safe_load(mlmodel.read_text())
    spec["metadata"][CHECKSUM_KEY] = hashlib.sha256(content).hexdigest()
    mlmodel.write_text(yaml.safe_dump(spec))
    return folder


def test_a_pickle_posing_as_a_model_is_refused_without_running(
    model_folder: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    folder = _tampered(model_folder, tmp_path, pickle.dumps(RunsCode(marker)))
    with pytest.raises(ModelIntegrityError, match="not a skops file"):
        load_version(str(folder))
    assert not marker.exists()
    result = runner.invoke(app, ["predict", str(folder / "x.csv"), "o.csv", "--model", str(folder)])
    assert result.exit_code == 2, result.output
    assert not marker.exists()


def test_a_skops_file_naming_an_untrusted_type_is_refused(
    model_folder: Path, tmp_path: Path
) -> None:
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    # skops would call this function on transform; loading must not even import it.
    content = skops.io.dumps(FunctionTransformer(func=shutil.rmtree))
    folder = _tampered(model_folder, tmp_path, content)
    with pytest.raises(ModelIntegrityError, match=r"outside the trusted list.*shutil\.rmtree"):
        load_version(str(folder))


def test_cached_task_results_round_trip_through_skops_and_refuse_untrusted_types(
    model_folder: Path,
) -> None:
    """Prefect's cached searches hold fitted models; they are stored by skops with the trusted
    types (see the scan above), and what comes back is the same result."""
    import pandas as pd
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    from sentimentops.data.split import DatasetSplits
    from sentimentops.pipelines.results import SkopsResultSerializer
    from sentimentops.tracking.flavor import load_pipeline

    model = load_pipeline(str(model_folder))
    frame = pd.DataFrame({"review": ["A fine film.", "Dull."], "sentiment": ["pos", "neg"]})
    splits = DatasetSplits(frame, frame.head(1), frame.tail(1), "random", 7)
    cv_results = pd.DataFrame({"params": [{"C": 1.0}, {"C": 2.0}], "mean": [0.8, 0.9]})
    result = {"model": model, "splits": [splits, splits], "cv_results": cv_results, "n": (1, 2)}
    serializer = SkopsResultSerializer()

    back = serializer.loads(serializer.dumps(result))
    assert (
        back["model"].predict(["A wonderful film."]).tolist()
        == model.predict(["A wonderful film."]).tolist()
    )
    assert back["splits"][0] is back["splits"][1]  # one object stays one object
    pd.testing.assert_frame_equal(back["splits"][0].train, frame)
    assert back["cv_results"]["params"].tolist() == [{"C": 1.0}, {"C": 2.0}]
    assert back["n"] == (1, 2)

    hostile = base64.b64encode(skops.io.dumps({"x": FunctionTransformer(func=shutil.rmtree)}))
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        serializer.loads(hostile)
    unknown = base64.b64encode(
        skops.io.dumps({"__dataclass__": "Popen", "fields": {"args": ["rm", "-rf", "/"]}})
    )
    with pytest.raises(TypeError, match="not a result class"):
        serializer.loads(unknown)


# ---- the API key: constant-time comparison, and never written anywhere ----


@pytest.fixture
def guarded_api(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch, isolated_settings: Path
) -> Iterator[TestClient]:
    for name, value in {
        "SENTIMENTOPS_API_KEY": SECRET,
        "SENTIMENTOPS_SERVING__MODEL_URI": str(model_folder),
        "SENTIMENTOPS_SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "SENTIMENTOPS_PREDICTION_LOG__FLUSH_SECONDS": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


V2_BODY = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Superb."]}]}


def test_only_the_exact_key_opens_the_api_and_it_is_never_logged_or_stored(
    guarded_api: TestClient, isolated_settings: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: a leak anywhere shows
    client = guarded_api
    model = client.get("/v1/model", headers={"X-API-Key": SECRET}).json()["name"]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("post", "/v1/predict", {"json": {"text": "A wonderful film."}}),
        ("post", "/v1/predict/batch", {"json": {"texts": ["Dull.", "Fine."]}}),
        ("post", f"/v2/models/{model}/infer", {"json": V2_BODY}),
        ("get", "/metrics", {}),
    ]
    wrong_keys = [None, "", SECRET[:-1], SECRET + "x", SECRET.upper(), " " + SECRET, "x" * 24]
    answers = []
    for method, path, options in requests:
        for wrong in wrong_keys:
            headers = {} if wrong is None else {"X-API-Key": wrong}
            refused = getattr(client, method)(path, headers=headers, **options)
            assert refused.status_code == 401, (path, wrong, refused.text)
            assert refused.headers["www-authenticate"] == "ApiKey"
            answers.append(refused)
        allowed = getattr(client, method)(path, headers={"X-API-Key": SECRET}, **options)
        assert allowed.status_code == 200, (path, allowed.text)
        answers.append(allowed)

    store = client.app.state.api.store  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while store.count_predictions() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count_predictions() == 4  # the three allowed prediction requests, 4 texts
    window = store.read_window()

    assert SECRET not in caplog.text
    for answer in answers:
        assert SECRET not in answer.text
        assert SECRET not in str(answer.headers)
    assert SECRET not in window.to_csv()
    for stored in isolated_settings.rglob("*"):  # the prediction log database, WAL, anything
        if stored.is_file():
            assert SECRET.encode() not in stored.read_bytes(), stored


def test_the_key_is_compared_with_hmac_compare_digest_only() -> None:
    """Timing cannot be measured reliably in a test; the code can be read: the key meets the
    presented value only inside ``hmac.compare_digest``, never in an ``==``."""
    source = (SOURCE / "serving" / "deps.py").read_text(encoding="utf-8")
    (check,) = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "check_api_key"
    ]
    calls = {ast.unparse(node.func) for node in ast.walk(check) if isinstance(node, ast.Call)}
    assert "hmac.compare_digest" in calls
    comparisons = [
        ast.unparse(node)
        for node in ast.walk(check)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
    ]
    assert comparisons == []


# ---- secrets come only from the environment ----


def test_the_api_key_from_the_environment_is_a_secret_that_never_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTIMENTOPS_API_KEY", SECRET)
    settings = load_settings()
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == SECRET
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.api_key)):
        assert SECRET not in shown


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (f"api_key: {SECRET}\n", "api_key"),
        (f"API_KEY: {SECRET}\n", "API_KEY"),
        (
            f"prediction_log:\n  url: postgresql+psycopg2://app:{SECRET}@db:5432/log\n",
            "prediction_log.url",
        ),
        (f"tracking:\n  uri: https://user:{SECRET}@mlflow.example\n", "tracking.uri"),
        (f"monitoring:\n  webhook_url: https://x:{SECRET}@hooks.example/a\n", "webhook_url"),
    ],
)
def test_a_secret_in_a_config_file_is_refused_without_being_shown(
    tmp_path: Path, content: str, named: str
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as refused:
        load_settings(config)
    assert SECRET not in str(refused.value)
    result = runner.invoke(app, ["--config", str(config), "models", "list"])
    assert result.exit_code == 2, result.output
    assert "secrets come only from the environment" in " ".join(result.output.split())
    assert SECRET not in result.output


def test_a_url_without_a_password_in_a_config_file_is_fine(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("prediction_log:\n  url: postgresql+psycopg2://app@db:5432/log\n")
    assert load_settings(config).prediction_log.url == "postgresql+psycopg2://app@db:5432/log"
