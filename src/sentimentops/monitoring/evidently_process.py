"""Evidently's work in a process forked when a command starts, which imports Evidently (2-3 s, a
third of a cold ``monitor``) while the command reads the data and loads the model
(docs/decisions.md, "A cold monitor"). Without that process the work runs in the caller's."""

from __future__ import annotations

import multiprocessing
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sentimentops.helper_process import follow_the_command

__all__ = ["evidently_process", "import_evidently", "meanwhile", "with_evidently"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_pool: ProcessPoolExecutor | None = None
_meanwhile: list[Callable[[], None]] = []  # work for this process while it waits on that one


def import_evidently() -> None:
    """Import what monitoring uses of Evidently, quietly: its imports warn about NumPy 2."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import evidently.metrics  # noqa: F401

        import sentimentops.monitoring.run_values  # noqa: F401


@contextmanager
def evidently_process() -> Iterator[None]:
    """Within, :func:`with_evidently` runs its work in a process forked on entry. None is forked,
    and the work runs here, when threads run (a fork copies their locks held), in a daemonic
    process (it may not have children) or nested in another such block."""
    global _pool
    forkable = threading.active_count() == 1 and not multiprocessing.current_process().daemon
    if _pool is not None or not forkable:
        yield
        return
    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("fork"), initializer=_start_there
    )
    before = set(multiprocessing.active_children())
    try:
        pool.submit(int)  # forks now: the first submit starts the process
    except OSError:  # no process to spare (a limit on them)
        pool.shutdown(wait=False)
        yield
        return
    started = set(multiprocessing.active_children()) - before
    _pool = pool
    try:
        yield
    except BaseException:  # Ctrl-C, an error: the work there is not wanted, nor waited for
        for process in started:
            process.terminate()
        raise
    finally:
        _pool = None
        _meanwhile.clear()
        pool.shutdown(wait=True, cancel_futures=True)


def meanwhile(work: Callable[[], None]) -> None:
    """Do ``work`` (once) while the next call of :func:`with_evidently` waits on the Evidently
    process; without that process, never: then there is no wait to fill. ``work`` only prepares
    what a later step does anyway, which reports a failure: it must not raise."""
    if _pool is not None:
        _meanwhile.append(work)


def _start_there() -> None:
    follow_the_command()
    import_evidently()


def with_evidently(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``function(*args, **kwargs)`` in the Evidently process when one runs, else here. Arguments,
    result and an exception raised cross by pickle."""
    if _pool is None:
        return function(*args, **kwargs)
    submitted = _pool.submit(function, *args, **kwargs)
    while _meanwhile:
        _meanwhile.pop(0)()
    return submitted.result()
