"""Where a batch run's rows go: a folder the file system will not create is bad input, one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentimentops.batch.sink import Sink
from sentimentops.errors import BadInputError
from sentimentops.storage import Location


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_parts_folder_that_cannot_be_created_is_bad_input() -> None:
    """/proc passes the permission check (as root) but creates no folder: it was a traceback."""
    message = "Cannot write the output /proc/scored.csv: /proc/scored.csv.parts cannot be created"
    with pytest.raises(BadInputError, match=f"^{re.escape(message)} \\(No such file or directory"):
        Sink(Location("/proc/scored.csv"), {}, resume=False)

    assert not Path("/proc/scored.csv.parts").exists()
