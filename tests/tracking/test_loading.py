"""The registry lookup started in a process of its own (``tracking.loading.prefetch``)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest

from tests.servers import kill_group, script_json


def _prefetch_and_tell(asked: Queue[int]) -> None:
    from sentimentops.tracking import loading

    loading.prefetch("models:/imdb-sentiment@champion")
    asked.put(len(loading._PREFETCHING))


def test_a_daemonic_process_starts_no_lookup_process_and_goes_on() -> None:
    """Dask workers are daemonic: Python forbids them children, so the lookup happens in the
    worker itself, later, instead of failing the batch."""
    context = multiprocessing.get_context("spawn")
    asked: Queue[int] = context.Queue()
    worker = context.Process(target=_prefetch_and_tell, args=(asked,), daemon=True)
    worker.start()
    try:
        lookups_started = asked.get(timeout=120)
    finally:
        worker.join(timeout=30)

    assert lookups_started == 0
    assert worker.exitcode == 0


def _prefetch_and_tell_how(asked: Queue[str], with_thread: bool) -> None:
    import threading

    from sentimentops.tracking import loading

    if with_thread:
        threading.Thread(target=threading.Event().wait, args=(30,), daemon=True).start()
    loading.prefetch("models:/imdb-sentiment@champion")
    (process, *_), *_ = loading._PREFETCHING.values()
    asked.put(type(process).__name__)


def test_the_lookup_is_forked_from_a_lone_thread_and_spawned_beside_others() -> None:
    """Forked, the lookup starts at once; forked beside another thread, it could inherit a lock
    that thread held and never finish."""
    context = multiprocessing.get_context("spawn")
    kinds = []
    for with_thread in (False, True):
        asked: Queue[str] = context.Queue()
        command = context.Process(target=_prefetch_and_tell_how, args=(asked, with_thread))
        command.start()
        try:
            kinds.append(asked.get(timeout=120))
        finally:
            command.join(timeout=60)

    assert kinds == ["ForkProcess", "SpawnProcess"]


def test_an_answer_is_for_its_registry_and_goes_stale(
    user_champion_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that failed before loading leaves its answer behind: a later run in the same
    process (a test session, a long-lived worker) must not load what another registry, or the
    same one a minute ago, named."""
    from sentimentops.errors import ModelNotFoundError
    from sentimentops.tracking import loading

    champion = "models:/imdb-sentiment@champion"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{user_champion_home / 'mlflow.db'}")
    found = loading.fetched(champion)  # and never loaded
    assert found.version == "1"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ModelNotFoundError):
        loading.load_version(champion)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{user_champion_home / 'mlflow.db'}")
    assert loading.fetched(champion) is found  # fresh: the answer kept
    monkeypatch.setattr(loading, "_FRESH_SECONDS", 0.0)
    assert loading.fetched(champion) is not found  # stale: asked again


def test_ctrl_c_during_the_lookup_ends_its_process_without_a_traceback(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ctrl-C reaches the process group: the lookup process (importing MLflow) ends quietly and
    only the command's own handler speaks."""
    script = (
        "import signal, sys, time\n"
        # A test worker may ignore Ctrl-C, and its children inherit that: not a terminal's.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from sentimentops.tracking import loading\n"
        "try:\n"
        "    loading.prefetch('models:/imdb-sentiment@champion')\n"
        "    print('asked', len(loading._PREFETCHING), flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(130)\n"
    )
    environment = {
        **os.environ,
        "SENTIMENTOPS_HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    command = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    assert command.stdout is not None
    request.addfinalizer(lambda: kill_group(command))
    assert command.stdout.readline() == "asked 1\n"  # a lookup process is at work
    time.sleep(1)  # in it, MLflow's import, then a new store's migrations: seconds of work
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children").read_text().split()
    assert children, "the lookup ended before the interrupt: nothing would be tested"

    os.killpg(command.pid, signal.SIGINT)
    stdout, stderr = command.communicate(timeout=30)

    assert command.returncode == 130
    assert stdout == "interrupted\n"
    assert stderr == ""  # not a word of its own, such as "Process prefetch:" and a traceback


_LOAD_AHEAD = (
    "import json, sys\n"
    "from sentimentops.tracking import loading\n"
    "CHAMPION = 'models:/imdb-sentiment@champion'\n"
    "loading.prefetch(CHAMPION, load=True)\n"
    "ahead = loading.loading_ahead(CHAMPION)\n"
    "try:\n"
    "    model = loading.load_version(CHAMPION)\n"
    "except Exception as error:\n"
    "    print(json.dumps({'ahead': ahead, 'error': type(error).__name__}))\n"
    "    sys.exit()\n"
    "skops_here = 'skops.io' in sys.modules\n"
    "here = loading.load_version(CHAMPION)  # loaded in this process\n"
    "texts = ['A wonderful film, superb acting.', 'Awful, boring and far too long.']\n"
    "scores, scores_here = model.score(texts).tolist(), here.score(texts).tolist()\n"
    "print(json.dumps({'ahead': ahead, 'skops_here': skops_here, 'version': model.version,\n"
    "                  'scores': scores, 'here': scores_here}))\n"
)


def _load_ahead_in(home: Path) -> dict[str, Any]:
    """:data:`_LOAD_AHEAD` in a fresh single-threaded interpreter, as ``serve`` starts."""
    registry = f"sqlite:///{home / 'mlflow.db'}"
    return script_json(
        _LOAD_AHEAD,
        env={**os.environ, "SENTIMENTOPS_HOME": str(home), "MLFLOW_TRACKING_URI": registry},
    )


def test_a_model_loaded_ahead_is_handed_over_and_scores_as_one_loaded_here(
    user_champion_home: Path,
) -> None:
    seen = _load_ahead_in(user_champion_home)

    assert seen["ahead"] is True
    assert seen["skops_here"] is False  # loaded there: this process never imported skops
    assert seen["version"] == "1"
    assert seen["scores"] == seen["here"]


def test_a_model_file_changed_is_refused_there_and_the_refusal_raised_here(
    user_home: Path,
) -> None:
    (model_file,) = (user_home / "mlartifacts").rglob("model.skops")
    model_file.write_bytes(model_file.read_bytes() + b"\0")

    seen = _load_ahead_in(user_home)

    assert seen == {"ahead": True, "error": "ModelIntegrityError"}
