"""Ctrl-C and the processes a command starts beside it (the registry lookup, Evidently's work,
Dask's workers): they leave Ctrl-C to the command and end when it ends, however it ends; the
command defers Ctrl-C where stopping half-way would leave a record in some stores only."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ctrl_c_deferred", "follow_the_command", "sigterm_as_exit"]


def follow_the_command() -> None:
    """Ignore Ctrl-C, which reaches the whole process group and is the command's to handle (it
    ends its helpers), and end at once when the command has ended: killed, it cannot say so,
    and a helper waiting on it (for work, or to hand over an answer) would wait for ever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with_the_command, daemon=True, name="follow-command").start()


def _end_with_the_command() -> None:
    command = multiprocessing.parent_process()
    if command is not None:
        multiprocessing.connection.wait([command.sentinel])  # ready when it has ended
    os._exit(1)


@contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """Ctrl-C within is raised when the block is done, and processes started within never get
    it: it is blocked too, and a blocked signal stays blocked across fork and exec (Dask's
    workers, which this process ends in order; each printed a traceback). Ignoring it instead
    lost a Ctrl-C pressed while they started."""
    if not _python_handles_ctrl_c():
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda number, _frame: pressed.append(number))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one pending is handled here
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM within raises SystemExit (exit 143) in the main thread, so the block's cleanup
    runs: by default it ends the process on the spot, and a server it started lives on."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def exit_now(number: int, _frame: object) -> None:
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _python_handles_ctrl_c() -> bool:
    """In the main thread (the only one signal handlers can be set from) of a process that keeps
    Python's own Ctrl-C handler: not one that ignores Ctrl-C or has a handler of its own."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
