"""What a batch run is asked to do, in one object whose defaults are the CLI's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sentimentops.errors import ConfigError

__all__ = ["BatchOptions"]


def _max_text_chars() -> int:
    from sentimentops.config import get_settings

    return get_settings().validation.max_text_chars


@dataclass(frozen=True)
class BatchOptions:
    """How to score a file. ``id_column`` is carried to the output when the input has it
    (``row_number`` otherwise); with ``require_id_column`` an input without it is refused."""

    text_column: str = "review"
    id_column: str | None = "id"
    require_id_column: bool = False
    chunk_size: int = 5_000
    max_text_chars: int = field(default_factory=_max_text_chars)  # validation.max_text_chars
    max_reject_rate: float | None = None  # above it, RejectLimitExceededError (exit 4)
    explain: bool = False  # add top_ngrams: the n-grams that moved each score most
    engine: str = "local"  # or "dask"
    workers: int = 2  # processes of a Dask LocalCluster
    scheduler: str | None = None  # an existing Dask scheduler (tcp://host:8786) instead

    def __post_init__(self) -> None:
        if self.engine not in ("local", "dask"):
            raise ConfigError(f"--engine must be local or dask, not {self.engine!r}.")
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError(
                f"--scheduler {self.scheduler} names a Dask scheduler: add --engine dask (the "
                f"{self.engine} engine would not use it)."
            )

    def resumable_as(self) -> dict[str, Any]:
        """What a resumed run must share with the interrupted one, besides input and model."""
        names = ("chunk_size", "max_text_chars", "text_column", "id_column", "explain")
        return {name: getattr(self, name) for name in names}
