"""Self-monitoring: is aisre itself working? ("alerts for our alerting system")

Every sensor (and the standalone agent's watchers) writes a heartbeat to ``aisre.heartbeat.<kind>_sensor``:
last poll, last success, last error, series polled, signals sent. :func:`check` turns heartbeats plus cheap
probes of the sources, the LLM and the knowledge base into a :class:`HealthReport`; :func:`alert` pages
when a sensor is stale or failing — through the normal escalation path *and* through the independent
fallback route (``notify.fallback_webhook`` / ``notify.email``), which does not depend on Slack or PagerDuty.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from aisre.models import (Incident, IncidentStatus, Model, Notification, Receipt, Severity, Signal, frozen, iso,
                          stable_hash)
from aisre.state import StateStore, get_json, set_json

SENSORS = ("metrics", "logs")
HEARTBEAT_KEY = "aisre.heartbeat.{kind}_sensor"
ALERTED_KEY = "aisre.health.alerted.{digest}"


@frozen
class ComponentHealth(Model):
    name: str
    kind: str                 # sensor | source | llm | knowledge | mode
    ok: bool
    state: str                # ok | stale | failing | never ran | unreachable | not configured | degraded
    detail: str = ""
    last_ok: float | None = None


@frozen
class HealthReport(Model):
    ts: float
    environment: str
    mode: str
    components: tuple[ComponentHealth, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components)

    @property
    def problems(self) -> tuple[ComponentHealth, ...]:
        return tuple(c for c in self.components if not c.ok)

    def table(self) -> str:
        rows = [("component", "kind", "state", "last ok", "detail")]
        for c in self.components:
            rows.append((c.name, c.kind, ("OK " if c.ok else "BAD ") + c.state, iso(c.last_ok) if c.last_ok else "-",
                         c.detail[:90]))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"aisre health — environment {self.environment}, mode {self.mode}, at {iso(self.ts)}: "
                 + ("all OK" if self.ok else f"{len(self.problems)} problem(s)")]
        for r in rows:
            lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
        return "\n".join(lines)


def record_heartbeat(store: StateStore, kind: str, *, now: float, polled: int, points: int, errors: Sequence[str],
                     sent: int = 0, fatal: str = "") -> dict[str, Any]:
    """Write a watcher's heartbeat; returns it. Never raises (a dead datastore must not kill a sensor)."""
    key = HEARTBEAT_KEY.format(kind=kind)
    try:
        beat = get_json(store, key, default={}) or {}
    except Exception:
        beat = {}
    beat.update({"sensor": kind, "last_poll": now, "series": polled, "points": points,
                 "signals_sent": int(beat.get("signals_sent", 0)) + sent, "errors": list(errors)[:10]})
    if fatal:
        beat["last_error"], beat["last_error_ts"] = fatal[:500], now
    else:
        if polled == 0 or len(errors) < polled:
            beat["last_ok"] = now
        if errors:
            beat["last_error"], beat["last_error_ts"] = str(errors[0])[:500], now
    try:
        set_json(store, key, beat)
    except Exception:
        pass
    return beat


def sensor_health(store: StateStore, now: float, *, max_age_s: float, kinds: Iterable[str] = SENSORS,
                  expected: Iterable[str] = ()) -> list[ComponentHealth]:
    out = []
    expected = set(expected)
    for kind in kinds:
        try:
            beat = get_json(store, HEARTBEAT_KEY.format(kind=kind))
        except Exception as exc:
            out.append(ComponentHealth(name=f"{kind} sensor", kind="sensor", ok=False, state="unknown",
                                       detail=f"datastore unavailable: {type(exc).__name__}"))
            continue
        if not beat:
            needed = kind in expected
            out.append(ComponentHealth(name=f"{kind} sensor", kind="sensor", ok=not needed, state="never ran",
                                       detail="no heartbeat yet" + (" (it is configured)" if needed else "")))
            continue
        last_poll, last_ok = beat.get("last_poll"), beat.get("last_ok")
        err_ts = beat.get("last_error_ts") or 0
        if last_poll is None or now - float(last_poll) > max_age_s:
            age = "never" if last_poll is None else f"{(now - float(last_poll)) / 60:.0f} min ago"
            state, ok, detail = "stale", False, f"last poll {age} (limit {max_age_s / 60:.0f} min)"
        elif last_ok is None or float(err_ts) > float(last_ok):
            state, ok, detail = "failing", False, str(beat.get("last_error", ""))
        else:
            state, ok = "ok", True
            detail = f"{beat.get('series', 0)} series, {beat.get('signals_sent', 0)} signals sent"
            if beat.get("errors"):
                state, detail = "degraded", f"{len(beat['errors'])} series failing: {beat['errors'][0]}"
        out.append(ComponentHealth(name=f"{kind} sensor", kind="sensor", ok=ok, state=state, detail=detail,
                                   last_ok=float(last_ok) if last_ok else None))
    return out


def source_health(config: Any, metric_sources: Mapping[str, Any], now: float) -> list[ComponentHealth]:
    """Probe each metric source with the first configured query over the last 10 minutes."""
    out = []
    for name, src in metric_sources.items():
        query = next((m.query for s in config.services for m in s.metrics if m.source == name), None)
        if query is None:
            out.append(ComponentHealth(name=f"source {name}", kind="source", ok=True, state="ok",
                                       detail="configured, no series uses it"))
            continue
        try:
            series = src.query_range(query, now - 600, now, 60)
            out.append(ComponentHealth(name=f"source {name}", kind="source", ok=True, state="ok",
                                       detail=f"reachable; {sum(len(s.points) for s in series)} points in 10 min",
                                       last_ok=now))
        except Exception as exc:
            out.append(ComponentHealth(name=f"source {name}", kind="source", ok=False, state="unreachable",
                                       detail=f"{type(exc).__name__}: {exc}"[:300]))
    return out


def llm_health(config: Any, *, probe: Callable[[str], bool] | None = None) -> ComponentHealth:
    llm = dict(config.llm or {})
    if not llm.get("model"):
        return ComponentHealth(name="llm", kind="llm", ok=True, state="not configured",
                               detail="offline analyst in use (no llm.model)")
    base = llm.get("api_base")
    if not base:
        return ComponentHealth(name="llm", kind="llm", ok=True, state="ok",
                               detail=f"{llm['model']} (hosted provider; not probed)")
    try:
        reachable = (probe or _probe_models)(base.rstrip("/"))
    except Exception as exc:
        return ComponentHealth(name="llm", kind="llm", ok=False, state="unreachable",
                               detail=f"{llm['model']} at {base}: {type(exc).__name__}")
    return ComponentHealth(name="llm", kind="llm", ok=reachable, state="ok" if reachable else "unreachable",
                           detail=f"{llm['model']} at {base}; the offline analyst takes over when it fails")


def _probe_models(base: str) -> bool:
    import requests
    r = requests.get(base + "/models", timeout=3)
    return r.status_code < 500


def knowledge_health(retriever: Any) -> ComponentHealth:
    try:
        n = len(retriever)
    except TypeError:
        n = len(getattr(retriever, "runbooks", ()) or ())
    except Exception as exc:
        return ComponentHealth(name="knowledge base", kind="knowledge", ok=False, state="failing",
                               detail=f"{type(exc).__name__}: {exc}"[:300])
    return ComponentHealth(name="knowledge base", kind="knowledge", ok=n > 0, state="ok" if n else "empty",
                           detail=f"{n} runbooks loaded")


def check(config: Any, store: StateStore, *, now: float | None = None, mode: str = "", metric_sources=None,
          retriever: Any = None, probe_sources: bool = True, max_age_s: float | None = None,
          llm_probe: Callable[[str], bool] | None = None) -> HealthReport:
    now = time.time() if now is None else now
    poll = float(config.detection.get("poll_interval_s", 60))
    limit = max_age_s if max_age_s is not None else max(300.0, 5 * poll)
    expected = {"metrics"} if any(s.metrics for s in config.services) else set()
    if any(s.logs for s in config.services):
        expected.add("logs")
    comps = sensor_health(store, now, max_age_s=limit, expected=expected)
    if probe_sources and metric_sources:
        comps += source_health(config, metric_sources, now)
    comps.append(llm_health(config, probe=llm_probe))
    if retriever is not None:
        comps.append(knowledge_health(retriever))
    comps.append(ComponentHealth(name="mode", kind="mode", ok=True, state=mode or config.safety.mode,
                                 detail="off/shadow act on nothing"))
    return HealthReport(ts=now, environment=config.environment, mode=mode or config.safety.mode,
                        components=tuple(comps))


def health_incident(report: HealthReport) -> Incident:
    """A self-incident describing what is wrong with aisre (fingerprint: the failing components)."""
    problems = report.problems
    fp = stable_hash("aisre-health", report.environment, sorted(c.name for c in problems))
    signals = tuple(Signal(id=f"health-{stable_hash(fp, c.name)}", kind="status", source="aisre", service="aisre",
                           name=c.name, summary=f"aisre {c.name} is {c.state}: {c.detail}"[:300],
                           severity=Severity.CRITICAL if c.kind == "sensor" else Severity.ERROR, ts=report.ts)
                    for c in problems)
    return Incident(id=f"aisre-health-{fp[:10]}", fingerprint=fp, service="aisre", status=IncidentStatus.ESCALATED,
                    opened_at=report.ts, updated_at=report.ts, environment=report.environment, signals=signals)


def alert(report: HealthReport, *, dispatcher: Any, fallback: Sequence[Any], store: StateStore, audit: Any = None,
          ttl_s: float = 3600) -> list[Receipt]:
    """Page about an unhealthy aisre through the normal path and, independently, the fallback route."""
    if report.ok or not any(c.kind in ("sensor", "source") for c in report.problems):
        return []
    incident = health_incident(report)
    text = "aisre itself needs attention — its normal alerts may not fire:\n" + "\n".join(
        f"- {c.name}: {c.state} — {c.detail}" for c in report.problems)
    note = Notification(incident_id=incident.id, kind="escalated", title=f"[{report.environment}] aisre is unhealthy",
                        text=text, severity=Severity.CRITICAL, fingerprint=incident.fingerprint)
    receipts: list[Receipt] = []
    try:
        receipts += list(dispatcher.dispatch(note, incident).receipts)
    except Exception as exc:  # the independent route must still go out
        receipts.append(Receipt(channel="dispatcher", ok=False, detail=f"{type(exc).__name__}"))
    key = ALERTED_KEY.format(digest=incident.fingerprint)
    already = False
    try:
        already = store.get(key) is not None
    except Exception:
        pass
    delivered = {r.channel for r in receipts if r.ok}
    if not already:
        sent_ok = False
        for n in fallback:
            if getattr(n, "channel", None) in delivered:   # the dispatcher already used this route
                sent_ok = True
                continue
            try:
                r = n.send(note, incident)
            except Exception as exc:
                r = Receipt(channel=getattr(n, "channel", "fallback"), ok=False, detail=type(exc).__name__)
            receipts.append(r)
            sent_ok = sent_ok or r.ok
        if sent_ok:
            try:
                store.set(key, "1", ttl_s=ttl_s)
            except Exception:
                pass
    if audit is not None:
        audit.append("health", incident.id, {"problems": [c.to_dict() for c in report.problems],
                                             "receipts": [r.to_dict() for r in receipts]})
    return receipts


def fallback_notifiers(config: Any) -> list[Any]:
    """The independent route: notify.fallback_webhook and notify.email, built directly (no dispatcher)."""
    notify = dict(config.notify or {})
    out: list[Any] = []
    if notify.get("fallback_webhook"):
        from aisre.notify.webhook import WebhookNotifier
        w = notify["fallback_webhook"]
        out.append(WebhookNotifier(w["url"], w.get("token"), environment=config.environment))
    email = notify.get("email") or {}
    if email.get("smtp_host") and email.get("to"):
        from aisre.notify.mail import EmailNotifier
        out.append(EmailNotifier(email["smtp_host"], email["to"], smtp_port=email.get("smtp_port", 587),
                                 username=email.get("username"), password=email.get("password"),
                                 sender=email.get("sender", "aisre@localhost"), environment=config.environment))
    return out
