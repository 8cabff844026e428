"""Append-only, hash-chained audit log (JSON Lines).

Each line is one :class:`~aisre.models.AuditRecord`. ``hash = sha256(prev_hash + canonical JSON of the
record without its hash)``; canonical JSON is ``json.dumps(sort_keys=True, separators=(",", ":"))``.
The first record's ``prev_hash`` is 64 zeros. A side file ``<path>.head`` holds the last seq and hash,
so deleting the newest lines is detected too. Writers on one host serialise through ``flock`` on
``<path>.lock`` (and a thread lock), so concurrent processes never interleave or fork the chain.

Secrets never reach the file: values of keys named like token/password/secret/key are replaced by
``[REDACTED]``, then the optional ``redactor`` callable and the configured ``secrets`` are applied to
every string in ``data``.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Mapping

from aisre.errors import StateError
from aisre.models import AuditRecord, Model, frozen

GENESIS = "0" * 64
REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(r"(token|passw|secret|api_?key|access_?key|private_?key|^key$|_key$|credential|"
                        r"authorization|cookie|dsn)", re.I)


@frozen
class AuditVerification(Model):
    """Result of :meth:`AuditLog.verify`; ``first_bad_seq`` is the line number (1-based) that broke the chain."""
    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str = ""


def canonical(record: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "hash"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(record)).encode("utf-8")).hexdigest()


def default_redact(data: Any, redactor: Callable[[str], str] | None = None,
                   secrets: Iterable[str] = ()) -> Any:
    """Copy ``data`` with secret-named keys blanked and every string passed through ``redactor``/``secrets``."""
    secrets = tuple(s for s in secrets if s)

    def text(s: str) -> str:
        for secret in secrets:
            s = s.replace(secret, REDACTED)
        return redactor(s) if redactor is not None else s

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {str(k): (REDACTED if SECRET_KEY.search(str(k)) and node[k] not in (None, "", [], {})
                             else walk(v)) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return text(node)
        if isinstance(node, Model):
            return walk(node.to_dict())
        if node is None or isinstance(node, (bool, int, float)):
            return node
        return text(str(node))

    return walk(data)


class AuditLog:
    """``AuditLog(path).append(kind, incident_id, data)`` -> the chained :class:`AuditRecord`."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time,
                 redactor: Callable[[str], str] | None = None, environment: str = "",
                 secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.clock = clock
        self.redactor = redactor
        self.environment = environment
        self.secrets = tuple(secrets)
        self._lock = threading.Lock()
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create audit directory: {exc}", path=parent) from None

    # ---------------------------------------------------------------- writing

    def _tail(self) -> tuple[int, str]:
        """(last seq, last hash) from the end of the file, without reading all of it."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                if size == 0:
                    return 0, GENESIS
                block = min(size, 65536)
                while True:
                    fh.seek(size - block)
                    chunk = fh.read(block)
                    lines = chunk.rstrip(b"\n").split(b"\n")
                    if len(lines) > 1 or block == size:
                        last = json.loads(lines[-1])
                        return int(last["seq"]), str(last["hash"])
                    block = min(size, block * 4)
        except FileNotFoundError:
            return 0, GENESIS
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"audit log tail unreadable, refusing to extend a broken chain: {exc}",
                             path=self.path) from None

    def append(self, kind: str, incident_id: str, data: Mapping[str, Any] | None = None,
               actor: str = "aisre") -> AuditRecord:
        """Append one record; returns it with ``seq``, ``prev_hash`` and ``hash`` filled in."""
        clean = default_redact(dict(data or {}), self.redactor, self.secrets)
        with self._lock, open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                seq, prev = self._tail()
                body = AuditRecord(seq=seq + 1, ts=float(self.clock()), kind=str(kind),
                                   incident_id=str(incident_id or ""), data=clean, actor=str(actor),
                                   environment=self.environment, prev_hash=prev).to_dict()
                body["hash"] = chain_hash(prev, body)
                line = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
                try:
                    with open(self.path, "a", encoding="utf-8") as fh:
                        fh.write(line + "\n")
                        fh.flush()
                        os.fsync(fh.fileno())
                    tmp = self.path + ".head.tmp"
                    with open(tmp, "w", encoding="utf-8") as fh:
                        json.dump({"seq": body["seq"], "hash": body["hash"]}, fh)
                    os.replace(tmp, self.path + ".head")
                except OSError as exc:
                    raise StateError(f"cannot write audit log: {exc}", path=self.path) from None
                return AuditRecord.from_dict(body)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ---------------------------------------------------------------- reading

    def _lines(self) -> Iterator[str]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield line.rstrip("\n")
        except FileNotFoundError:
            return

    def records(self) -> list[AuditRecord]:
        """Every record, in file order (raises StateError on a line that is not a record)."""
        out = []
        for n, line in enumerate(self._lines(), 1):
            try:
                out.append(AuditRecord.from_dict(json.loads(line)))
            except ValueError as exc:
                raise StateError(f"audit line {n} is not a record: {exc}", path=self.path) from None
        return out

    def verify(self) -> AuditVerification:
        """Walk the chain: every line parses, seq runs 1..n, prev_hash links, hash recomputes, head matches."""
        prev, count = GENESIS, 0
        for n, line in enumerate(self._lines(), 1):
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                return AuditVerification(ok=False, count=count, first_bad_seq=n, reason=f"line {n} is not JSON")
            if rec.get("seq") != n:
                return AuditVerification(ok=False, count=count, first_bad_seq=n,
                                         reason=f"line {n} has seq {rec.get('seq')!r}: a line was deleted or moved")
            if rec.get("prev_hash") != prev:
                return AuditVerification(ok=False, count=count, first_bad_seq=n,
                                         reason=f"line {n} does not link to line {n - 1}")
            if rec.get("hash") != chain_hash(prev, rec):
                return AuditVerification(ok=False, count=count, first_bad_seq=n,
                                         reason=f"line {n} was modified (hash mismatch)")
            prev, count = rec["hash"], n
        try:
            with open(self.path + ".head", encoding="utf-8") as fh:
                head = json.load(fh)
        except FileNotFoundError:
            head = None
        except (OSError, ValueError):
            return AuditVerification(ok=False, count=count, first_bad_seq=count + 1, reason="head file unreadable")
        if head is not None and (head.get("seq") != count or head.get("hash") != prev):
            return AuditVerification(ok=False, count=count, first_bad_seq=count + 1,
                                     reason=f"head says seq {head.get('seq')}, file ends at {count}: lines were "
                                            "removed from the end")
        if head is None and count:
            return AuditVerification(ok=False, count=count, first_bad_seq=count, reason="head file missing")
        return AuditVerification(ok=True, count=count)


__all__ = ["AuditLog", "AuditVerification", "canonical", "chain_hash", "default_redact"]
