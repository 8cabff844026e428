"""Helpers for fixtures that start real servers or loopback fakes."""
from __future__ import annotations

import os
import shutil
import socket

import pytest


def require_binary(name: str, *candidates: str) -> str:
    """Path of a server binary, or skip (fail under AISRE_REQUIRE_SERVICES=1) with a clear reason."""
    for c in (name, *candidates):
        path = shutil.which(c) or (c if os.path.isabs(c) and os.access(c, os.X_OK) else None)
        if path:
            return path
    reason = f"{name} is not installed (apt-get install it, or run .ci/run)"
    if os.environ.get("AISRE_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
