"""What a process that a command starts to work beside it (the registry lookup, Evidently's work)
does first: it leaves Ctrl-C to the command and ends when the command ends, however it ends."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["children_leave_ctrl_c", "follow_the_command"]


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
def children_leave_ctrl_c() -> Iterator[None]:
    """Processes started within ignore Ctrl-C, as their children do (an ignored signal stays
    ignored across fork and exec): the command gets it too, and ends them in order. Dask's
    worker processes otherwise print a traceback each. Only in the main thread, where Python
    handles signals, and while Python's own handler is set."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
