"""A TCP proxy in front of PostgreSQL that can play an outage without stopping the server.

The machine's PostgreSQL serves other people: tests must never stop it. Put
this proxy between the app and the server instead: `down()` closes its
listening socket (new connections are refused, as by a stopped server) and
cuts every proxied connection (as a server shutdown does); `up()` listens on
the same port again.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class DatabaseProxy:
    """Forwards 127.0.0.1:<port> to the server; down() and up() play an outage and its end."""

    def __init__(self, database_url: str) -> None:
        # The server the run's database is on: the machine's, or the embedded
        # one a fresh machine starts, listening on a Unix socket only.
        params = conninfo_to_dict(database_url)
        host, port = params.get("host") or "127.0.0.1", int(params.get("port") or 5432)
        self.target = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._start_accepting()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        params = conninfo_to_dict(database_url)
        params.update(host="127.0.0.1", port=str(self.port))
        return make_conninfo(**params)

    def down(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            self.listener.close()
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def up(self) -> None:
        """Accept connections again, on the same port."""
        with self._lock:
            self.listener = socket.create_server(("127.0.0.1", self.port))
        self._start_accepting()

    def close(self) -> None:
        """Stop for good."""
        self.down()

    def __enter__(self) -> DatabaseProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                upstream.close()
                raise
            return upstream
        upstream = socket.create_connection(self.target)
        # PostgreSQL's messages are small: without this, Nagle's algorithm
        # would add tens of milliseconds to each round trip.
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return upstream

    def _start_accepting(self) -> None:
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = self._connect_upstream()
            except OSError:
                client.close()
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if listener.fileno() == -1:  # down() ran meanwhile: this one is cut too
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # The first direction to end closes both; the other then ends on OSError.
            with self._lock:
                for sock in (source, sink):
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                    with suppress(ValueError):
                        self._sockets.remove(sock)
