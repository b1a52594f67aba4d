"""A TCP server that accepts connections and never answers: a dependency that hangs."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class Tarpit:
    """Listens on a free local port, accepts everything, reads nothing, says nothing."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._held.append(client)  # kept open, so the client waits for an answer

    def close(self) -> None:
        """Stop listening and drop every held connection."""
        self.listener.close()
        for sock in self._held:
            with suppress(OSError):
                sock.close()

    def __enter__(self) -> Tarpit:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
