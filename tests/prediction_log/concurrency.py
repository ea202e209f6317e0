"""Run a function on many threads at once and collect what they raise."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


def errors_of_concurrent_calls(
    function: Callable[[int], object], arguments: Iterable[int]
) -> list[BaseException]:
    """Call ``function(argument)`` on one thread per argument; returns the exceptions raised,
    which would otherwise only be printed by the thread."""
    errors: list[BaseException] = []

    def call(argument: int) -> None:
        try:
            function(argument)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
