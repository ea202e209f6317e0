"""Download the Stanford aclImdb tarball, verify it and convert it to the canonical parquet; each
file gets its final name only once complete, so an interrupted run leaves nothing to trust."""

from __future__ import annotations

import http.client
import re
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentimentops.data.aclimdb import CANONICAL_COLUMNS, read_aclimdb_folder
from sentimentops.data.version import sha256_file
from sentimentops.errors import ChecksumMismatchError, ConfigError, DataError, DownloadError
from sentimentops.storage import write_atomically

__all__ = ["PARQUET_NAME", "ProgressCallback", "download_aclimdb"]

PARQUET_NAME: Final = "imdb_reviews.parquet"
ProgressCallback = Callable[[int, int | None], None]

_CHUNK_BYTES: Final = 64 * 1024
_DEFAULT_TARBALL_NAME: Final = "aclImdb.tar.gz"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_OFFLINE_HINT: Final = (
    "The machine may be offline; the vendored data/imdb/imdb_reviews.parquet already holds the "
    "same 50,000 reviews, so you can use it instead of downloading."
)
# Same column types as the vendored parquet, so both read back identically.
_PARQUET_SCHEMA: Final = pa.schema(
    [(name, pa.int8() if name == "rating" else pa.large_string()) for name in CANONICAL_COLUMNS]
)


def download_aclimdb(
    destination: Path,
    *,
    url: str,
    sha256: str,
    timeout_seconds: float = 60.0,
    progress: ProgressCallback | None = None,
) -> Path:
    """Fetch the tarball at ``url`` into ``destination`` (kept if its digest is ``sha256``), write
    ``imdb_reviews.parquet`` and its ``.sha256`` there and return the parquet's path.

    Raises:
        ConfigError: ``url`` is not http(s) or ``sha256`` is not 64 hex digits.
        DownloadError, ChecksumMismatchError: the transfer failed, or gave other bytes (deleted).
        DataError: the tarball is corrupt, unsafe or holds no readable aclImdb folder."""
    expected = _checked_sha256(sha256)
    tarball = destination / _tarball_name(url)
    destination.mkdir(parents=True, exist_ok=True)
    if not (tarball.is_file() and sha256_file(tarball) == expected):
        tarball.unlink(missing_ok=True)

        def fetch(temporary: Path) -> None:
            with temporary.open("wb") as sink:
                _stream(url, sink, timeout_seconds=timeout_seconds, progress=progress)
            if (actual := sha256_file(temporary)) != expected:
                raise ChecksumMismatchError(
                    f"The file downloaded from {url} has sha256 {actual}, expected {expected}; it "
                    "was deleted. Retry, or fix download.sha256 if the file was updated upstream."
                )

        write_atomically(tarball, fetch)
    reviews = _read_tarball(tarball, destination)
    parquet = destination / PARQUET_NAME
    write_atomically(parquet, lambda temporary: _write_parquet(reviews, temporary))
    line = f"{sha256_file(parquet)}  {PARQUET_NAME}\n"
    write_atomically(
        parquet.with_name(f"{PARQUET_NAME}.sha256"),
        lambda temporary: temporary.write_text(line, encoding="utf-8"),
    )
    return parquet


def _checked_sha256(sha256: str) -> str:
    expected = sha256.strip().lower()
    if _SHA256_HEX.fullmatch(expected) is None:
        raise ConfigError(
            f"Expected sha256 {sha256!r} is not 64 hex digits. Set download.sha256 "
            "(SENTIMENTOPS_DOWNLOAD__SHA256) to the tarball's sha256 digest."
        )
    return expected


def _tarball_name(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    # Only http(s): urllib would also open file:// and ftp:// URLs, which the setting never means.
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ConfigError(
            f"Download URL {url!r} is not an http(s) URL. Set download.url "
            "(SENTIMENTOPS_DOWNLOAD__URL) to the http(s) address of aclImdb_v1.tar.gz."
        )
    name = Path(parsed.path).name
    return name if name not in {"", ".", ".."} else _DEFAULT_TARBALL_NAME


def _stream(
    url: str, sink: BinaryIO, *, timeout_seconds: float, progress: ProgressCallback | None
) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            header = response.headers.get("Content-Length")
            total = int(header) if header is not None and header.isdigit() else None
            done = 0
            while chunk := response.read(_CHUNK_BYTES):
                sink.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as error:
        error.close()  # it holds the open response: release the socket now
        raise DownloadError(
            f"Downloading {url} failed: the server answered HTTP {error.code} {error.reason}. "
            "Check download.url (SENTIMENTOPS_DOWNLOAD__URL). " + _OFFLINE_HINT
        ) from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        cause = error.reason if isinstance(error, urllib.error.URLError) else error
        raise DownloadError(
            f"Downloading {url} failed: {_describe(cause)}. {_OFFLINE_HINT}"
        ) from error
    # urllib returns a short body without complaint when the connection closes early.
    if total is not None and done != total:
        raise DownloadError(
            f"Downloading {url} failed: the server announced {total} bytes but sent {done}. "
            f"Retry. {_OFFLINE_HINT}"
        )


def _describe(cause: object) -> str:
    if isinstance(cause, TimeoutError):
        return "no answer within the timeout (download.timeout_seconds)"
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return str(cause)


def _read_tarball(tarball: Path, destination: Path) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix=".aclImdb-", dir=destination) as scratch:
        try:
            with tarfile.open(tarball, "r:*") as archive:
                archive.extractall(scratch, filter="data")
        except tarfile.FilterError as error:
            raise DataError(
                f"{tarball} was not extracted: member {error.tarinfo.name!r} is unsafe ({error}). "
                "It is not the expected aclImdb tarball; delete it and check download.url."
            ) from None
        except (tarfile.TarError, EOFError) as error:
            raise DataError(
                f"{tarball} is not a readable tar archive ({error}). Delete it and download again."
            ) from None
        try:
            return read_aclimdb_folder(Path(scratch))
        except DataError as error:  # its scratch paths are gone by now: name the tarball
            raise DataError(f"{tarball} does not hold a readable aclImdb folder: {error}") from None


def _write_parquet(reviews: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(reviews, schema=_PARQUET_SCHEMA, preserve_index=False)
    pq.write_table(table, path)
