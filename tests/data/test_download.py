"""Downloading, verifying and converting the aclImdb tarball, against a real local HTTP server."""

from __future__ import annotations

import hashlib
import io
import random
import socket
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sentimentops.data.download import PARQUET_NAME, download_aclimdb
from sentimentops.errors import ChecksumMismatchError, ConfigError, DataError, DownloadError

from .test_aclimdb import expected_frame, write_aclimdb_tree

TARBALL = "aclImdb_v1.tar.gz"


@dataclass
class Route:
    body: bytes
    # None sends the true length; an int announces that length whatever the body is.
    content_length: int | None = None
    send_length: bool = True


@dataclass
class FileServer:
    """A local HTTP server: ``routes`` maps a path to what it answers, ``requests`` counts hits."""

    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)

    def serve(
        self, path: str, body: bytes, *, content_length: int | None = None, send_length: bool = True
    ) -> str:
        self.routes[path] = Route(body, content_length=content_length, send_length=send_length)
        return self.base_url + path


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests[self.path] += 1
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            if route.send_length:
                length = route.content_length or len(route.body)
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # Keep the test output clean.

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_port}"
    # A short poll interval: shutdown() waits for the loop to notice it, 0.5 s by default.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours proxy variables; the local server must be reached directly.
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


def make_tarball(tmp_path: Path, *, extra: dict[str, bytes] | None = None) -> bytes:
    """The gzipped tar of a small aclImdb tree, with ``extra`` members (name -> bytes) added."""
    tree_parent = tmp_path / "tree"
    root = write_aclimdb_tree(tree_parent)
    # Incompressible padding in a file the reader ignores, so the download spans several chunks.
    (root / "imdb.vocab").write_bytes(random.Random(0).randbytes(300_000))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(root, arcname="aclImdb")
        for name, content in (extra or {}).items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tarball(tmp_path: Path) -> bytes:
    return make_tarball(tmp_path)


def test_download_verifies_and_converts_to_the_canonical_table(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    destination = tmp_path / "out"

    parquet = download_aclimdb(destination, url=url, sha256=sha256_of(tarball))

    assert parquet == destination / PARQUET_NAME
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), expected_frame())
    checksum_line = (destination / f"{PARQUET_NAME}.sha256").read_text(encoding="utf-8")
    assert checksum_line == f"{sha256_of(parquet.read_bytes())}  {PARQUET_NAME}\n"
    assert (destination / TARBALL).read_bytes() == tarball
    # No temporary or extracted files stay behind.
    assert sorted(p.name for p in destination.iterdir()) == sorted(
        [TARBALL, PARQUET_NAME, f"{PARQUET_NAME}.sha256"]
    )


def test_parquet_schema_matches_the_vendored_file(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    parquet = download_aclimdb(tmp_path / "out", url=url, sha256=sha256_of(tarball))

    vendored = Path(__file__).parents[2] / "data" / "imdb" / PARQUET_NAME
    assert pq.read_schema(parquet).remove_metadata() == pq.read_schema(vendored).remove_metadata()


def test_wrong_checksum_raises_and_leaves_nothing(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    destination = tmp_path / "out"
    wrong = "0" * 64

    with pytest.raises(ChecksumMismatchError) as caught:
        download_aclimdb(destination, url=url, sha256=wrong)

    message = str(caught.value)
    assert url in message
    assert wrong in message
    assert sha256_of(tarball) in message
    assert list(destination.iterdir()) == []


def test_existing_tarball_with_wrong_bytes_is_replaced(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / TARBALL).write_bytes(b"truncated leftover")

    download_aclimdb(destination, url=url, sha256=sha256_of(tarball))

    assert server.requests[f"/{TARBALL}"] == 1
    assert (destination / TARBALL).read_bytes() == tarball


def test_http_404_is_a_download_error_with_the_offline_hint(
    tmp_path: Path, server: FileServer
) -> None:
    url = f"{server.base_url}/missing.tar.gz"
    destination = tmp_path / "out"

    with pytest.raises(DownloadError, match="HTTP 404") as caught:
        download_aclimdb(destination, url=url, sha256="a" * 64)

    assert url in str(caught.value)
    assert "offline" in str(caught.value)
    assert "data/imdb/imdb_reviews.parquet" in str(caught.value)
    assert list(destination.iterdir()) == []


def test_connection_refused_is_a_quick_download_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/{TARBALL}"
    started = time.monotonic()

    with pytest.raises(DownloadError, match="ConnectionRefusedError") as caught:
        download_aclimdb(tmp_path / "out", url=url, sha256="a" * 64, timeout_seconds=30)

    assert time.monotonic() - started < 5
    assert url in str(caught.value)
    assert "offline" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_silent_server_times_out_as_a_download_error(tmp_path: Path) -> None:
    # A listening socket that never answers: the connection succeeds, the response never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/{TARBALL}"
        started = time.monotonic()

        with pytest.raises(DownloadError, match="timeout"):
            download_aclimdb(tmp_path / "out", url=url, sha256="a" * 64, timeout_seconds=0.3)

    assert time.monotonic() - started < 5
    assert list((tmp_path / "out").iterdir()) == []


def test_body_shorter_than_announced_is_a_download_error(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball[:1000], content_length=len(tarball))

    with pytest.raises(DownloadError, match=f"announced {len(tarball)} bytes but sent 1000"):
        download_aclimdb(tmp_path / "out", url=url, sha256=sha256_of(tarball))

    assert list((tmp_path / "out").iterdir()) == []


def test_path_traversal_member_is_refused(tmp_path: Path, server: FileServer) -> None:
    evil = make_tarball(tmp_path, extra={"../evil.txt": b"escaped"})
    url = server.serve(f"/{TARBALL}", evil)
    destination = tmp_path / "out"

    with pytest.raises(DataError, match=r"'\.\./evil\.txt' is unsafe"):
        download_aclimdb(destination, url=url, sha256=sha256_of(evil))

    assert not (tmp_path / "evil.txt").exists()
    assert not (destination / "evil.txt").exists()
    assert not (destination / PARQUET_NAME).exists()
    # The scratch extraction folder is removed too.
    assert [p.name for p in destination.iterdir()] == [TARBALL]


def test_tarball_without_aclimdb_folder_is_a_data_error_naming_it(
    tmp_path: Path, server: FileServer
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("other/readme.txt")
        member.size = 2
        archive.addfile(member, io.BytesIO(b"hi"))
    body = buffer.getvalue()
    url = server.serve(f"/{TARBALL}", body)

    with pytest.raises(DataError, match="does not hold a readable aclImdb folder") as caught:
        download_aclimdb(tmp_path / "out", url=url, sha256=sha256_of(body))

    assert str(tmp_path / "out" / TARBALL) in str(caught.value)


def test_rerun_does_not_download_again(tmp_path: Path, server: FileServer, tarball: bytes) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    destination = tmp_path / "out"

    first = download_aclimdb(destination, url=url, sha256=sha256_of(tarball))
    first_table = pd.read_parquet(first)
    first.unlink()
    second = download_aclimdb(destination, url=url, sha256=sha256_of(tarball).upper())

    assert server.requests[f"/{TARBALL}"] == 1
    pd.testing.assert_frame_equal(pd.read_parquet(second), first_table)


def test_progress_reports_increasing_bytes_ending_at_total(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball)
    calls: list[tuple[int, int | None]] = []

    download_aclimdb(
        tmp_path / "out",
        url=url,
        sha256=sha256_of(tarball),
        progress=lambda done, total: calls.append((done, total)),
    )

    done_values = [done for done, _ in calls]
    assert len(calls) > 1
    assert done_values == sorted(set(done_values))
    assert {total for _, total in calls} == {len(tarball)}
    assert calls[-1] == (len(tarball), len(tarball))


def test_progress_total_is_none_without_content_length(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    url = server.serve(f"/{TARBALL}", tarball, send_length=False)
    calls: list[tuple[int, int | None]] = []

    download_aclimdb(
        tmp_path / "out",
        url=url,
        sha256=sha256_of(tarball),
        progress=lambda done, total: calls.append((done, total)),
    )

    assert {total for _, total in calls} == {None}
    assert calls[-1][0] == len(tarball)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.tar.gz", "not a url"])
def test_non_http_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="not an http\\(s\\) URL"):
        download_aclimdb(tmp_path / "out", url=url, sha256="a" * 64)

    assert not (tmp_path / "out").exists()


def test_malformed_sha256_is_a_config_error(tmp_path: Path, server: FileServer) -> None:
    with pytest.raises(ConfigError, match="not 64 hex digits"):
        download_aclimdb(tmp_path / "out", url=f"{server.base_url}/{TARBALL}", sha256="abc")

    assert server.requests == Counter()


def test_cli_download_then_validate_the_converted_data(
    tmp_path: Path, server: FileServer, tarball: bytes
) -> None:
    from typer.testing import CliRunner

    from sentimentops.cli.main import app

    url = server.serve(f"/{TARBALL}", tarball)
    destination = tmp_path / "cli"
    runner = CliRunner()

    downloaded = runner.invoke(
        app, ["data", "download", "--dest", str(destination), "--url", url,
              "--sha256", sha256_of(tarball)]
    )  # fmt: skip
    validated = runner.invoke(app, ["data", "validate", str(destination / PARQUET_NAME)])
    refused = runner.invoke(
        app, ["data", "download", "--dest", str(tmp_path / "bad"), "--url", url,
              "--sha256", "0" * 64]
    )  # fmt: skip

    assert downloaded.exit_code == 0, downloaded.output
    assert validated.exit_code == 0, validated.output
    assert f"{len(expected_frame())}" in validated.output
    assert refused.exit_code == 2
    assert "Traceback" not in refused.output
