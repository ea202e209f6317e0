"""Long work shown step by step, each with its time (a slow model load is not mistaken for slow
scoring): a spinner while it runs, then a tick, or a cross for the one that failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sentimentops.cli.output import console

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, Task, TaskID

__all__ = ["Steps", "steps"]


class Steps:
    """The steps of one piece of work; made by :func:`steps`."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._current: TaskID | None = None

    def start(self, description: str) -> None:
        """Finish the step under way, if any, and start the next."""
        self.finish()
        self._current = self._progress.add_task(
            description, total=None, count="", rate="", failed=False
        )

    def advance(self, count: int, unit: str = "rows") -> None:
        """``count`` more ``unit`` done in the step under way (shows the total and the rate)."""
        if self._current is None:
            return
        self._progress.advance(self._current, count)
        task = self._task(self._current)
        elapsed = task.elapsed or 0.0
        rate = f"{task.completed / elapsed:,.0f} {unit}/s" if elapsed else ""
        self._progress.update(self._current, count=f"{task.completed:,.0f} {unit}", rate=rate)

    def finish(self, description: str | None = None, *, failed: bool = False) -> None:
        """Mark the step under way done (or ``failed``), renamed to ``description`` if given."""
        if self._current is None:
            return
        task = self._task(self._current)
        self._progress.update(
            self._current,
            total=task.completed,
            description=description or task.description,
            failed=failed,
        )
        self._current = None

    def _task(self, task_id: TaskID) -> Task:
        return next(task for task in self._progress.tasks if task.id == task_id)


@contextmanager
def steps(target: Console | None = None) -> Iterator[Steps]:
    """Show the steps started in the block on ``target`` (default: the CLI's console)."""
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    with Progress(
        _state_column(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=target or console,
    ) as progress:
        shown = Steps(progress)
        try:
            yield shown
        except BaseException:
            shown.finish(failed=True)
            raise
        shown.finish()


def _state_column() -> Any:
    from rich.progress import SpinnerColumn
    from rich.text import Text

    class StateColumn(SpinnerColumn):
        def render(self, task: Task) -> RenderableType:
            if task.fields.get("failed"):
                return Text("✗", style="red")
            return super().render(task)

    return StateColumn(finished_text=Text("✓", style="green"))
