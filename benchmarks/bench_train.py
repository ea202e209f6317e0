"""Benchmark of a full training on 2 cores: wall time, peak memory and the champion's accuracy.

Runs ``sentimentops train --split official`` as a user would, in a fresh SENTIMENTOPS_HOME, then
reads the registered champion's metrics back from MLflow. Run with ``make bench-train``; the
table goes into BENCHMARKS.md and ``benchmarks/results/train.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = {
    "Maas et al. 2011": 0.8889,
    "NBSVM bigram (Wang & Manning 2012)": 0.9122,
    "NBSVM uni+bi+trigram (Mesnil et al. 2014)": 0.9187,
    "seq2-bown-CNN (Johnson & Zhang 2015)": 0.9233,
}


def main() -> None:
    split = sys.argv[1] if len(sys.argv) > 1 else "official"
    with tempfile.TemporaryDirectory(prefix="bench-train-") as home:
        env = os.environ | {"SENTIMENTOPS_HOME": home}
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [str(Path(sys.executable).parent / "sentimentops"), "train", "--split", split]
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if completed.returncode != 0:
            sys.stderr.write(completed.stdout + completed.stderr)
            raise SystemExit(completed.returncode)
        print(completed.stdout)

        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{home}/mlflow.db")
        champion = client.get_model_version_by_alias("imdb-sentiment", "champion")
        metrics = client.get_run(champion.run_id).data.metrics
        family = client.get_run(champion.run_id).data.tags["chosen_family"]

    result = {
        "command": " ".join(["sentimentops", "train", "--split", split]),
        "cpus": os.cpu_count(),
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_mib),
        "family": family,
        "test_accuracy": metrics["test_accuracy"],
        "test_accuracy_ci": [metrics["test_accuracy_ci_low"], metrics["test_accuracy_ci_high"]],
        "test_f1": metrics["test_f1"],
        "test_roc_auc": metrics["test_roc_auc"],
        "test_ece": metrics["test_ece"],
    }
    print(f"| wall time | {wall / 60:.1f} min |")
    print(f"| peak RSS (largest process) | {peak_mib:,.0f} MiB |")
    low, high = result["test_accuracy_ci"]
    print(
        f"| champion ({family}) test accuracy | {metrics['test_accuracy']:.4f} "
        f"(95% CI {low:.4f}-{high:.4f}) |"
    )
    for name, accuracy in PUBLISHED.items():
        verdict = "beaten" if metrics["test_accuracy"] > accuracy else "not beaten"
        print(f"| vs {name} {accuracy:.2%} | {verdict} |")
    out = REPO / "benchmarks" / "results" / f"train-{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
