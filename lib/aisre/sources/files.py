"""Tail local log files from a persisted offset: survives restarts, rotation and truncation.

:class:`FileTailSource` is a cursor, not a search: ``fetch`` returns the complete lines appended
since the last call (oldest first, file by file), whatever ``start``/``end`` say; those only
bound nothing and are accepted for protocol compatibility. ``query`` is a regular expression
(empty = every line); lines that do not match are consumed without being returned.

Guarantees
----------
* The offset advances only past lines that were returned (or filtered out), and is saved to the
  :class:`~aisre.state.StateStore` under ``aisre.cursor.files.<hash of the path>`` when the fetch
  ends (or, with ``commit=False``, when the caller calls :meth:`FileTailSource.commit` after
  dispatching), so a restart resumes exactly where the last committed fetch stopped.
* A partial last line (no newline yet) is left for the next fetch, unless the file was rotated
  away, in which case it is the file's last line and is returned.
* Rotation by rename (``app.log`` → ``app.log.1``, new ``app.log``): the rest of the old file is
  found by inode in the same directory and read first, then the new file from its start.
  Truncation in place (copytruncate, ``size < offset``) or a different file at the same inode
  (first bytes changed) restarts at offset 0.
* Bytes are decoded as UTF-8 with replacement characters; a line longer than
  ``max_line_bytes`` (1 MiB) is cut there with the marker :data:`TRUNCATION_MARKER` and its rest
  skipped (memory stays bounded; ``readline`` never reads more than the cap).
* One fetch reads at most ``limit`` records and ``max_bytes_per_fetch`` bytes; when it stops
  early the batch is ``truncated`` and the next fetch continues.
* An unreadable file raises :class:`~aisre.errors.SourceDown`; a failing or corrupt cursor store
  raises :class:`~aisre.errors.StateError` (nothing is read, nothing is lost). A missing file is
  simply empty until it appears.
"""
from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Callable, Mapping, Sequence

from aisre.errors import BadQuery, SourceDown, StateError
from aisre.models import LogRecord, stable_hash
from aisre.sources.base import LogBatch
from aisre.sources.normalize import json_fields, level_of, lookup, parse_time
from aisre.state import MemoryStore, StateStore, key as state_key

TRUNCATION_MARKER = " …[truncated: line longer than {limit} bytes]"
_HEAD_BYTES = 128
_TS_FIELDS = ("ts", "time", "timestamp", "@timestamp", "date")
_LEADING_TS = re.compile(
    r"^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)")


class FileTailSource:
    """Log source that tails files (``paths``: a list, or a mapping path → service name)."""

    name = "files"
    tails = True   # a cursor itself: aisre.sources.cursor.fetch_new reads it directly

    def __init__(self, paths: Sequence[str] | Mapping[str, str], state_store: StateStore | None = None, *,
                 start_at: str = "end", max_line_bytes: int = 1024 * 1024,
                 max_bytes_per_fetch: int = 16 * 1024 * 1024, auto_commit: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        if start_at not in ("beginning", "end"):
            raise ValueError("start_at must be 'beginning' or 'end'")
        if isinstance(paths, Mapping):
            self.paths = {os.path.abspath(p): str(s) for p, s in paths.items()}
        else:
            self.paths = {os.path.abspath(p): "" for p in paths}
        self.store = state_store if state_store is not None else MemoryStore()
        self.start_at = start_at
        self.max_line_bytes = max_line_bytes
        self.max_bytes_per_fetch = max_bytes_per_fetch
        self.auto_commit = auto_commit
        self.clock = clock
        self._pending: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ state

    def state_key(self, path: str) -> str:
        return state_key("cursor", source="files", series=stable_hash(os.path.abspath(path)))

    def _load(self, path: str) -> dict[str, Any] | None:
        raw = self.store.get(self.state_key(path))
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            raise StateError("file tail cursor is not JSON", key=self.state_key(path), path=path) from None
        return state if isinstance(state, dict) else None

    def _save(self, path: str, state: dict[str, Any]) -> None:
        self._pending[path] = dict(state)

    def commit(self) -> None:
        """Save the offsets reached by the last ``fetch`` (done by ``fetch`` itself when auto_commit)."""
        for path, state in list(self._pending.items()):
            self.store.set(self.state_key(path), json.dumps(state, sort_keys=True))
            del self._pending[path]

    # ------------------------------------------------------------------ LogSource

    def fetch(self, query: str = "", start: float = 0.0, end: float = float("inf"), limit: int = 1000, *,
              commit: bool | None = None) -> LogBatch:
        """New lines since the committed offsets. ``commit`` (default ``auto_commit``) saves the new
        offsets at once; with ``commit=False`` call :meth:`commit` after the records are safe, and
        a fetch before that reads the same lines again."""
        self._pending.clear()
        try:
            pattern = re.compile(query) if query else None
        except re.error as exc:
            raise BadQuery(f"file tail query is not a valid regular expression: {exc}", integration="files",
                           operation="fetch") from None
        records: list[LogRecord] = []
        budget = [self.max_bytes_per_fetch]
        truncated = False
        for path, service in self.paths.items():
            if len(records) >= limit or budget[0] <= 0:
                truncated = True
                break
            more = self._tail(path, service, pattern, limit - len(records), budget, records)
            truncated = truncated or more
        if self.auto_commit if commit is None else commit:
            self.commit()
        return LogBatch(records, truncated=truncated)

    # ------------------------------------------------------------------ internals

    def _tail(self, path: str, service: str, pattern: re.Pattern[str] | None, room: int, budget: list[int],
              out: list[LogRecord]) -> bool:
        """Read new lines of one path into ``out``; True when stopped early (more to read)."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SourceDown(f"cannot stat tailed file: {exc}", integration="files", operation="stat",
                             target=path) from None
        state = self._load(path)
        head = _head(path)
        if state is None:
            state = {"dev": st.st_dev, "ino": st.st_ino, "offset": 0 if self.start_at == "beginning" else st.st_size,
                     "skip": False}
        elif (state.get("dev"), state.get("ino")) != (st.st_dev, st.st_ino):
            old = _find_inode(path, state.get("dev"), state.get("ino"))
            if old is not None:   # finish the rotated file first; its last partial line is final
                n_before = len(out)
                more = self._read(old, path, service, pattern, room, budget, out, state, final=True)
                self._save(path, state)
                if more:
                    return True
                room -= len(out) - n_before
                if room <= 0:
                    return True
            state = {"dev": st.st_dev, "ino": st.st_ino, "offset": 0, "skip": False, "head": ""}
        elif st.st_size < state.get("offset", 0) or _replaced(state.get("head", ""), head):
            state = {"dev": st.st_dev, "ino": st.st_ino, "offset": 0, "skip": False, "head": ""}
        more = self._read(path, path, service, pattern, room, budget, out, state, final=False)
        state["head"] = _head(path)
        self._save(path, state)
        return more

    def _read(self, real: str, path: str, service: str, pattern: re.Pattern[str] | None, room: int,
              budget: list[int], out: list[LogRecord], state: dict[str, Any], *, final: bool) -> bool:
        cap = self.max_line_bytes
        added = 0
        try:
            fh = open(real, "rb")
        except OSError as exc:
            raise SourceDown(f"cannot open tailed file: {exc}", integration="files", operation="open",
                             target=real) from None
        with fh:
            fh.seek(state["offset"])
            while True:
                if added >= room or budget[0] <= 0:
                    return True
                line = fh.readline(cap + 1)
                if not line:
                    return False
                complete = line.endswith(b"\n")
                if not complete and len(line) <= cap and not final and not state["skip"]:
                    return False   # partial line still being written
                state["offset"] += len(line)
                budget[0] -= len(line)
                if state["skip"]:
                    state["skip"] = not complete
                    continue
                cut = not complete and len(line) > cap
                if cut:
                    state["skip"] = True
                text = line[:cap].decode("utf-8", "replace").rstrip("\r\n")
                if cut:
                    text += TRUNCATION_MARKER.format(limit=cap)
                if pattern is not None and not pattern.search(text):
                    continue
                out.append(self._record(text, path, service, cut))
                added += 1

    def _record(self, text: str, path: str, service: str, cut: bool) -> LogRecord:
        fields = json_fields(text) if not cut else None
        ts = None
        if fields:
            for f in _TS_FIELDS:
                if (v := lookup(fields, f)) is not None:
                    ts = _try_time(v)
                    if ts is not None:
                        break
            service = service or str(lookup(fields, "service") or lookup(fields, "service.name") or "")
        if ts is None:
            m = _LEADING_TS.match(text)
            ts = _try_time(m.group(1).replace(",", ".")) if m else None
        attrs: dict[str, Any] = {"path": path}
        if cut:
            attrs["truncated"] = True
        return LogRecord(ts=ts if ts is not None else self.clock(), message=text, service=service,
                         level=level_of(fields, text), source="files", attributes=attrs)


def _try_time(v: Any) -> float | None:
    try:
        return parse_time(v)
    except Exception:   # ValidationError, or a date out of range
        return None


def _replaced(old_head: str, new_head: str) -> bool:
    """The first bytes changed (not merely grew): another file now sits at this inode."""
    return bool(old_head) and not new_head.startswith(old_head) and not old_head.startswith(new_head)


def _head(path: str) -> str:
    """Fingerprint of a file: hex of its first bytes (empty file → '')."""
    try:
        with open(path, "rb") as fh:
            return fh.read(_HEAD_BYTES).hex()
    except OSError:
        return ""


def _find_inode(path: str, dev: Any, ino: Any) -> str | None:
    """A file in ``path``'s directory, named like it, that has inode ``ino`` (the rotated file)."""
    if ino is None:
        return None
    folder, base = os.path.split(path)
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith(base) and entry.path != path and entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if st.st_ino == ino and st.st_dev == dev:
                        return entry.path
    except OSError:
        return None
    return None

