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


def test_processes_started_within_the_block_ignore_ctrl_c_and_those_after_do_not() -> None:
    """Dask's workers, for instance, started from a process with Python's own Ctrl-C handler."""
    script = (
        "import signal, subprocess, sys\n"
        # A test worker may ignore Ctrl-C, and its children inherit that: not a terminal's.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from sentimentops.helper_process import children_leave_ctrl_c\n"
        "ASK = [sys.executable, '-c',\n"
        "       'import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)']\n"
        "with children_leave_ctrl_c():\n"
        "    within = subprocess.run(ASK, capture_output=True, text=True).stdout.strip()\n"
        "after = subprocess.run(ASK, capture_output=True, text=True).stdout.strip()\n"
        "mine = signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "print(within, after, mine)\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    ignored_within, ignored_after, handler_back = completed.stdout.split()
    assert (ignored_within, ignored_after, handler_back) == ("True", "False", "True")
