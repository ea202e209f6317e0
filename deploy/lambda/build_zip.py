"""Build the Lambda deployment package: ``build/lambda.zip``.

The handler needs a fraction of the project's dependencies (no MLflow, Prefect, Evidently or
Dask: it loads a saved model folder with skops and answers events). Those packages are installed
for Lambda's platform (manylinux_2_28 x86_64, CPython 3.11) at exactly the versions of ``uv.lock``,
next to the ``sentimentops`` sources; tests, caches and the other packages' test suites are left
out. The script prints the package's size against Lambda's limits (250 MB unzipped).

Run with ``make lambda-zip``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNZIPPED_LIMIT_MB = 250

# What sentimentops.cloud.lambda_handler imports when it loads a model and answers. boto3 comes
# with the Lambda runtime; the handler downloads the model with it (no s3fs, no pyarrow: they
# would take the package over the limit).
RUNTIME = [
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "skops",
    "pydantic",
    "pydantic-settings",
    "pyyaml",
    "fsspec",
    "fastapi",
]
NOT_NEEDED = ("tests", "test", "__pycache__")


def _uv() -> str:
    """uv as the Makefile finds it: on PATH, in ~/.local/bin (pip --user), or as a module of
    the system Python."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    return found or "python3 -m uv"


def build(out: Path) -> Path:
    """Build ``out/lambda.zip`` from the package folder ``out/lambda``; returns the zip."""
    uv = _uv()
    target, archive_path = out / "lambda", out / "lambda.zip"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    constraints = out / "lambda-constraints.txt"
    exported = subprocess.run(
        [*uv.split(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    constraints.write_text(exported)
    subprocess.run(
        [
            *uv.split(),
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--python-version",
            "3.11",
            "--python-platform",
            "x86_64-manylinux_2_28",  # Lambda python3.11 runs Amazon Linux 2023 (glibc 2.34)
            "--only-binary",
            ":all:",
            "--constraint",
            str(constraints),
            *RUNTIME,
        ],
        cwd=REPO,
        check=True,
    )
    shutil.copytree(REPO / "src" / "sentimentops", target / "sentimentops")
    for folder in sorted(target.rglob("*"), reverse=True):
        if folder.is_dir() and folder.name in NOT_NEEDED:
            shutil.rmtree(folder, ignore_errors=True)
    archive_path.unlink(missing_ok=True)
    unzipped = 0
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(target.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(target))
                unzipped += path.stat().st_size
    unzipped_mb = unzipped / 2**20
    print(
        f"{archive_path}: {archive_path.stat().st_size / 2**20:.1f} MB zipped, "
        f"{unzipped_mb:.1f} MB unzipped (Lambda's limit: {UNZIPPED_LIMIT_MB} MB unzipped; "
        "upload through S3, the zip is over the 50 MB direct-upload limit)"
    )
    if unzipped_mb > UNZIPPED_LIMIT_MB:
        raise SystemExit(
            f"The package is {unzipped_mb:.0f} MB unzipped, over Lambda's {UNZIPPED_LIMIT_MB} MB."
        )
    return archive_path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build", help="default: build/")
    build(parser.parse_args().out)
