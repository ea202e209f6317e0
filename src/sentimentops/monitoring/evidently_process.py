"""Evidently's work in a process forked when a command starts, which imports Evidently (2.5 s,
most of a cold ``monitor``) while the command reads the data and loads the model
(docs/decisions.md, "A cold monitor"). Without that process the work runs in the caller's."""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import multiprocessing
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.abc import Loader
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, ParamSpec, TypeVar

from sentimentops.errors import SentimentOpsError
from sentimentops.helper_process import follow_the_command

__all__ = [
    "Pending",
    "evidently_process",
    "import_evidently",
    "in_evidently",
    "meanwhile",
    "start_ahead",
    "with_evidently",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Helper:
    """The forked process and this end of the pipe it takes calls from, one at a time."""

    def __init__(self, process: BaseProcess, calls: Connection) -> None:
        self.process = process
        self.calls = calls
        self.sending: threading.Thread | None = None

    @classmethod
    def fork(cls) -> _Helper | None:
        """None when the system has no process to spare (a limit on them)."""
        context = multiprocessing.get_context("fork")
        calls, there = context.Pipe()
        # Daemonic: a process started ahead for a command that never uses it is ended at exit.
        process = context.Process(target=_serve, args=(there,), name="evidently", daemon=True)
        try:
            process.start()
        except OSError:
            calls.close()
            return None
        finally:
            there.close()
        return cls(process, calls)

    def send(self, call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
        """Hand ``call`` over without waiting: a process still importing Evidently reads nothing,
        and this one would wait on the full pipe. A pickling error is raised here."""
        payload = bytes(ForkingPickler.dumps(call))
        self.wait_sent()  # calls cross in the order made
        self.sending = threading.Thread(target=self._write, args=(payload,), daemon=True)
        self.sending.start()

    def wait_sent(self) -> None:
        if self.sending is not None:
            self.sending.join()

    def _write(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):  # it has ended: receiving the answer says so
            self.calls.send_bytes(payload)

    def stop(self) -> None:
        """End it: every call has been answered, or the answers are not wanted."""
        self.process.terminate()
        self.process.join()
        self.wait_sent()  # ended by the broken pipe, if not before
        self.calls.close()


_ahead: _Helper | None = None  # forked by start_ahead, for the next evidently_process block
_helper: _Helper | None = None  # the one the current block's calls go to
_meanwhile: list[Callable[[], None]] = []  # work for this process while it waits on that one


# Evidently's packages whose __init__ imports what monitoring never uses (its UI server, LLM
# judges, every legacy metric and test): a third of its import (docs/decisions.md, "A cold
# monitor"). Left lazy, each imports only the modules asked for, its whole self on any other name.
_LAZY_PACKAGES = (
    "evidently",
    "evidently.legacy.tests",
    "evidently.legacy.metrics",
    "evidently.metrics",
    "evidently.sdk",
    "evidently.ui",
)


class _LazyPackage(types.ModuleType):
    """A package whose ``__init__`` runs at the first name asked of it that is not a submodule
    already imported: ``import package.module`` skips it, ``from package import name`` not."""

    def __init__(self, spec: importlib.machinery.ModuleSpec, loader: Loader) -> None:
        super().__init__(spec.name)
        self.__spec__, self.__loader__, self.__file__ = spec, loader, spec.origin
        self.__path__ = list(spec.submodule_search_locations or [])
        self.__package__ = spec.name
        self._pending_init: Loader | None = loader

    def __getattr__(self, name: str) -> Any:
        loader, self._pending_init = self._pending_init, None
        if loader is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        try:
            loader.exec_module(self)
        except Exception as error:  # not an AttributeError, which `from ... import` would hide
            sys.modules.pop(self.__name__, None)  # the next import runs it whole, failing alike
            raise ImportError(f"{self.__name__} failed to import: {error}") from error
        return getattr(self, name)


def _import_lazily(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    sys.modules[name] = package = _LazyPackage(spec, spec.loader)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)


def import_evidently() -> None:
    """Import what monitoring uses of Evidently, only that, and quietly: its imports warn about
    NumPy 2. With it, the modules whose functions run there (a process forked ahead has none).
    For the Evidently process (single-threaded): lazy packages are no place for racing imports."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in _LAZY_PACKAGES:
            _import_lazily(name)
        import evidently.core.datasets
        import evidently.core.report
        import evidently.metrics.column_statistics
        import evidently.sdk.models
        import evidently.sdk.panels
        import evidently.ui.storage.local.base  # noqa: F401

        import sentimentops.monitoring.drift
        import sentimentops.monitoring.run_values
        import sentimentops.monitoring.workspace  # noqa: F401


def start_ahead() -> None:
    """Fork the process now, before the command has even been parsed, for the next
    :func:`evidently_process` block to use (``cli/entry.py``, for a monitoring run)."""
    global _ahead
    if _ahead is None and _helper is None and _forkable():
        _ahead = _Helper.fork()


@contextmanager
def evidently_process() -> Iterator[None]:
    """Within, :func:`with_evidently` runs its work in a forked process: the one
    :func:`start_ahead` forked, else one forked on entry. None is forked, and the work runs here,
    when threads run (a fork copies their locks held), in a daemonic process (it may not have
    children) or nested in another such block."""
    global _ahead, _helper
    if _helper is not None:
        yield
        return
    helper, _ahead = _ahead, None
    if helper is None and _forkable():
        helper = _Helper.fork()
    if helper is None:
        yield
        return
    _helper = helper
    try:
        yield
    finally:  # answered, or (Ctrl-C, an error) not wanted: nothing there is waited for
        _helper = None
        _meanwhile.clear()
        helper.stop()


def meanwhile(work: Callable[[], None]) -> None:
    """Do ``work`` (once) while the next answer of the Evidently process is awaited; without that
    process, never: then there is no wait to fill. ``work`` only prepares what a later step does
    anyway, which reports a failure: it must not raise."""
    if _helper is not None:
        _meanwhile.append(work)


class Pending(Generic[_T]):
    """A call's answer: from the Evidently process once it comes, or computed here already."""

    def __init__(self, helper: _Helper | None, answer: tuple[bool, Any, str] | None = None):
        self._helper = helper
        self._answer = answer  # (answered, the value or the exception raised, its traceback)

    def result(self) -> _T:
        """The answer; an exception raised there is raised here, with its traceback as a note."""
        if self._answer is None and self._helper is not None:
            while _meanwhile:
                _meanwhile.pop(0)()
            self._helper.wait_sent()
            try:
                self._answer = self._helper.calls.recv()
            except EOFError:
                raise SentimentOpsError(
                    "The process computing the drift ended before it answered: killed, or out "
                    "of memory. Run the command again; if it recurs, check the system log (dmesg)."
                ) from None
        assert self._answer is not None  # computed here, or received above
        answered, value, trace = self._answer
        if answered:
            return value  # type: ignore[no-any-return]  # what the call returned: an _T
        if self._helper is not None:
            value.add_note(f"Raised in the Evidently process:\n{trace}")
        raise value


def in_evidently(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> Pending[_T]:
    """Start ``function(*args, **kwargs)`` in the Evidently process when one runs, else compute
    it here, now; either way the answer, or the exception raised, comes from ``result()``.
    Arguments and answers cross by pickle. Collect answers in the order asked."""
    if _helper is None:
        return Pending(None, _called(function, args, kwargs))
    _helper.send((function, args, kwargs))
    return Pending(_helper)


def with_evidently(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``function(*args, **kwargs)`` in the Evidently process when one runs, else here."""
    return in_evidently(function, *args, **kwargs).result()


def _forkable() -> bool:
    return threading.active_count() == 1 and not multiprocessing.current_process().daemon


def _called(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any, str]:
    try:
        return True, function(*args, **kwargs), ""
    except Exception as error:
        return False, error, traceback.format_exc()


def _serve(calls: Connection) -> None:
    follow_the_command()
    # Failing here, the import fails again, with its traceback, in the first call that needs it.
    with contextlib.suppress(Exception):
        import_evidently()
    while True:
        try:
            function, args, kwargs = calls.recv()
        except EOFError:  # no more work
            return
        answer = _called(function, args, kwargs)
        try:
            calls.send(answer)
        except Exception as error:  # an answer that does not pickle
            message = f"{type(answer[1]).__name__} could not be sent back: {error}"
            calls.send((False, SentimentOpsError(message), answer[2]))
