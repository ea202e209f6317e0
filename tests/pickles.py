"""A pickle that runs code when loaded: what a malicious model file or cache record would be.
Tests plant it and check that nothing ever unpickles it (the marker file never appears)."""

from __future__ import annotations

from pathlib import Path


class RunsCode:
    """Unpickling this writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))
