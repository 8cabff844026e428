"""Atlassian Statuspage ``/api/v2/summary.json`` (polled, or posted by a relay).

Every component whose status is not ``operational`` and every unresolved incident becomes a
Signal of kind ``status`` from source ``statuspage``. ``service`` is the *dependent* service of
ours, looked up in ``service_map`` by ``"<page>/<component>"``, ``<component>`` or ``<page>``;
unmapped vendors fall back to ``vendor:<page>``. Components that are mapped and operational
yield a resolved signal so the incident they opened can close.
"""
from __future__ import annotations

from aisre.errors import ValidationError
from aisre.models import Severity, Signal, stable_hash
from aisre.sources.webhooks.common import WebhookResult, lookup, obj, parse_time, text
from aisre.sources.webhooks.options import WebhookOptions

COMPONENT = {"degraded_performance": Severity.WARNING, "partial_outage": Severity.ERROR,
             "major_outage": Severity.CRITICAL, "under_maintenance": Severity.INFO}
IMPACT = {"none": Severity.INFO, "minor": Severity.WARNING, "major": Severity.ERROR, "critical": Severity.CRITICAL}
DONE = {"resolved", "postmortem", "completed"}


def normalise(body: dict, opt: WebhookOptions) -> WebhookResult:
    page = obj("statuspage", body, "page")
    if not page.get("name"):
        raise ValidationError("statuspage payload is missing page.name", what="statuspage", path="page.name")
    comps, incs = body.get("components", []), body.get("incidents", [])
    if not isinstance(comps, list) or not isinstance(incs, list):
        raise ValidationError("statuspage components and incidents must be lists", what="statuspage")
    pname = str(page["name"])
    updated = parse_time(page.get("updated_at")) or opt.now
    signals = []
    groups = {str(c.get("id")): str(c.get("name")) for c in comps if isinstance(c, dict) and c.get("group")}
    for c in comps:
        if not isinstance(c, dict) or c.get("group") or not c.get("name"):
            continue
        cname = str(c["name"])
        status = str(c.get("status") or "")
        mapped = lookup(opt.service_map, f"{pname}/{cname}", cname, pname)
        if status == "operational":
            if mapped:
                signals.append(_signal(pname, cname, status, Severity.INFO, mapped, updated, c, groups, resolved=True))
            continue
        if status not in COMPONENT:
            raise ValidationError(f"statuspage component {cname!r} has unknown status {status!r}",
                                  what="statuspage", path="components")
        signals.append(_signal(pname, cname, status, COMPONENT[status], mapped or f"vendor:{pname}",
                               parse_time(c.get("updated_at")) or updated, c, groups, resolved=False))
    for inc in incs:
        if not isinstance(inc, dict) or str(inc.get("status")) in DONE:
            continue
        names = [str(x.get("name")) for x in inc.get("components") or [] if isinstance(x, dict)]
        svc = lookup(opt.service_map, *(f"{pname}/{n}" for n in names), *names, pname) or f"vendor:{pname}"
        started = parse_time(inc.get("started_at")) or parse_time(inc.get("created_at")) or updated
        signals.append(Signal(
            id="sp-" + stable_hash("statuspage", page.get("id") or pname, inc.get("id"), inc.get("status")),
            kind="status", source="statuspage", service=svc, name=f"{pname}/incident/{inc.get('id')}",
            summary=text(f"{pname}: {inc.get('name')} ({inc.get('status')}, impact {inc.get('impact')})", 600),
            severity=IMPACT.get(str(inc.get("impact")), Severity.WARNING), ts=updated, onset_ts=started,
            labels={"vendor": pname, "status": str(inc.get("status")), "impact": str(inc.get("impact"))},
            evidence={"shortlink": text(inc.get("shortlink"), 300), "components": names[:20]}))
    if not signals:
        return WebhookResult(ignored=f"{pname}: all components operational")
    return WebhookResult(signals=tuple(signals))


def _signal(pname, cname, status, sev, service, ts, c, groups, *, resolved) -> Signal:
    group = groups.get(str(c.get("group_id")), "")
    return Signal(
        id="sp-" + stable_hash("statuspage", pname, c.get("id") or cname, status, ts),
        kind="status", source="statuspage", service=service, name=f"{pname}/{cname}",
        summary=text(f"{pname} {group + ' / ' if group else ''}{cname} is {status.replace('_', ' ')}", 600),
        severity=sev, ts=ts, onset_ts=None if resolved else ts,
        labels={"vendor": pname, "component": cname, "status": status}, resolved=resolved)
