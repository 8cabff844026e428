"""Read only new log records, across polls and restarts, without losing or repeating any.

:func:`fetch_new` is what a log sensor calls each poll. It keeps, in the state store under
``aisre.cursor.<source>.<stream>``, the time up to which everything was delivered plus the
fingerprints of records already delivered *at* that instant. Each poll reads ``[cursor, now -
settle_s)``, drops records already delivered at the boundary, and advances the cursor:

* to ``now - settle_s`` when the source read the whole window (``truncated`` False);
* to the last returned record's time when the batch was cut at ``limit`` (the rest comes next poll);
* not at all when the source raised: the error propagates and the next poll re-reads the window.

The cursor is saved only after ``fetch`` returned. By default it is saved at once (a crash before
the caller dispatches loses that batch); pass ``commit_cursor=False`` and call
``result.commit(store)`` after dispatching to get at-least-once instead (a crash in between
re-delivers the batch, never drops it).

``settle_s`` waits for late-indexed records (Elasticsearch refresh, CloudWatch ingestion, Datadog
indexing): records that show up with a timestamp older than the cursor are otherwise missed by any
time-window poller. Sources that are cursors themselves (the file tail, ``tails = True``) are read
directly.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from aisre.models import LogRecord, stable_hash
from aisre.sources.base import LogBatch, LogSource
from aisre.state import StateStore, get_json, key as state_key, set_json

#: Fingerprints kept for the boundary instant (bounds the state size).
MAX_SEEN = 5000


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Everything before ``ts`` was delivered, and so were the records at ``ts`` listed in ``seen``."""
    ts: float
    seen: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "seen": list(self.seen)}


def fingerprint(record: LogRecord) -> str:
    return stable_hash(record.to_dict())


def cursor_key(source_name: str, stream: str) -> str:
    return state_key("cursor", source=source_name, series=stable_hash(stream))


def load_cursor(store: StateStore, key: str) -> Cursor | None:
    doc = get_json(store, key)
    if not isinstance(doc, dict) or not isinstance(doc.get("ts"), (int, float)):
        return None
    return Cursor(float(doc["ts"]), tuple(str(s) for s in doc.get("seen") or ()))


def commit(store: StateStore, key: str, cursor: Cursor) -> None:
    set_json(store, key, cursor.to_dict())


@dataclasses.dataclass(frozen=True)
class NewRecords:
    """The records of one poll and the cursor that follows them (already saved unless commit_cursor=False)."""
    records: LogBatch
    cursor: Cursor
    previous: Cursor | None
    key: str = ""
    source: Any = dataclasses.field(default=None, repr=False, compare=False)

    def commit(self, store: StateStore) -> None:
        """Save the cursor (and a tailing source's offsets): call after the records are dispatched."""
        if getattr(self.source, "tails", False):
            self.source.commit()
        commit(store, self.key, self.cursor)


def fetch_new(source: LogSource, query: str, store: StateStore, *, now: float, stream: str | None = None,
              limit: int = 1000, settle_s: float = 0.0, initial_lookback_s: float = 300.0,
              commit_cursor: bool = True) -> NewRecords:
    """New records of ``query`` on ``source`` since the last call (see the module docstring).

    ``stream`` names the cursor (default: the query); the first call reads the last
    ``initial_lookback_s`` seconds. Raises whatever the source raises, with the cursor unchanged.
    """
    key = cursor_key(getattr(source, "name", type(source).__name__), stream if stream is not None else query)
    prev = load_cursor(store, key)
    end = now - settle_s
    if getattr(source, "tails", False):   # the source keeps its own offsets
        batch = source.fetch(query, prev.ts if prev else end - initial_lookback_s, end, limit, commit=commit_cursor)
        nxt = Cursor(end)
        if commit_cursor:
            commit(store, key, nxt)
        return NewRecords(batch if isinstance(batch, LogBatch) else LogBatch(batch), nxt, prev, key, source)
    start = prev.ts if prev else end - initial_lookback_s
    if end <= start:
        return NewRecords(LogBatch(), prev or Cursor(start), prev, key, source)
    seen = set(prev.seen) if prev else set()
    raw = source.fetch(query, start, end, limit + len(seen))
    batch = raw if isinstance(raw, LogBatch) else LogBatch(raw)
    fresh = [r for r in batch if not (r.ts == start and fingerprint(r) in seen)]
    truncated = batch.truncated or len(fresh) > limit
    fresh = fresh[:limit]
    if truncated and fresh:
        last = fresh[-1].ts
        at_last = {fingerprint(r) for r in fresh if r.ts == last}
        if last == start:
            at_last |= seen
        nxt = Cursor(last, tuple(sorted(at_last))[:MAX_SEEN])
    elif truncated:   # nothing new fitted: keep the cursor, the boundary is saturated
        nxt = prev or Cursor(start)
    else:
        nxt = Cursor(end)
    if commit_cursor:
        commit(store, key, nxt)
    return NewRecords(LogBatch(fresh, truncated=truncated, skipped=batch.skipped), nxt, prev, key, source)
