"""Log anomaly detection for one service: template surges, new error patterns, fatal signatures.

``LogWatcher.observe(records, now)`` joins continuation records into their event
(:func:`assemble_records`; ``assemble=False`` turns it off), feeds each event's first line through
the template miner and the whole event through the signature matcher, and returns
:class:`aisre.models.Signal` s (``kind="log"``):

* **signature** — the record matches a known fatal signature (``signatures.yaml``): ``name`` and
  ``signature`` are the signature id, ``evidence["runbook_id"]`` names the runbook. Fires at once,
  also during warm-up.
* **new_pattern** — a template never seen before, or one silent for ``requiet_s`` (default: the
  cooldown, so a pattern that returns after its episode ended opens a new one), at level warning
  or worse, after the watcher's warm-up (the first ``warmup_windows`` windows only learn).
  ``name`` is the template id; ``evidence["returning"]`` tells the two cases apart. At most
  ``max_pattern_signals`` per window; past that one ``pattern_flood`` signal stands for the rest.
* **surge** — the count of a template in a window exceeds its baseline: an EWMA of per-window
  counts ``m`` with a Poisson bound ``upper = m + z * sqrt(max(m, 1)) + 1`` and at least
  ``min_count`` lines. The current (open) window is checked as it fills, so a surge is reported
  before the window closes. Windows that surged are learned clipped to ``upper`` (an outage must
  not become the baseline).

Every signal carries ``evidence`` {detector, count, baseline, upper, template, template_id,
window_s, window_start, level} and up to ``max_samples`` example lines passed through
:func:`aisre.detect.masking.redact`. The same ``(kind, name)`` does not signal again within
``cooldown_s``. Summaries are built from fixed text plus redacted, truncated template text; log
content is data, never instructions.

State: ``to_state()`` / ``from_state()`` round-trip through JSON (baselines, the open window,
cooldowns, and the miner when the watcher owns it), so a sensor restart neither re-learns nor
re-signals. Records with a non-finite time are dropped and counted in ``dropped``.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from aisre.detect.logparse import EventAssembler, TemplateMiner, decode_text
from aisre.detect.masking import redact, truncate
from aisre.detect.signatures import Signature, default_signatures, match_signature
from aisre.errors import ValidationError
from aisre.models import LogRecord, Severity, Signal, stable_hash

STATE_VERSION = 1
DETECTOR = "logwatch"

_LEVEL_RX = re.compile(
    r"(?i)(?:\blevel[\"']?\s*[=:]\s*[\"']?|\[|\b)"
    r"(fatal|panic|emerg(?:ency)?|alert|crit(?:ical)?|severe|err(?:or)?|warn(?:ing)?|notice|info|debug|trace)\b")
_LEVEL_MAP = {"fatal": "critical", "panic": "critical", "emerg": "critical", "emergency": "critical",
              "alert": "critical", "crit": "critical", "critical": "critical", "severe": "error",
              "err": "error", "error": "error", "warn": "warning", "warning": "warning",
              "notice": "info", "info": "info", "debug": "debug", "trace": "debug",
              "e": "error", "w": "warning", "f": "critical", "i": "info", "d": "debug", "v": "debug"}
_LEVEL_RANK = {"debug": -1, "info": 0, "warning": 1, "error": 2, "critical": 3}
_ERROR_HINT = re.compile(r"Traceback \(most recent call last\)|Exception in thread|^\s*at [\w$.]+\(|"
                         r"\b\w+(?:Exception|Error)\b:")


def detect_level(text: str, declared: str = "") -> str:
    """Normalised level (debug|info|warning|error|critical) from the record or the line, '' if none.

    The declared level wins; otherwise the first level word in the first 256 characters
    (``ERROR``, ``[warn]``, ``level=error``, ``"level":"error"`` …); a stack trace means error.
    """
    if declared:
        lv = _LEVEL_MAP.get(declared.strip().lower())
        if lv:
            return lv
    head = text[:256]
    m = _LEVEL_RX.search(head)
    if m:
        return _LEVEL_MAP[m.group(1).lower()]
    if _ERROR_HINT.search(text[:4096]):
        return "error"
    return ""


def assemble_records(records: Iterable[LogRecord], *, max_lines: int = 200,
                     max_chars: int = 65_536) -> list[LogRecord]:
    """Join continuation records (stack-trace frames, indented lines; see
    :class:`aisre.detect.logparse.EventAssembler`) into the record that starts their event.

    Records keep their order; the head record's time, level and attributes are kept. Only records
    of the same service and source are joined. A continuation with no head in this batch stays on
    its own.
    """
    out: list[LogRecord] = []
    asm = EventAssembler(max_lines=max_lines, max_chars=max_chars)
    head: LogRecord | None = None
    for rec in records:
        text = decode_text(rec.message)
        if head is not None and (rec.service, rec.source) != (head.service, head.source):
            for event in asm.flush():
                out.append(dataclasses.replace(head, message=event))
            head = None
        done = asm.feed(text)
        if done and head is not None:
            out.append(dataclasses.replace(head, message=done[0]))
        if done or head is None:
            head = rec
    if head is not None:
        for event in asm.flush():
            out.append(dataclasses.replace(head, message=event))
    return out


def _severity(level: str) -> Severity:
    return {"critical": Severity.CRITICAL, "error": Severity.ERROR, "warning": Severity.WARNING}.get(
        level, Severity.INFO)


@dataclass
class _Baseline:
    mean: float = 0.0
    windows: int = 0            # closed windows learned since first seen
    level: str = ""             # worst level seen for this template
    last_ts: float = 0.0        # when the template was last seen

    def to_list(self) -> list[Any]:
        return [round(self.mean, 6), self.windows, self.level, self.last_ts]


@dataclass
class _Window:
    index: int
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    pattern_signals: int = 0        # new_pattern signals raised in this window


class LogWatcher:
    """Per-service log anomaly detector (see module docstring for the contract)."""

    def __init__(self, service: str, miner: TemplateMiner | None = None, window_s: float = 60, *,
                 alpha: float = 0.1, z: float = 4.0, min_count: int = 10, warmup_windows: int = 5,
                 cooldown_s: float = 900, new_pattern_level: str = "warning", requiet_s: float | None = None,
                 max_samples: int = 5, max_pattern_signals: int = 10, assemble: bool = True,
                 source: str = "logs", signatures: tuple[Signature, ...] | None = None) -> None:
        if not window_s or window_s <= 0 or not math.isfinite(window_s):
            raise ValidationError("window_s must be a positive number", what="LogWatcher")
        if not 0 < alpha <= 1:
            raise ValidationError("alpha must be in (0, 1]", what="LogWatcher")
        if new_pattern_level not in _LEVEL_RANK:
            raise ValidationError(f"unknown level {new_pattern_level!r}", what="LogWatcher")
        self.service = service
        self.owns_miner = miner is None
        self.miner = miner if miner is not None else TemplateMiner()
        self.window_s = float(window_s)
        self.alpha = alpha
        self.z = z
        self.min_count = min_count
        self.warmup_windows = warmup_windows
        self.cooldown_s = cooldown_s
        self.new_pattern_level = new_pattern_level
        self.requiet_s = cooldown_s if requiet_s is None else requiet_s
        self.max_samples = max_samples
        self.max_pattern_signals = max_pattern_signals
        self.assemble = assemble
        self.source = source
        self.signatures = signatures
        self._baselines: dict[str, _Baseline] = {}
        self._window: _Window | None = None
        self._windows_closed = 0
        self._last_signal: dict[str, float] = {}
        self.dropped = 0

    # ------------------------------------------------------------------ main entry
    def observe(self, records: Iterable[LogRecord], now: float) -> list[Signal]:
        """Feed records (any order within a poll) and return the signals they raise."""
        signals: list[Signal] = []
        recs = [r for r in records if self._valid(r)]
        if math.isfinite(now):       # clock skew: a record from the future must not freeze the windows
            limit = now + self.window_s
            recs = [r if r.ts <= limit else dataclasses.replace(r, ts=limit) for r in recs]
        recs.sort(key=lambda r: r.ts)
        if self.assemble:
            recs = assemble_records(recs)
        for rec in recs:
            idx = int(rec.ts // self.window_s)
            if self._window is None:
                self._window = _Window(idx)
            elif idx > self._window.index:
                self._close_until(idx, signals)
            elif idx < self._window.index:
                idx = self._window.index       # late record: counted in the open window
            signals.extend(self._ingest(rec, idx))
        if math.isfinite(now) and self._window is not None:
            now_idx = int(now // self.window_s)
            if now_idx > self._window.index:
                self._close_until(now_idx, signals)
        signals.extend(self._check_open(now))
        return signals

    # ------------------------------------------------------------------ internals
    def _valid(self, rec: Any) -> bool:
        ok = isinstance(rec, LogRecord) and isinstance(rec.ts, (int, float)) and math.isfinite(rec.ts)
        if not ok:
            self.dropped += 1
        return ok

    def _ingest(self, rec: LogRecord, idx: int) -> list[Signal]:
        text = decode_text(rec.message)
        head = text.split("\n", 1)[0]
        parsed = self.miner.add(head)
        tid = parsed.template_id
        for old in parsed.merged_from:                       # fold merged templates' history
            self._fold(old, tid)
        level = detect_level(text, rec.level or "")
        w = self._window
        assert w is not None
        w.counts[tid] = w.counts.get(tid, 0) + 1
        samples = w.samples.setdefault(tid, [])
        if len(samples) < self.max_samples:
            samples.append(redact(text, max_chars=1000))
        base = self._baselines.get(tid)
        is_new = base is None
        if base is None:
            base = self._baselines[tid] = _Baseline()
        quiet = 0.0 if is_new else rec.ts - base.last_ts
        base.last_ts = max(base.last_ts, rec.ts)
        returning = not is_new and self.requiet_s > 0 and quiet >= self.requiet_s
        if _LEVEL_RANK.get(level, 0) > _LEVEL_RANK.get(base.level, 0) or not base.level:
            base.level = level or base.level
        out: list[Signal] = []
        sig = match_signature(text, self.signatures if self.signatures is not None else default_signatures())
        if sig is not None and self._may_signal(f"signature:{sig.id}", rec.ts):
            out.append(self._signal(
                kind="signature", name=sig.id, ts=rec.ts, severity=sig.severity, signature=sig.id,
                summary=f"{self.service}: known fatal log signature '{sig.id}' ({sig.description})",
                samples=(redact(text, max_chars=1000),), count=1, tid=tid, template=parsed.template,
                level=level, idx=idx, extra={"runbook_id": sig.runbook_id}))
        elif ((is_new or returning) and self._windows_closed >= self.warmup_windows
              and _LEVEL_RANK.get(level, 0) >= _LEVEL_RANK[self.new_pattern_level]
              and w.pattern_signals >= self.max_pattern_signals):
            # a flood of new error patterns (or hostile input) becomes one signal, not hundreds
            if self._may_signal("pattern_flood", rec.ts):
                out.append(self._signal(
                    kind="pattern_flood", name="log-pattern-flood", ts=rec.ts, severity=Severity.ERROR,
                    summary=(f"{self.service}: more than {self.max_pattern_signals} new warning-or-worse log "
                             f"patterns in one {self.window_s:g}s window"),
                    samples=(redact(text, max_chars=1000),), count=w.pattern_signals + 1, tid=tid,
                    template=parsed.template, level=level, idx=idx))
        elif ((is_new or returning) and self._windows_closed >= self.warmup_windows
              and _LEVEL_RANK.get(level, 0) >= _LEVEL_RANK[self.new_pattern_level]
              and self._may_signal(f"new_pattern:{tid}", rec.ts)):
            w.pattern_signals += 1
            out.append(self._signal(
                kind="new_pattern", name=tid, ts=rec.ts, severity=_severity(level),
                summary=(f"{self.service}: {'new' if is_new else 'returning'} {level} log pattern: "
                         f"{self._safe(parsed.template)}"),
                samples=(redact(text, max_chars=1000),), count=1, tid=tid, template=parsed.template,
                level=level, idx=idx, extra={"returning": returning, "quiet_s": round(quiet, 3)}))
        return out

    def _fold(self, old: str, new: str) -> None:
        ob = self._baselines.pop(old, None)
        if ob is not None:
            nb = self._baselines.setdefault(new, _Baseline())
            nb.mean += ob.mean
            nb.windows = max(nb.windows, ob.windows)
            nb.last_ts = max(nb.last_ts, ob.last_ts)
            if _LEVEL_RANK.get(ob.level, 0) > _LEVEL_RANK.get(nb.level, 0):
                nb.level = ob.level
        w = self._window
        if w is not None and old in w.counts:
            w.counts[new] = w.counts.get(new, 0) + w.counts.pop(old)
            w.samples.setdefault(new, []).extend(w.samples.pop(old, []))
            del w.samples[new][self.max_samples:]
        if f"new_pattern:{old}" in self._last_signal:
            self._last_signal.setdefault(f"new_pattern:{new}", self._last_signal[f"new_pattern:{old}"])

    def _upper(self, mean: float) -> float:
        return mean + self.z * math.sqrt(max(mean, 1.0)) + 1.0

    def _surge(self, tid: str, count: int, ts: float, idx: int) -> Signal | None:
        base = self._baselines.get(tid)
        if base is None or base.windows < self.warmup_windows:
            return None
        upper = self._upper(base.mean)
        if count < self.min_count or count <= upper or not self._may_signal(f"surge:{tid}", ts):
            return None
        template = self.miner.template(tid) or ""
        w = self._window
        samples = tuple(w.samples.get(tid, ())) if w is not None and w.index == idx else ()
        level = base.level
        sev = Severity.ERROR if _LEVEL_RANK.get(level, 0) >= 2 else Severity.WARNING
        return self._signal(
            kind="surge", name=tid, ts=ts, severity=sev,
            summary=(f"{self.service}: log template surged to {count} lines per {self.window_s:g}s "
                     f"(baseline {base.mean:.1f}): {self._safe(template)}"),
            samples=samples, count=count, tid=tid, template=template, level=level, idx=idx,
            extra={"baseline": round(base.mean, 3), "upper": round(upper, 3)},
            value=float(count), expected=base.mean, upper=upper)

    def _check_open(self, now: float) -> list[Signal]:
        w = self._window
        if w is None:
            return []
        ts = now if math.isfinite(now) else (w.index + 1) * self.window_s
        out = []
        for tid, count in list(w.counts.items()):
            s = self._surge(tid, count, min(ts, (w.index + 1) * self.window_s), w.index)
            if s is not None:
                out.append(s)
        return out

    def _close_until(self, idx: int, signals: list[Signal]) -> None:
        """Close the open window (checking it for surges), learn it, decay over empty windows."""
        w = self._window
        assert w is not None
        signals.extend(self._check_open((w.index + 1) * self.window_s))
        a = self.alpha
        for tid, base in self._baselines.items():
            count = w.counts.get(tid, 0)
            if base.windows >= self.warmup_windows:
                count = min(count, self._upper(base.mean))       # protect the baseline
            base.mean = count if base.windows == 0 else (1 - a) * base.mean + a * count
            base.windows += 1
        gap = min(idx - w.index - 1, 10_000)
        if gap > 0:
            decay = (1 - a) ** gap
            for base in self._baselines.values():
                base.mean *= decay
                base.windows += gap
        self._windows_closed += 1 + max(gap, 0)
        self._window = _Window(idx)

    def _may_signal(self, key: str, ts: float) -> bool:
        last = self._last_signal.get(key)
        if last is not None and ts - last < self.cooldown_s:
            return False
        self._last_signal[key] = ts
        if len(self._last_signal) > 10_000:                     # bound memory: drop expired keys
            self._last_signal = {k: v for k, v in self._last_signal.items() if ts - v < self.cooldown_s}
        return True

    @staticmethod
    def _safe(template: str) -> str:
        return truncate(redact(template, max_chars=400).replace("\n", " "), 160)

    def _signal(self, *, kind: str, name: str, ts: float, severity: Severity, summary: str,
                samples: tuple[str, ...], count: int, tid: str, template: str, level: str, idx: int,
                signature: str | None = None, extra: dict[str, Any] | None = None,
                value: float | None = None, expected: float | None = None,
                upper: float | None = None) -> Signal:
        evidence = {"detector": f"{DETECTOR}.{kind}", "count": count, "template": self._safe(template),
                    "template_id": tid, "window_s": self.window_s, "window_start": idx * self.window_s,
                    "level": level, **(extra or {})}
        evidence.setdefault("baseline", round(self._baselines[tid].mean, 3) if tid in self._baselines else 0.0)
        return Signal(
            id="sig-" + stable_hash(self.service, "log", kind, name, idx),
            kind="log", source=self.source, service=self.service, name=name,
            summary=summary, severity=severity, ts=ts, onset_ts=idx * self.window_s,
            value=value if value is not None else float(count), expected=expected, upper=upper,
            signature=signature, labels={"detector": f"{DETECTOR}.{kind}", "template_id": tid},
            samples=tuple(samples[: self.max_samples]), evidence=evidence)

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        w = self._window
        return {
            "version": STATE_VERSION,
            "service": self.service,
            "params": {"window_s": self.window_s, "alpha": self.alpha, "z": self.z, "min_count": self.min_count,
                       "warmup_windows": self.warmup_windows, "cooldown_s": self.cooldown_s,
                       "new_pattern_level": self.new_pattern_level, "requiet_s": self.requiet_s,
                       "max_samples": self.max_samples, "max_pattern_signals": self.max_pattern_signals,
                       "assemble": self.assemble,
                       "source": self.source},
            "baselines": {k: b.to_list() for k, b in self._baselines.items()},
            "window": None if w is None else {"index": w.index, "counts": dict(w.counts),
                                              "samples": {k: list(v) for k, v in w.samples.items()},
                                              "pattern_signals": w.pattern_signals},
            "windows_closed": self._windows_closed,
            "last_signal": dict(self._last_signal),
            "dropped": self.dropped,
            "miner": self.miner.to_state() if self.owns_miner else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], miner: TemplateMiner | None = None,
                   signatures: tuple[Signature, ...] | None = None) -> "LogWatcher":
        """Rebuild from :meth:`to_state`; pass ``miner`` when the miner is shared and persisted apart."""
        try:
            if state.get("version") != STATE_VERSION:
                raise ValidationError(f"unsupported LogWatcher state version {state.get('version')!r}",
                                      what="LogWatcher")
            owned = state.get("miner") is not None
            if miner is None and owned:
                miner = TemplateMiner.from_state(state["miner"])
            w = cls(str(state["service"]), miner, signatures=signatures, **state["params"])
            w.owns_miner = owned or miner is None
            for k, (mean, windows, level, last_ts) in state["baselines"].items():
                w._baselines[str(k)] = _Baseline(float(mean), int(windows), str(level), float(last_ts))
            if state.get("window"):
                sw = state["window"]
                w._window = _Window(int(sw["index"]), {str(k): int(v) for k, v in sw["counts"].items()},
                                    {str(k): [str(x) for x in v] for k, v in sw["samples"].items()},
                                    int(sw.get("pattern_signals", 0)))
            w._windows_closed = int(state["windows_closed"])
            w._last_signal = {str(k): float(v) for k, v in state["last_signal"].items()}
            w.dropped = int(state.get("dropped", 0))
        except ValidationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"malformed LogWatcher state: {exc}", what="LogWatcher") from None
        return w
