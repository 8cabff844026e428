"""Feature flag toggle and config revert over a generic HTTP API (caution actions), ``Target(kind="flags")``.

The contract aisre speaks (bearer token from ``targets.flags.token``):

=======================================  ===================================================
``GET  {url}/flags/{flag}``              ``{"key": "...", "enabled": true, ...}``
``PATCH {url}/flags/{flag}``             body ``{"enabled": false}`` -> the flag
``GET  {url}/configs/{key}``             ``{"key": "...", "version": "v7", ...}``
``GET  {url}/configs/{key}/versions``    ``[{"version": "v6", ...}, {"version": "v7", ...}]`` oldest first
``POST {url}/configs/{key}/revert``      body ``{"version": "v6"}`` -> the config
=======================================  ===================================================

A thin adapter in front of LaunchDarkly, Unleash, Consul KV or an in-house service maps onto it.
Flags that would disable monitoring, alerting, audit or auth are forbidden by the registry.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aisre.errors import ExecutorError
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.policy.actions import flag_enabled
from aisre.remediate._http import call
from aisre.remediate.base import Plan


def from_config(config: Any, store: Any = None) -> "FlagsExecutor | None":
    c = (getattr(config, "targets", None) or {}).get("flags")
    if not c or not c.get("url"):
        return None
    return FlagsExecutor(c["url"], c.get("token", ""))


class FlagsExecutor:
    kind = "flags"
    actions = ("flag_toggle", "config_revert")

    def __init__(self, url: str, token: str = "", *, session: Any = None, timeout_s: float = 10.0) -> None:
        import requests

        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = float(timeout_s)

    def _api(self, method: str, path: str, operation: str, target: str, **kw: Any) -> Any:
        return call(self.session, method, f"{self.url}{path}", integration="flags", operation=operation,
                    target=target, timeout_s=self.timeout_s, **kw)

    def plan(self, request: ActionRequest) -> Plan:
        p = dict(request.params or {})
        if request.action == "flag_toggle":
            flag = str(p.get("flag") or request.target.name)
            cur = self._api("GET", f"/flags/{quote(flag, safe='')}", "get flag", flag)
            wanted = flag_enabled(p)
            if wanted is None:
                raise ExecutorError("flag_toggle needs enabled (or value) true/false", step="plan")
            return Plan(request=request, steps=(f"PATCH /flags/{flag} enabled={wanted}",),
                        blast_radius=f"1 flag ({flag})", facts={"flag": flag, "enabled": wanted, "was": cur.get("enabled")})
        if request.action == "config_revert":
            key = str(p.get("key") or request.target.name)
            cur = self._api("GET", f"/configs/{quote(key, safe='')}", "get config", key)
            versions = [v.get("version") for v in self._api("GET", f"/configs/{quote(key, safe='')}/versions",
                                                             "list config versions", key) or []]
            current = cur.get("version")
            target = p.get("version")
            if target is None:
                older = versions[: versions.index(current)] if current in versions else []
                target = older[-1] if older else None
            if target is None or target not in versions or target == current:
                raise ExecutorError(f"no previous version of config {key} to revert to (current {current})",
                                    step="plan")
            return Plan(request=request, steps=(f"POST /configs/{key}/revert version={target}",),
                        blast_radius=f"1 config key ({key})", facts={"key": key, "from": current, "to": target})
        raise ExecutorError(f"flags executor does not implement {request.action}", step="plan")

    def precheck(self, plan: Plan) -> Check:
        f = plan.facts
        if plan.request.action == "flag_toggle":
            cur = self._api("GET", f"/flags/{quote(f['flag'], safe='')}", "get flag", f["flag"])
            if bool(cur.get("enabled")) == f["enabled"]:
                return Check(ok=False, detail=f"flag {f['flag']} already enabled={f['enabled']}",
                             observed={"enabled": cur.get("enabled")})
            return Check(ok=True, detail=f"flag {f['flag']} enabled={cur.get('enabled')}",
                         observed={"enabled": cur.get("enabled")})
        cur = self._api("GET", f"/configs/{quote(f['key'], safe='')}", "get config", f["key"])
        if cur.get("version") != f["from"]:
            return Check(ok=False, detail=f"config {f['key']} changed since the plan ({f['from']} -> "
                                          f"{cur.get('version')})", observed={"version": cur.get("version")})
        return Check(ok=True, detail=f"config {f['key']} at {f['from']}", observed={"version": f["from"]})

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        f, r = plan.facts, plan.request
        if r.action == "flag_toggle":
            detail = f"set flag {f['flag']} enabled={f['enabled']} (was {f['was']})"
            if not dry_run:
                self._api("PATCH", f"/flags/{quote(f['flag'], safe='')}", "toggle flag", f["flag"],
                          json={"enabled": f["enabled"]})
        else:
            detail = f"revert config {f['key']} {f['from']} -> {f['to']}"
            if not dry_run:
                self._api("POST", f"/configs/{quote(f['key'], safe='')}/revert", "revert config", f["key"],
                          json={"version": f["to"]})
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.DRY_RUN if dry_run else ActionStatus.SUCCEEDED,
                            target=f"flags/{f.get('flag') or f.get('key')}",
                            detail=("dry run: would " if dry_run else "") + detail, evidence=dict(f))

    def verify(self, plan: Plan) -> Check:
        f = plan.facts
        if plan.request.action == "flag_toggle":
            cur = self._api("GET", f"/flags/{quote(f['flag'], safe='')}", "get flag", f["flag"])
            ok = bool(cur.get("enabled")) == f["enabled"]
            return Check(ok=ok, detail=f"flag {f['flag']} enabled={cur.get('enabled')}",
                         observed={"enabled": cur.get("enabled")})
        cur = self._api("GET", f"/configs/{quote(f['key'], safe='')}", "get config", f["key"])
        ok = cur.get("version") == f["to"] or cur.get("reverted_to") == f["to"]
        return Check(ok=ok, detail=f"config {f['key']} at {cur.get('version')}", observed={"version": cur.get("version")})


__all__ = ["FlagsExecutor", "from_config"]
