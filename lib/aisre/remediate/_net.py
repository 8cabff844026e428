"""Small network helpers shared by executors and their tests."""
from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
