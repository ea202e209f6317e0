"""A helper process leaves Ctrl-C to its command and ends when the command ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.servers import pid_alive

SCRIPT = (
    "import multiprocessing, time\n"
    "from sentimentops.helper_process import follow_the_command\n"
    "def helper():\n"
    "    follow_the_command()\n"
    "    time.sleep(60)\n"
    "if __name__ == '__main__':\n"
    "    process = multiprocessing.get_context('fork').Process(target=helper)\n"
    "    process.start()\n"
    "    print(process.pid, flush=True)\n"
    "    time.sleep(60)\n"
)


@pytest.fixture
def command_and_helper() -> Iterator[tuple[subprocess.Popen[str], int]]:
    command = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert command.stdout is not None
    helper = int(command.stdout.readline())
    time.sleep(0.5)  # the helper has called follow_the_command
    yield command, helper
    if command.poll() is None:
        os.killpg(command.pid, signal.SIGKILL)
    command.communicate()
    if pid_alive(helper):
        os.kill(helper, signal.SIGKILL)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_helper_ends_when_its_command_is_killed(
    command_and_helper: tuple[subprocess.Popen[str], int], how: signal.Signals
) -> None:
    command, helper = command_and_helper

    command.send_signal(how)
    command.wait(timeout=30)

    deadline = time.monotonic() + 20  # well before the helper's own 60 s
    while pid_alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(helper)


def test_a_helper_leaves_ctrl_c_to_its_command(
    command_and_helper: tuple[subprocess.Popen[str], int],
) -> None:
    _, helper = command_and_helper

    os.kill(helper, signal.SIGINT)
    time.sleep(1)

    assert pid_alive(helper)


def _as_from_a_terminal(script: str) -> list[str]:
    """The lines ``script`` printed, run in a fresh interpreter with Python's own Ctrl-C handler
    and Ctrl-C unblocked (a test worker may ignore or block it, and its children inherit that:
    not a terminal's), in a process group of its own."""
    completed = subprocess.run(
        [sys.executable, "-c", "import signal\n"
         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n" + script],
        capture_output=True, text=True, check=False, timeout=60, start_new_session=True,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_processes_started_while_ctrl_c_is_deferred_never_get_it_and_those_after_do() -> None:
    """Dask's workers, for instance: this process ends them in order."""
    printed = _as_from_a_terminal(
        "import signal, subprocess, sys\n"
        "from sentimentops.helper_process import ctrl_c_deferred\n"
        "ASK = [sys.executable, '-c', 'import signal; "
        "print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))']\n"
        "def ask(): return subprocess.run(ASK, capture_output=True, text=True).stdout\n"
        "with ctrl_c_deferred():\n"
        "    print('within, blocked:', ask())\n"
        "print('after, blocked:', ask())\n"
        "print('handler back:', signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )

    assert [line for line in printed if line] == [
        "within, blocked: True",
        "after, blocked: False",
        "handler back: True",
    ]


def test_ctrl_c_while_a_process_starts_within_is_not_lost() -> None:
    """Ignored while Dask's workers started, it was: the run went on to the end."""
    printed = _as_from_a_terminal(
        "import os, signal, subprocess, sys\n"
        "from sentimentops.helper_process import ctrl_c_deferred\n"
        "try:\n"
        "    with ctrl_c_deferred():\n"
        "        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(0.3)'])\n"
        "        os.killpg(0, signal.SIGINT)  # as a terminal sends it, to both\n"
        "        print('child ended with', child.wait(), flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after', flush=True)\n"
    )

    assert printed == ["child ended with 0", "interrupted after"]


def test_ctrl_c_within_a_deferred_block_is_raised_when_it_is_done() -> None:
    """The history, the workspace and MLflow get a monitoring run one after the other: an
    interrupt among them would leave it in some stores only."""
    printed = _as_from_a_terminal(
        "import os, signal, time\n"
        "from sentimentops.helper_process import ctrl_c_deferred\n"
        "try:\n"
        "    with ctrl_c_deferred():\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(0.2)\n"
        "        print('recorded everywhere', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after', flush=True)\n"
        "print('handler back:', signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )

    assert printed == ["recorded everywhere", "interrupted after", "handler back: True"]


def test_sigterm_within_sigterm_as_exit_runs_the_blocks_cleanup_and_exits_143() -> None:
    """`kill` of `pipeline run` ended it on the spot and left its temporary Prefect API
    running; within the block SIGTERM is an exit whose cleanup runs, after it the default."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, time\n"
            "from sentimentops.helper_process import sigterm_as_exit\n"
            "with sigterm_as_exit():\n"
            "    try:\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        time.sleep(5)\n"
            "        print('went on', flush=True)\n"
            "    finally:\n"
            "        print('server stopped', flush=True)\n",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    after = subprocess.run(
        [
            sys.executable,
            "-c",
            "import signal\n"
            "from sentimentops.helper_process import sigterm_as_exit\n"
            "with sigterm_as_exit():\n"
            "    pass\n"
            "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)\n",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert completed.returncode == 128 + signal.SIGTERM, completed.stderr
    assert completed.stdout.splitlines() == ["server stopped"]
    assert "Traceback" not in completed.stderr
    assert after.stdout.strip() == "True"
