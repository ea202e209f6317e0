"""A TCP proxy on loopback whose stop() is a database outage: no new connections, open ones cut."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.servers import free_port

ACCEPT_POLL_SECONDS = 0.05


class TcpProxy:
    """Forwards connections on ``127.0.0.1:port`` to ``target``; can stop and start again on
    the same port, as a database server restarting would."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open_sockets: set[socket.socket] = set()
        self._forwarders: list[threading.Thread] = []
        self._acceptor: threading.Thread | None = None
        self._listener: socket.socket | None = None

    def start(self) -> None:
        # create_server sets SO_REUSEADDR: the port is free again at once after stop().
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(ACCEPT_POLL_SECONDS)
        self._stopping.clear()
        self._acceptor = threading.Thread(
            target=self._accept_connections, args=(self._listener,), daemon=True
        )
        self._acceptor.start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones; returns when every thread has ended."""
        self._stopping.set()
        if self._acceptor is not None:
            self._acceptor.join()  # no connection opens after this
        with self._lock:
            open_sockets = list(self._open_sockets)
        for connection in open_sockets:
            _shut(connection)  # wakes the thread blocked reading it, which closes it
        for thread in self._forwarders:
            thread.join()
        self._forwarders.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _forward_both_ways(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            self._open_sockets.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            thread = threading.Thread(target=self._forward, args=(source, sink), daemon=True)
            self._forwarders.append(thread)
            thread.start()

    def _accept_connections(self, listener: socket.socket) -> None:
        # Polling with a timeout: closing a socket does not wake a thread blocked in accept().
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            self._forward_both_ways(client, upstream)

    def _forward(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` until either side ends, then end both and close ``source``
        (each socket is the source of exactly one forwarding thread)."""
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other direction or stop() cut the connection
        finally:
            _shut(sink)
            _shut(source)
            with self._lock:
                self._open_sockets.discard(source)
            source.close()


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut or closed
        connection.shutdown(socket.SHUT_RDWR)
