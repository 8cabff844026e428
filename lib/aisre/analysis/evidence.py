"""Facts the analysts reason over, computed from an incident (no I/O, no model).

* :func:`signal_line` renders a signal from its *numbers and names* only (never its free-text
  summary, which may carry hostile text): ``error_rate on checkout: 0.12 vs expected 0.01 ...``.
* :func:`evaluate_precondition` checks a runbook precondition against the evidence; it returns
  True / False, or None when the evidence does not say (the remediation precheck re-verifies).
* :func:`deploys_near_onset` finds deploys shortly before the onset (bad-deploy evidence).
"""
from __future__ import annotations

import operator
import re
from typing import Any, Iterable, Sequence

from aisre.models import AnomalyClass, Change, Incident, Signal, iso

USER_FACING = re.compile(r"error|5xx|fail|latency|p9\d|p50|duration|availability|success|apdex|uptime|timeout",
                         re.IGNORECASE)
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}
_NUMERIC = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(>=|<=|==|!=|>|<)\s*(-?[\d.]+)\s*(%|ms|s|x)?\s*$")
_DEPLOY = re.compile(r"^\s*(recent_deploy|recent_change|deploy_within)(?:[\s:(]+(\d+)\s*m?\)?)?\s*$")
_CHANGE_WITHIN = re.compile(r"^\s*(deploy|rollout|release|config(?: change)?|flag(?: change)?|feature[ _]flag(?: change)?|change)"
                            r"\s+within\s+(\d+(?:\.\d+)?)\s*(m|min|minutes|h|hours?)\s*$", re.IGNORECASE)
_RELATIVE = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(>=|<=|>|<)\s*(\d+(?:\.\d+)?)\s*x\s*(usual|baseline|expected|normal)\s*$",
                       re.IGNORECASE)
_CHANGE_KINDS = {"deploy": ("deploy",), "rollout": ("deploy",), "release": ("deploy",), "config": ("config",),
                 "flag": ("feature_flag",), "feature": ("feature_flag",), "change": ("deploy", "config", "feature_flag")}
_SIGNATURE = re.compile(r"^\s*signature\s*(?:==|:|=)?\s*([\w.:-]+)\s*$", re.IGNORECASE)
_PRESENT = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s+(rising|high|spike|increasing|present|firing|low|falling|dropping)\s*$")


def active_signals(incident: Incident) -> tuple[Signal, ...]:
    return tuple(s for s in incident.signals if not s.resolved)


def onset(incident: Incident) -> float:
    times = [s.onset_ts or s.ts for s in incident.signals if (s.onset_ts or s.ts)]
    return min(times) if times else incident.opened_at


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.4g}"


def metric_name(s: Signal) -> str:
    return s.labels.get("metric") or s.name


def signal_line(s: Signal) -> str:
    """One evidence line from a signal's names and numbers (not its untrusted summary)."""
    parts = [f"{s.source}:{metric_name(s)} on {s.service}"]
    if s.value is not None:
        val = f"{_fmt(s.value)}"
        if s.expected is not None:
            val += f" vs expected {_fmt(s.expected)}"
        if s.lower is not None or s.upper is not None:
            val += f" (band {_fmt(s.lower)}-{_fmt(s.upper)})"
        parts.append(val)
    if s.score is not None:
        parts.append(f"score {s.score:.2f}")
    if s.anomaly_class is not None:
        parts.append(str(s.anomaly_class))
    if s.signature:
        parts.append(f"signature {s.signature}")
    if s.exhaustion_ts:
        parts.append(f"exhaustion forecast {iso(s.exhaustion_ts)}")
    parts.append(f"severity {s.severity}")
    parts.append("recovered" if s.resolved else f"since {iso(s.onset_ts or s.ts)}")
    return parts[0] + ": " + ", ".join(parts[1:])


def is_user_facing(s: Signal) -> bool:
    return s.kind in ("synthetic", "status") or bool(USER_FACING.search(metric_name(s)))


def way_out(s: Signal, ratio: float = 3.0) -> bool:
    """A user-facing signal far outside its normal range (ratio to expected, or twice the band)."""
    if not is_user_facing(s) or s.value is None:
        return s.kind == "synthetic" and s.severity.rank >= 2
    if s.expected is not None and s.expected > 0 and s.value / s.expected >= ratio:
        return True
    if s.upper is not None and s.upper > 0 and s.value >= 2 * s.upper:
        return True
    name = metric_name(s).lower()
    if ("availability" in name or "success" in name) and s.expected is not None and s.expected - s.value >= 0.05 * max(s.expected, 1e-9):
        return True
    return False


def deploys_near_onset(incident: Incident, changes: Iterable[Change] = (), window_s: float = 1800.0,
                       kinds: Sequence[str] = ("deploy", "config", "feature_flag")) -> list[tuple[Change, float]]:
    """Changes of ``kinds`` (not rollbacks) within ``window_s`` before the onset: ``(change, minutes before)``."""
    t0 = onset(incident)
    seen: set[str] = set()
    out = []
    for c in (*incident.changes, *changes):
        if c.id in seen or c.kind not in kinds or c.status not in ("succeeded", "success", ""):
            continue
        seen.add(c.id)
        lead = t0 - c.ts
        if -60 <= lead <= window_s:
            out.append((c, max(lead, 0.0) / 60.0))
    return sorted(out, key=lambda cm: cm[1])


def metric_values(signals: Sequence[Signal], metric: str) -> list[float]:
    m = metric.lower()
    return [s.value for s in signals if s.value is not None
            and (metric_name(s).lower() == m or s.name.lower() == m or metric_name(s).lower().endswith(m))]


def percent_of_capacity(signals: Sequence[Signal], metric: str) -> list[float]:
    """The metric's values as percentages of the capacity its signal carries (as they are without one),
    the same reading :func:`aisre.conditions.holds` makes of a ``%`` threshold on live values."""
    m = metric.lower()
    out = []
    for s in signals:
        if s.value is None or not (metric_name(s).lower() == m or s.name.lower() == m
                                   or metric_name(s).lower().endswith(m)):
            continue
        cap = s.evidence.get("capacity") if isinstance(s.evidence, dict) or hasattr(s.evidence, "get") else None
        ok = isinstance(cap, (int, float)) and not isinstance(cap, bool) and cap > 0
        out.append(s.value * 100.0 / cap if ok else s.value)
    return out


def evaluate_precondition(cond: str, incident: Incident, changes: Iterable[Change] = (),
                          deploy_window_s: float = 1800.0) -> bool | None:
    """True/False when the evidence decides ``cond``; None when it cannot (precheck re-verifies).

    Grammar: ``<metric> <op> <number>[%|ms|s|x]``, ``<metric> > 3x usual|baseline``,
    ``deploy|config change|flag change within 60m``, ``recent_deploy [N m]``, ``signature <id>``,
    ``<metric> rising|high|spike|present|...``.
    """
    signals = active_signals(incident) or incident.signals
    m = _CHANGE_WITHIN.match(cond)
    if m:
        word = m.group(1).lower().split()[0]
        window = float(m.group(2)) * (3600 if m.group(3).lower().startswith("h") else 60)
        return bool(deploys_near_onset(incident, changes, window, _CHANGE_KINDS.get(word, ("deploy",))))
    m = _RELATIVE.match(cond)
    if m:
        metric, op, factor = m.group(1), m.group(2), float(m.group(3))
        pairs = [(s.value, s.expected) for s in signals if s.value is not None and s.expected
                 and (metric_name(s).lower() == metric.lower() or s.name.lower() == metric.lower())]
        if not pairs:
            return None
        return any(_OPS[op](v, factor * e) for v, e in pairs)
    m = _NUMERIC.match(cond)
    if m:
        metric, op, num = m.group(1), m.group(2), float(m.group(3))
        values = metric_values(signals, metric)
        if not values:
            return None
        if m.group(4) == "%":       # a percentage of the metric's capacity (a pool of 200 at 107 is 53 %)
            values = percent_of_capacity(signals, metric)
        fn = _OPS[op]
        return any(fn(v, num) for v in values)
    m = _DEPLOY.match(cond)
    if m:
        window = float(m.group(2)) * 60 if m.group(2) else deploy_window_s
        return bool(deploys_near_onset(incident, changes, window))
    m = _SIGNATURE.match(cond)
    if m:
        want = m.group(1).lower()
        return any((s.signature or "").lower() == want or any(want in x.lower() for x in s.samples)
                   for s in incident.signals)
    m = _PRESENT.match(cond)
    if m:
        metric, word = m.group(1).lower(), m.group(2)
        hit = [s for s in signals if metric_name(s).lower() == metric or s.name.lower() == metric]
        if not hit:
            return None
        if word in ("low", "falling", "dropping"):
            return any(s.value is not None and s.expected is not None and s.value < s.expected for s in hit) or None
        if word in ("rising", "increasing"):
            return any(s.anomaly_class in (AnomalyClass.TREND, AnomalyClass.SUSTAINED) for s in hit) or None
        return True
    return None


# --------------------------------------------------------------------------- does a runbook fit?

_GENERIC = {"rate", "pct", "percent", "ms", "s", "sec", "seconds", "total", "count", "p50", "p90", "p95", "p99",
            "avg", "mean", "max", "min", "ratio", "bytes", "usage", "used", "current", "value", "per", "by"}
_TOKEN = re.compile(r"[a-z0-9]+")


def metric_family(name: str) -> frozenset[str]:
    """Meaningful tokens of a metric name: ``p95_latency_ms`` -> {latency}, ``db_connections`` -> {db, connections}."""
    return frozenset(t for t in _TOKEN.findall(name.lower()) if t not in _GENERIC and not t.isdigit())


def symptom_support(runbook: Any, incident: Incident, changes: Iterable[Change] = (),
                    deploy_window_s: float = 1800.0, respect_conditions: bool = False,
                    strict_class: bool = False) -> tuple[str, tuple[str, ...]]:
    """How well the incident's own signals fit a runbook's declared symptoms.

    ``"strong"``: an alert name or a log signature of the runbook is in the signals (signature
    ids and log samples; never the free-text summary), or a status-page signal meets a runbook
    about external dependencies, or one of the runbook's ``<change> within N m`` preconditions
    holds (a deploy / config / flag change right before the onset). ``"specific"`` / ``"metric"``:
    a runbook symptom metric is among the signal metrics (its meaningful tokens are a subset) -
    ``specific`` when it is a resource metric (memory, disk, queue ...), ``metric`` when only
    user-facing error / latency metrics fit (symptoms that many runbooks share). A symptom whose
    condition (``> 90``) the values do not reach yet still fits (detection is meant to be early;
    the action preconditions decide whether to act) unless ``respect_conditions`` - used for
    catch-all escalation runbooks, where "> 3x baseline" is the whole point. ``strict_class``
    also requires the symptom's declared anomaly class (trend, sustained ...) to match.
    ``"none"``: nothing in common - a retrieval hit on words alone, which analysts do not trust.
    """
    sym = runbook.symptoms
    reasons: list[str] = []
    alerts = {a.lower() for a in sym.alerts}
    sigs = [s.lower() for s in sym.log_signatures if len(s.strip()) >= 4]
    for s in incident.signals:
        if s.name.lower() in alerts:
            reasons.append(f"alert {s.name} is a symptom of {runbook.id}")
        hay = [(s.signature or "").lower(), *(x.lower()[:2000] for x in s.samples)]
        hit = next((g for g in sigs if any(g in h for h in hay if h)), None)
        if hit is None and s.signature:
            hit = next((g for g in sigs if s.signature.lower() in g), None)
        if hit:
            reasons.append(f"log signature {hit!r} seen on {s.service}")
        elif s.signature and s.signature.lower() == runbook.id.lower():
            reasons.append(f"signature {s.signature} names this runbook")
        if s.kind == "status" and ({"dependency", "external", "vendor"} & {t.lower() for t in runbook.tags}):
            reasons.append(f"status page signal {s.name} fits a dependency runbook")
    # errors users can see, or new error-level log patterns: what a bad change produces
    user_facing = any(is_user_facing(s) or (s.kind == "log" and s.severity.rank >= 2) for s in active_signals(incident))
    for act in runbook.actions:
        for cond in act.preconditions:
            is_change = bool(_CHANGE_WITHIN.match(cond) or _DEPLOY.match(cond))
            if is_change and user_facing and evaluate_precondition(cond, incident, changes, deploy_window_s):
                reasons.append(f"{cond}: the change this runbook is about preceded the onset")
    if reasons:
        return "strong", tuple(dict.fromkeys(reasons))
    fams = {metric_family(metric_name(s)) | metric_family(s.name) for s in incident.signals
            if s.kind in ("metric", "synthetic")}  # log templates and alert titles are not metrics
    specific = False
    classes = {(metric_family(metric_name(s)) | metric_family(s.name), s.anomaly_class) for s in incident.signals
               if s.kind in ("metric", "synthetic")}
    for m in sym.metrics:
        want = metric_family(m.metric)
        if not want or not any(want <= f for f in fams):
            continue
        if strict_class and m.anomaly_class is not None and not any(
                want <= f and (c is None or c == m.anomaly_class) for f, c in classes):
            continue  # e.g. a leak is a memory *trend*; memory pinned high is another story
        cond = (m.condition or "").strip()
        verdict = evaluate_precondition(f"{m.metric} {cond}", incident, changes, deploy_window_s) if cond else None
        if verdict is False and respect_conditions:
            continue
        specific = specific or not USER_FACING.search(m.metric)
        reasons.append(f"metric {m.metric} is a symptom of {runbook.id}" + (f" ({cond})" if cond else "")
                       + (", not reached yet" if verdict is False else ""))
    if reasons:
        return ("specific" if specific else "metric"), tuple(dict.fromkeys(reasons))
    return "none", ()
