"""What an append to the prediction log spool costs the request path during an outage.

While the log database is away, every answered request commits its records to the spool
(SQLite, WAL, ``synchronous=NORMAL``) before the answer goes out. This appends ``--records``
real IMDB test reviews as the API would, one request of one prediction per transaction, then
batches of 8 (a ``/v1/predict/batch`` request), and prints the latency per append (median, p99,
max) and the disk used per record. Then it measures reading the spool back in batches of 256,
as the replay does.

``.venv/bin/python benchmarks/bench_spool.py``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from champion import official_split

from sentimentops.prediction_log import PredictionRecord
from sentimentops.prediction_log.spool import Spool


def records(texts: list[str]) -> list[PredictionRecord]:
    now = datetime.now(UTC)
    return [
        PredictionRecord.of(
            text, store_text=True, request_id=f"{i:032x}", endpoint="/v1/predict",
            model_name="imdb-sentiment", model_version="1", label="positive",
            score=0.9, latency_ms=12.0, timestamp=now,
        )
        for i, text in enumerate(texts)
    ]  # fmt: skip


def microseconds(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(0.99 * len(ordered)) - 1] * 1e6, 1),
        "max_us": round(ordered[-1] * 1e6, 1),
    }


def timed_appends(spool: Spool, groups: list[list[PredictionRecord]]) -> list[float]:
    seconds = []
    for group in groups:
        started = time.perf_counter()
        assert spool.append(group) == len(group)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    texts = official_split()[1]["review"].head(args.records).tolist()
    logged = records(texts)
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as folder:
        spool = Spool(Path(folder), 2**34)
        try:
            singles = timed_appends(spool, [[record] for record in logged])
            batches = timed_appends(
                spool, [logged[i : i + 8] for i in range(0, len(logged) - 7, 8)]
            )
            stats = spool.stats()
            started = time.perf_counter()
            while head := spool.head(256):
                file, items = head
                spool.remove_through(file, items[-1].seq)
            drained = time.perf_counter() - started
        finally:
            spool.close()
    result = {
        "records": len(logged),
        "append_one": microseconds(singles),
        "append_batch_of_8": microseconds(batches),
        "bytes_per_record": round(stats.bytes / stats.records),
        "read_and_remove_per_s": round(stats.records / drained),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
