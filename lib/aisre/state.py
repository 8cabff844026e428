"""Key-value state that survives restarts: detector state, cursors, incidents, leases, the mode.

One small protocol, :class:`StateStore`, with string values (the st2 datastore stores strings,
so every implementation does too). Implementations:

* :class:`MemoryStore` - tests and drills; honours TTLs against an injectable clock.
* :class:`FileStore` - the standalone agent; one JSON file, atomic replace, process lock.
* :class:`DatastoreStore` - wraps an st2 ``sensor_service`` / ``action_service`` (duck-typed,
  no st2 import) and always uses ``local=False`` so sensors and actions share keys.

Key names are explicit and namespaced: ``aisre.<area>.<name>`` (see :data:`KEYS`).
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from typing import Any, Callable, Protocol, runtime_checkable

from aisre.errors import StateError

#: Key layout shared by the pack and the library.
KEYS = {
    "mode": "aisre.mode",                                  # off|shadow|advisory|limited|autonomous
    "incident": "aisre.incident.{id}",                     # Incident JSON
    "open_incident": "aisre.open.{fingerprint}",           # incident id for an open fingerprint
    "lease": "aisre.lease.{service}",                      # remediation lease (owner token, TTL)
    "rate": "aisre.rate.actions",                          # JSON list of recent action times
    "detector": "aisre.detector.{series}",                 # detector state JSON
    "cursor": "aisre.cursor.{source}.{series}",            # last processed timestamp
    "heartbeat": "aisre.heartbeat.{sensor}",               # sensor heartbeat JSON
    "dedup": "aisre.dedup.{key}",                          # dedup marker (TTL)
    "changes": "aisre.changes.{service}",                  # recent Change list JSON
}


def key(name: str, **parts: str) -> str:
    return KEYS[name].format(**parts)


@runtime_checkable
class StateStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl_s: float | None = None) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str = "") -> list[str]: ...


def get_json(store: StateStore, key: str, default: Any = None) -> Any:
    raw = store.get(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return default


def set_json(store: StateStore, key: str, value: Any, ttl_s: float | None = None) -> None:
    store.set(key, json.dumps(value, sort_keys=True, default=str), ttl_s=ttl_s)


_CLAIM_LOCK = threading.Lock()


def claim(store: StateStore, key: str, value: str, ttl_s: float | None = None) -> bool:
    """Set ``key`` only if it is absent (or expired); True when this caller now holds it.

    Atomic across threads and processes for stores with an ``add`` method (:class:`MemoryStore`,
    :class:`FileStore`: the flock'd transaction). Other stores (the st2 datastore has no
    compare-and-set) fall back to read, write, read back under a process lock: two processes can
    then both win in a narrow window, which st2's per-service concurrency policy closes.
    """
    add = getattr(store, "add", None)
    if callable(add):
        return bool(add(key, value, ttl_s=ttl_s))
    with _CLAIM_LOCK:
        if store.get(key) is not None:
            return False
        store.set(key, value, ttl_s=ttl_s)
        return store.get(key) == str(value)


class MemoryStore:
    """In-memory store; values are stringified like the real datastore; TTL via ``clock``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.RLock()
        self.clock = clock

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and self.clock() >= expires:
                del self._data[key]
                return None
            return value

    def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        with self._lock:
            self._data[key] = (str(value), self.clock() + ttl_s if ttl_s else None)

    def add(self, key: str, value: str, ttl_s: float | None = None) -> bool:
        """Set ``key`` if absent or expired (atomic); True when it was set."""
        with self._lock:
            if self.get(key) is not None:
                return False
            self.set(key, value, ttl_s=ttl_s)
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in list(self._data) if k.startswith(prefix) and self.get(k) is not None)


class FileStore:
    """A JSON file shared by processes on one host (flock), written atomically."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read state file: {exc}", path=self.path) from None

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(self.path)), prefix=".state-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StateError(f"cannot write state file: {exc}", path=self.path) from None

    def _txn(self, fn: Callable[[dict[str, Any]], Any]) -> Any:
        lock_path = self.path + ".lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._read()
                now = self.clock()
                data = {k: v for k, v in data.items() if v[1] is None or v[1] > now}
                result = fn(data)
                self._write(data)
                return result
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def get(self, key: str) -> str | None:
        item = self._txn(lambda d: d.get(key))
        return None if item is None else item[0]

    def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        expires = self.clock() + ttl_s if ttl_s else None
        self._txn(lambda d: d.__setitem__(key, [str(value), expires]))

    def add(self, key: str, value: str, ttl_s: float | None = None) -> bool:
        """Set ``key`` if absent or expired, atomically across processes (one flock'd transaction)."""
        expires = self.clock() + ttl_s if ttl_s else None

        def txn(d: dict[str, Any]) -> bool:
            if key in d:
                return False
            d[key] = [str(value), expires]
            return True
        return bool(self._txn(txn))

    def delete(self, key: str) -> None:
        self._txn(lambda d: d.pop(key, None))

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(self._txn(lambda d: [k for k in d if k.startswith(prefix)]))


class DatastoreStore:
    """Adapter over st2's ``sensor_service`` or ``action_service`` (system scope, ``local=False``).

    The st2 service logs API errors and returns None; a raised exception becomes :class:`StateError`.
    """

    def __init__(self, service: Any) -> None:
        self.service = service

    def get(self, key: str) -> str | None:
        try:
            value = self.service.get_value(name=key, local=False)
        except Exception as exc:  # st2 client errors are not ours to type
            raise StateError(f"datastore get failed: {exc}", key=key) from None
        return None if value is None else str(value)

    def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        try:
            kwargs: dict[str, Any] = {"name": key, "value": str(value), "local": False}
            if ttl_s:
                kwargs["ttl"] = max(1, int(ttl_s))
            self.service.set_value(**kwargs)
        except Exception as exc:
            raise StateError(f"datastore set failed: {exc}", key=key) from None

    def delete(self, key: str) -> None:
        try:
            self.service.delete_value(name=key, local=False)
        except Exception as exc:
            raise StateError(f"datastore delete failed: {exc}", key=key) from None

    def keys(self, prefix: str = "") -> list[str]:
        try:
            items = self.service.list_values(local=False, prefix=prefix)
        except Exception as exc:
            raise StateError(f"datastore list failed: {exc}", prefix=prefix) from None
        return sorted(getattr(i, "name", None) or i["name"] for i in items or [])
