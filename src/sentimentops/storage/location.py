"""A location a user named: a local path or an ``s3://`` object (or any endpoint that
``AWS_ENDPOINT_URL`` names: LocalStack, moto), parsed once and used the same way everywhere."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sentimentops.errors import UnsafeLocationError
from sentimentops.storage.failures import reading_errors

__all__ = ["REJECTS", "SUMMARY", "Location", "LocationLike", "contained_path"]

# Beside a batch output: its rejects and its summary. Batch writes them, monitoring and the
# SQS worker read them, so the names live here, below all three.
REJECTS = ".rejects.csv"
SUMMARY = ".summary.json"
_DATA_SUFFIXES = (".gz", ".csv", ".jsonl", ".ndjson", ".parquet", ".pq")
# An object store has no folders: in a key, "." and ".." are characters that some tools
# normalise and others do not, so such a key is refused rather than guessed at.
_DOT_SEGMENTS = frozenset({".", ".."})


@dataclass(frozen=True, init=False)
class Location:
    """A local path (or ``file://`` URI) or a remote URI, made once from what the user typed.

    Reads (:meth:`exists`, :meth:`fingerprint`, :meth:`open` to read, :meth:`files`) raise
    S3's failures as errors of ours (see :func:`~sentimentops.storage.storage_errors`);
    writes leave them to the ``storage_errors`` block of the task that writes.

    Raises:
        UnsafeLocationError: a remote key with a ``.`` or ``..`` segment (local paths are the
            user's own filesystem: ``../out.csv`` is fine there).
    """

    text: str

    def __init__(self, location: LocationLike) -> None:
        object.__setattr__(self, "text", str(location))
        if self.remote and _DOT_SEGMENTS.intersection(self.text.split("://", 1)[1].split("/")):
            raise UnsafeLocationError(
                f"{self} has a '.' or '..' segment: object keys are not folders, and such a "
                "key could land outside its prefix. Name the object by its plain key."
            )

    def __str__(self) -> str:
        return self.text

    @property
    def remote(self) -> bool:
        """True for a URI with a scheme other than ``file://`` (``s3://bucket/key``)."""
        return "://" in self.text and not self.text.startswith("file://")

    @property
    def name(self) -> str:
        """The last path component: ``reviews.csv.gz``."""
        return self.text.rstrip("/").rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        """The name without its data suffixes: ``scored.csv.gz`` -> ``scored``."""
        name = self.name
        for suffix in _DATA_SUFFIXES:
            name = name.removesuffix(suffix)
        return name

    @property
    def path(self) -> Path:
        """The filesystem path of a local location."""
        return Path(self.text.removeprefix("file://"))

    def sibling(self, name: str) -> Location:
        """The location named ``name`` in the same folder or S3 prefix."""
        head, separator, _ = self.text.rstrip("/").rpartition("/")
        return Location(f"{head}{separator}{name}" if separator else name)

    def beside(self, suffix: str) -> Location:
        """This location's whole name plus ``suffix``, beside it: ``scored.csv`` ->
        ``scored.csv.summary.json`` (:data:`SUMMARY`), so outputs in one folder keep theirs."""
        return self.sibling(self.name + suffix)

    def exists(self) -> bool:
        """Whether a file or folder exists here."""
        if not self.remote:
            return self.path.exists()
        with reading_errors(self):
            filesystem, path = self._filesystem()
            return bool(filesystem.exists(path))

    def fingerprint(self) -> str | None:
        """A cheap identity of the content, None when there is no file: size and modification
        time locally (what ``make`` trusts), the ETag on S3 (one HEAD request)."""
        try:
            if not self.remote:
                stat = self.path.stat()
                return f"{stat.st_size}-{stat.st_mtime_ns}"
            with reading_errors(self):
                filesystem, path = self._filesystem()
                info = filesystem.info(path)
        except FileNotFoundError:
            return None
        tag = info.get("ETag") or f"{info.get('size')}-{info.get('LastModified')}"
        return str(tag).strip('"')

    @contextmanager
    def open(self, mode: str = "rb") -> Iterator[IO[Any]]:
        """The file, open in ``mode`` while the block runs; no decompression is applied."""
        with reading_errors(self) if "r" in mode else nullcontext(), self._opened(mode) as stream:
            yield stream

    def _opened(self, mode: str) -> Any:
        if not self.remote:
            return self.path.open(mode)
        import fsspec

        return fsspec.open(self.text, mode, **_storage_options(self.text))

    def files(self) -> list[str]:
        """The files directly inside a local folder or under an S3 prefix, sorted; none for a
        folder that does not exist."""
        if not self.remote:
            folder = self.path
            return (
                sorted(str(p) for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
            )
        with reading_errors(self):
            filesystem, path = self._filesystem()
            if not filesystem.exists(path):
                return []
            entries = filesystem.ls(path.rstrip("/"), detail=True)
        scheme = self.text.split("://", 1)[0]
        return sorted(f"{scheme}://{entry['name']}" for entry in entries if entry["type"] == "file")

    def put(self, local: Path) -> None:
        """Copy a finished local file here whole: on S3 an object appears once its upload
        completes; locally the copy is renamed into place."""
        if not self.remote:
            target = self.path
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".tmp")
            shutil.copyfile(local, temporary)  # streamed: outputs can be gigabytes
            temporary.replace(target)
            return
        filesystem, path = self._filesystem()
        filesystem.put_file(str(local), path)

    def require_bucket(self) -> None:
        """Fail now when an ``s3://`` location's bucket does not exist (FileNotFoundError), not
        after the work meant for it. A bucket that may not be listed passes: a writer may lack
        ``s3:ListBucket``, and the write itself will tell."""
        if not self.text.startswith("s3://"):
            return
        filesystem, path = self._filesystem()
        with suppress(PermissionError):
            filesystem.call_s3("list_objects_v2", Bucket=path.split("/", 1)[0], MaxKeys=1)

    def _filesystem(self) -> tuple[Any, str]:
        import fsspec

        found: tuple[Any, str] = fsspec.core.url_to_fs(self.text, **_storage_options(self.text))
        return found


LocationLike = str | Path | Location


def _storage_options(text: str) -> dict[str, Any]:
    # s3fs does not read AWS_ENDPOINT_URL itself; pass it so LocalStack and moto work.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if text.startswith("s3://") and endpoint:
        return {"client_kwargs": {"endpoint_url": endpoint}}
    return {}


def contained_path(root: Path, relative: str) -> Path:
    """``root / relative`` for a name taken from a key or a message.

    Raises:
        UnsafeLocationError: the name would land outside ``root`` (absolute, empty, ``..``).
    """
    parts = relative.replace("\\", "/").split("/")  # a backslash is a separator on Windows
    if not relative or parts[0] == "" or _DOT_SEGMENTS.intersection(parts):
        raise UnsafeLocationError(
            f"{relative!r} would be written outside {root}: refused (absolute, empty, or with a "
            "'.' or '..' segment)."
        )
    return root.joinpath(*[part for part in parts if part])
