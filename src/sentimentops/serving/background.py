"""A coroutine the server runs on its event loop from start-up to shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar

__all__ = ["BackgroundLoop", "cancel"]


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class BackgroundLoop:
    """Runs :meth:`_run` on the running loop between :meth:`start` and :meth:`stop`; what is
    still queued at stop is dropped."""

    task_name: ClassVar[str]
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel and wait until stopped."""
        await cancel(self._task)

    async def _run(self) -> None:
        raise NotImplementedError
