"""The Lambda package `make lambda-zip` builds: under Lambda's size limit, and its handler
answers from the package alone (plus boto3, which the Lambda runtime provides)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _build_module() -> object:
    spec = importlib.util.spec_from_file_location("build_zip", REPO / "deploy/lambda/build_zip.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_answers_an_event_from_its_own_files(
    tmp_path: Path, model_folder: Path
) -> None:
    build = _build_module()
    archive = build.build(tmp_path)  # type: ignore[attr-defined]
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(unpacked)
    unzipped = sum(path.stat().st_size for path in unpacked.rglob("*") if path.is_file())
    # What the Lambda runtime brings, linked from this environment.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    script = (
        "import json, sys; from sentimentops.cloud.lambda_handler import handler;"
        "event = {'rawPath': '/v1/predict', 'body': json.dumps({'text': 'A moving, "
        "wonderful film.'})}; print(json.dumps(handler(event)))"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-I",  # no environment, no user site
            "-S",  # and no site-packages: only the package and the runtime's boto3
            "-c",
            f"import sys; sys.path[:0] = {[str(unpacked), str(runtime)]};" + script,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"SENTIMENTOPS_CLOUD__LAMBDA_MODEL": str(model_folder), "HOME": str(tmp_path)},
    )

    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["label"] == "positive"
    assert unzipped < 250 * 2**20  # Lambda's limit for an unzipped package
