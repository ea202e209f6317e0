"""Evidently's work in a process forked at the command's start: where it runs, what crosses back,
and when there is no such process. The forking cases run in a fresh single-threaded interpreter,
as the ``monitor`` command does (a test process may run threads, and then nothing is forked)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sentimentops.monitoring.evidently_process import (
    evidently_process,
    in_evidently,
    meanwhile,
    with_evidently,
)
from tests.servers import kill_group, pid_alive, script_json
from tests.user import REPO_ROOT


def test_work_runs_in_the_forked_process_with_evidently_imported_there_only() -> None:
    seen = script_json(
        "import json, os, sys\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "def where():\n"
        "    return os.getpid(), 'evidently' in sys.modules\n"
        "with evidently_process():\n"
        "    there = with_evidently(where)\n"
        "print(json.dumps({'here': os.getpid(), 'there': there,\n"
        "                  'imported_here': 'evidently' in sys.modules}))\n"
    )

    there_pid, imported_there = seen["there"]
    assert there_pid != seen["here"]
    assert imported_there is True
    assert seen["imported_here"] is False


def test_an_error_there_is_raised_here_as_its_own_type_with_its_message() -> None:
    seen = script_json(
        "import json\n"
        "from sentimentops.errors import BadInputError\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "def refuse():\n"
        "    raise BadInputError('the reference has no labels')\n"
        "with evidently_process():\n"
        "    try:\n"
        "        with_evidently(refuse)\n"
        "    except BadInputError as error:\n"
        "        print(json.dumps({'caught': str(error), 'code': error.exit_code}))\n"
    )

    assert seen == {"caught": "the reference has no labels", "code": 2}


def test_meanwhile_work_runs_here_once_while_the_process_works() -> None:
    seen = script_json(
        "import json, os, time\n"
        "from sentimentops.monitoring.evidently_process import (\n"
        "    evidently_process, meanwhile, with_evidently)\n"
        "done = []\n"
        "def slow():\n"
        "    time.sleep(0.5)\n"
        "    return time.monotonic()\n"
        "with evidently_process():\n"
        "    meanwhile(lambda: done.append((os.getpid(), time.monotonic())))\n"
        "    finished_there = with_evidently(slow)\n"
        "    with_evidently(int)\n"
        "print(json.dumps({'here': os.getpid(), 'done': done, 'finished_there': finished_there}))\n"
    )

    ((pid, when),) = seen["done"]
    assert pid == seen["here"]
    assert when < seen["finished_there"]


def test_without_the_process_work_runs_here_and_meanwhile_work_is_dropped() -> None:
    done: list[str] = []

    meanwhile(lambda: done.append("meanwhile"))
    pid = with_evidently(os.getpid)

    assert pid == os.getpid()
    assert done == []


def test_no_process_is_forked_while_other_threads_run() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        with evidently_process():
            pid = with_evidently(os.getpid)
    finally:
        release.set()
        other.join()

    assert pid == os.getpid()


def test_ctrl_c_ends_both_processes_and_only_the_command_speaks(
    request: pytest.FixtureRequest,
) -> None:
    """Ctrl-C reaches the process group: the forked process ends without a traceback of its own
    and the command's handler is what runs, at once, not after the work there."""
    script = (
        "import signal, sys, time\n"
        # A test worker may ignore Ctrl-C, and its children inherit that: not a terminal's.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "try:\n"
        "    with evidently_process():\n"
        "        print('working', flush=True)\n"
        "        with_evidently(time.sleep, 60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(130)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    assert command.stdout is not None
    request.addfinalizer(lambda: kill_group(command))
    assert command.stdout.readline() == "working\n"
    time.sleep(0.5)  # the work has started there

    os.killpg(command.pid, signal.SIGINT)
    started = time.monotonic()
    stdout, stderr = command.communicate(timeout=30)

    assert command.returncode == 130
    assert stdout == "interrupted\n"
    assert stderr == ""  # not a word of its own, such as its import's traceback
    assert time.monotonic() - started < 10  # not the 60 s of the work


def test_a_command_that_ignores_ctrl_c_keeps_its_evidently_process_too() -> None:
    """Started with nohup, say: Ctrl-C to the group leaves both at work."""
    script = (
        "import json, os, signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "def interrupted_there():\n"
        "    os.killpg(os.getpgrp(), signal.SIGINT)\n"
        "    time.sleep(0.5)\n"
        "    return 'still there'\n"
        "with evidently_process():\n"
        "    answer = with_evidently(interrupted_there)\n"
        "print(json.dumps({'answer': answer}))\n"
    )
    assert script_json(script, new_session=True) == {"answer": "still there"}


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_the_evidently_process_ends_when_the_command_is_killed(
    how: signal.Signals, request: pytest.FixtureRequest
) -> None:
    """Killed or terminated, the command cannot stop it: it must notice by itself, or it would
    wait for work for ever (holding the caller's output pipes open)."""
    script = (
        "import os, time\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "with evidently_process():\n"
        "    print(with_evidently(os.getpid), flush=True)\n"
        "    time.sleep(60)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert command.stdout is not None
    request.addfinalizer(lambda: kill_group(command))
    there = int(command.stdout.readline())

    command.send_signal(how)
    command.wait(timeout=30)

    deadline = time.monotonic() + 20
    while pid_alive(there) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(there)


def test_a_process_started_ahead_is_the_one_the_block_uses() -> None:
    seen = script_json(
        "import json, multiprocessing, os\n"
        "from sentimentops.monitoring.evidently_process import (\n"
        "    evidently_process, start_ahead, with_evidently)\n"
        "start_ahead()\n"
        "ahead = [child.pid for child in multiprocessing.active_children()]\n"
        "with evidently_process():\n"
        "    there = with_evidently(os.getpid)\n"
        "print(json.dumps({'ahead': ahead, 'there': there,\n"
        "                  'left': len(multiprocessing.active_children())}))\n"
    )

    assert seen["ahead"] == [seen["there"]]
    assert seen["left"] == 0  # ended with the block


def test_a_process_started_ahead_and_never_used_ends_with_the_command() -> None:
    """``monitor`` with a usage error, say: its process, still importing Evidently, is ended at
    exit rather than waited for."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import multiprocessing, sys\n"
            "from sentimentops.monitoring.evidently_process import start_ahead\n"
            "start_ahead()\n"
            "print(multiprocessing.active_children()[0].pid, flush=True)\n"
            "sys.exit(2)\n",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 2
    assert completed.stderr == ""
    assert not pid_alive(int(completed.stdout))


def test_answers_come_back_in_the_order_asked_with_large_arguments() -> None:
    """Arguments larger than a pipe holds are handed over while the command goes on."""
    seen = script_json(
        "import json\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, in_evidently\n"
        "big = 'x' * 5_000_000\n"
        "with evidently_process():\n"
        "    first = in_evidently(len, big)\n"
        "    second = in_evidently(str.upper, big[:3] + 'y')\n"
        "    answers = [first.result(), second.result()]\n"
        "print(json.dumps({'answers': answers}))\n"
    )

    assert seen == {"answers": [5_000_000, "XXXY"]}


def test_without_the_process_an_error_comes_from_the_result_as_there() -> None:
    def refuse() -> None:
        raise ValueError("no reference")

    pending = in_evidently(refuse)

    with pytest.raises(ValueError, match="no reference"):
        pending.result()


def test_an_error_there_carries_its_traceback_there_as_a_note() -> None:
    seen = script_json(
        "import json\n"
        "from sentimentops.monitoring.evidently_process import evidently_process, with_evidently\n"
        "with evidently_process():\n"
        "    try:\n"
        "        with_evidently(int, 'not a number')\n"
        "    except ValueError as error:\n"
        "        print(json.dumps({'notes': error.__notes__}))\n"
    )

    (note,) = seen["notes"]
    assert note.startswith("Raised in the Evidently process:\nTraceback")
    assert "invalid literal for int()" in note


_DRIFT_AND_SNAPSHOT = (
    "import json, sys\n"
    "import pandas as pd\n"
    "from sentimentops.config import get_settings\n"
    "from sentimentops.monitoring.evidently_process import import_evidently\n"
    "{prepare}\n"
    "from sentimentops.monitoring.descriptors import text_descriptors\n"
    "from sentimentops.monitoring.drift import compare_drift\n"
    "from sentimentops.monitoring.workspace import record_snapshot\n"
    "reviews = pd.read_parquet({data!r}, columns=['review']).review\n"
    "def side(start, shift):\n"
    "    texts = reviews.iloc[start:start + 60].reset_index(drop=True)\n"
    "    described = text_descriptors(list(texts), {{'film', 'good', 'bad'}})\n"
    "    scores = [(i % 10) / 10 + shift for i in range(60)]\n"
    "    labels = ['positive', 'negative'] * 30\n"
    "    frame = pd.DataFrame({{'review': texts, 'label': labels, 'score': scores}})\n"
    "    return frame.join(described)\n"
    "settings = get_settings()\n"
    "drift = compare_drift(side(0, 0.0), side(60, 0.05), text_column='review',\n"
    "                      settings=settings.monitoring)\n"
    "workspace = str(settings.state_path('workspace'))\n"
    "snapshot = record_snapshot(settings, metrics={{'accuracy': 0.9}}, alerts=0,\n"
    "    model_name='m', model_version='1', started_at=pd.Timestamp.now('UTC').to_pydatetime(),\n"
    "    verdict='ok', source='test')\n"
    "imported = sorted(name for name in sys.modules if name.startswith('evidently'))\n"
    "from evidently.ui.workspace import Workspace\n"
    "(project,) = Workspace(workspace).search_project('m')\n"
    "print(json.dumps({{'drift': repr(drift), 'snapshots': len(Workspace(workspace).list_runs(\n"
    "    project.id)), 'imported': imported}}))\n"
)


def test_evidently_imported_lean_computes_what_it_does_imported_whole(tmp_path: Path) -> None:
    """import_evidently leaves out the packages monitoring never uses (the UI server, LLM
    judges, legacy metrics): the drift and the workspace snapshot are the same without them."""
    data = str(REPO_ROOT / "data" / "imdb" / "imdb_reviews.parquet")

    lean, whole = (
        script_json(
            _DRIFT_AND_SNAPSHOT.format(prepare=prepare, data=data),
            env={**os.environ, "SENTIMENTOPS_HOME": str(tmp_path / home)},
        )
        for prepare, home in (("import_evidently()", "lean"), ("import evidently", "whole"))
    )

    assert lean["drift"] == whole["drift"]
    assert "text" in lean["drift"]
    assert lean["snapshots"] == whole["snapshots"] == 1
    assert "evidently.ui.service.app" not in lean["imported"]
    assert "evidently.guardrails" not in lean["imported"]
    assert "evidently.legacy.tests.classification_performance_tests" not in lean["imported"]
    assert len(lean["imported"]) < len(whole["imported"]) * 0.8


def test_a_lean_evidently_still_answers_every_name_of_its_packages() -> None:
    seen = script_json(
        "import json\n"
        "from sentimentops.monitoring.evidently_process import import_evidently\n"
        "import_evidently()\n"
        "import evidently\n"
        "from evidently import Report, __version__\n"
        "from evidently.metrics import Accuracy\n"
        "from evidently.legacy.metrics import ColumnDriftMetric\n"
        "print(json.dumps({'report': Report.__module__, 'version': __version__,\n"
        "                  'accuracy': Accuracy.__module__,\n"
        "                  'legacy': ColumnDriftMetric.__module__}))\n"
    )

    assert seen["report"] == "evidently.core.report"
    assert seen["version"].count(".") == 2
    assert seen["accuracy"] == "evidently.metrics.classification"
    assert seen["legacy"].startswith("evidently.legacy.metrics.")


def test_a_lazy_package_whose_init_fails_says_why_and_imports_whole_next_time(
    tmp_path: Path,
) -> None:
    package = tmp_path / "broken_package"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('needs numpy < 2')\n")
    (package / "part.py").write_text("VALUE = 1\n")
    seen = script_json(
        "import json, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from sentimentops.monitoring.evidently_process import _import_lazily\n"
        "_import_lazily('broken_package')\n"
        "from broken_package.part import VALUE\n"
        "try:\n"
        "    from broken_package import anything\n"
        "except ImportError as error:\n"
        "    first = str(error)\n"
        "left = 'broken_package' in sys.modules\n"
        "try:\n"
        "    import broken_package\n"
        "except RuntimeError as error:\n"
        "    second = str(error)\n"
        "print(json.dumps({'value': VALUE, 'first': first, 'left': left, 'second': second}))\n"
    )

    assert seen["value"] == 1  # a submodule imports without the package's __init__
    assert seen["first"] == "broken_package failed to import: needs numpy < 2"
    assert seen["left"] is False
    assert seen["second"] == "needs numpy < 2"
