"""Jira Cloud notifier (REST v3 with ``requests``): one issue per incident, kept up to date.

Low-level calls raise typed errors from :mod:`aisre.errors` (mapped with :func:`http_error`):
:meth:`JiraNotifier.create_issue`, :meth:`comment`, :meth:`transition` (finds the transition id by
name), :meth:`attach` (multipart with ``X-Atlassian-Token: no-check``). :meth:`send` never raises:

* ``escalated`` -> create the issue (ADF description = the report, attachments uploaded) or, when
  the incident already has one, comment on it;
* ``resolved`` -> create one if none exists (the record of an auto-remediated incident), comment
  the resolution, transition it to :attr:`done_transition`;
* anything else -> a comment when an issue exists, nothing otherwise.

The issue key lives in the StateStore under ``aisre.jira.issue.<incident_id>``.
"""
from __future__ import annotations

import logging
import mimetypes
import os
from typing import Any, Mapping

import requests

from aisre.errors import IntegrationError, NotFound, SourceDown, StateError, Timeout, http_error
from aisre.models import Incident, Notification, Receipt
from aisre.notify.adf import plain_document, report_document
from aisre.notify.escape import clean, truncate
from aisre.notify.report import build_report
from aisre.state import MemoryStore, StateStore

log = logging.getLogger(__name__)

ISSUE_KEY = "aisre.jira.issue.{incident_id}"
ISSUE_TTL_S = 90 * 86400


def issue_key(incident_id: str) -> str:
    return ISSUE_KEY.format(incident_id=incident_id)


class JiraNotifier:
    """Opens and updates Jira issues for incidents. ``session`` is injectable (tests, proxies)."""

    channel = "jira"

    def __init__(self, url: str, user: str, api_token: str, project: str = "INC", issue_type: str = "Incident", *,
                 store: StateStore | None = None, session: requests.Session | None = None,
                 timeout_s: float = 10.0, done_transition: str = "Done", environment: str = "",
                 links: Mapping[str, str] | None = None, verify_ssl: bool = True) -> None:
        self.url = url.rstrip("/")
        self.project = project
        self.issue_type = issue_type
        self.store: StateStore = store if store is not None else MemoryStore()
        self.session = session or requests.Session()
        self.session.auth = (user, api_token)
        self.session.headers.update({"Accept": "application/json"})
        self.timeout_s = timeout_s
        self.verify_ssl = verify_ssl
        self.done_transition = done_transition
        self.environment = environment
        self.links = dict(links or {})
        self._secret = api_token

    # ------------------------------------------------------------------ REST calls (raise typed errors)

    def _call(self, method: str, path: str, operation: str, **kw: Any) -> requests.Response:
        url = f"{self.url}/rest/api/3/{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout_s, verify=self.verify_ssl, **kw)
        except requests.Timeout:
            raise Timeout(f"jira {operation} timed out after {self.timeout_s}s", integration="jira",
                          operation=operation, target=url) from None
        except requests.RequestException as exc:
            raise SourceDown(f"jira {operation} failed: {type(exc).__name__}", integration="jira",
                             operation=operation, target=url) from None
        if resp.status_code >= 400:
            raise http_error(resp.status_code, f"jira {operation} failed: {_jira_error(resp)}",
                             integration="jira", operation=operation, target=url)
        return resp

    def create_issue(self, summary: str, description: dict[str, Any], labels: tuple[str, ...] = ()) -> str:
        """Create an issue; returns its key (``INC-42``)."""
        fields = {"project": {"key": self.project}, "issuetype": {"name": self.issue_type},
                  "summary": clean(summary, 255) or "aisre incident", "description": description,
                  "labels": [clean(l, 255).replace(" ", "-") for l in labels if l]}
        resp = self._call("POST", "issue", "create_issue", json={"fields": fields})
        try:
            return str(resp.json()["key"])
        except (ValueError, KeyError, TypeError):
            raise SourceDown("jira create_issue answered without an issue key", integration="jira",
                             operation="create_issue") from None

    def comment(self, key: str, body: str | dict[str, Any]) -> str:
        doc = plain_document(body) if isinstance(body, str) else body
        resp = self._call("POST", f"issue/{key}/comment", "comment", json={"body": doc})
        try:
            return str(resp.json().get("id", ""))
        except ValueError:
            return ""

    def transition(self, key: str, name: str) -> str:
        """Move ``key`` through the transition called ``name`` (case-insensitive); returns its id."""
        resp = self._call("GET", f"issue/{key}/transitions", "list_transitions")
        try:
            transitions = resp.json().get("transitions", [])
        except ValueError:
            transitions = []
        match = next((t for t in transitions if str(t.get("name", "")).lower() == name.lower()), None)
        if match is None:
            names = ", ".join(str(t.get("name")) for t in transitions) or "none"
            raise NotFound(f"jira issue {key} has no transition {name!r} (available: {names})",
                           integration="jira", operation="transition", target=key)
        self._call("POST", f"issue/{key}/transitions", "transition", json={"transition": {"id": match["id"]}})
        return str(match["id"])

    def attach(self, key: str, path: str) -> str:
        """Attach a file (chart PNG, postmortem); returns the attachment id."""
        name = os.path.basename(path)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:
            with open(path, "rb") as fh:
                resp = self._call("POST", f"issue/{key}/attachments", "attach",
                                  files={"file": (name, fh, mime)}, headers={"X-Atlassian-Token": "no-check"})
        except OSError as exc:
            raise IntegrationError(f"cannot read attachment {name}: {exc.strerror}", integration="jira",
                                   operation="attach", target=key) from None
        try:
            return str(resp.json()[0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            return ""

    # ------------------------------------------------------------------ notifier

    def issue_for(self, incident_id: str) -> str | None:
        return self.store.get(issue_key(incident_id))

    def send(self, notification: Notification, incident: Incident | None = None) -> Receipt:
        try:
            return self._send(notification, incident)
        except (IntegrationError, StateError) as exc:
            detail = str(exc).replace(self._secret, "***") if self._secret else str(exc)
            log.warning("jira notification failed: %s", detail)
            return Receipt(channel=self.channel, ok=False, ref=self.issue_for_safe(notification.incident_id),
                           detail=truncate(detail, 500))

    def issue_for_safe(self, incident_id: str) -> str:
        try:
            return self.issue_for(incident_id) or ""
        except StateError:
            return ""

    def _description(self, notification: Notification, incident: Incident | None) -> dict[str, Any]:
        if incident is None:
            return plain_document(f"{notification.title}\n{notification.text}")
        links = {**self.links, **notification.links}
        return report_document(build_report(incident, environment=self.environment, links=links,
                                            chart_url=links.get("chart")))

    def _send(self, notification: Notification, incident: Incident | None) -> Receipt:
        key = self.issue_for(notification.incident_id)
        notes: list[str] = []
        kind = notification.kind
        if key is None and kind not in ("escalated", "resolved"):
            return Receipt(channel=self.channel, ok=True, detail="no issue for this incident; nothing to do")
        if key is None:
            fp = notification.fingerprint or (incident.fingerprint if incident is not None else "")
            key = self.create_issue(notification.title, self._description(notification, incident),
                                    labels=("aisre", f"aisre-{fp}" if fp else ""))
            self.store.set(issue_key(notification.incident_id), key, ttl_s=ISSUE_TTL_S)
            notes.append(f"created {key}")
            for path in notification.attachments:
                notes.append(self._attach_note(key, path))
            if kind == "escalated":
                return Receipt(channel=self.channel, ok=True, ref=key, detail="; ".join(notes))
        else:
            for path in notification.attachments:
                notes.append(self._attach_note(key, path))
        self.comment(key, f"[{kind}] {notification.title}\n{notification.text}")
        notes.append("commented")
        if kind == "resolved" and self.done_transition:
            try:
                self.transition(key, self.done_transition)
                notes.append(f"moved to {self.done_transition}")
            except IntegrationError as exc:
                notes.append(f"transition failed: {exc.message}")
        return Receipt(channel=self.channel, ok=True, ref=key, detail="; ".join(notes))

    def _attach_note(self, key: str, path: str) -> str:
        try:
            self.attach(key, path)
            return f"attached {os.path.basename(path)}"
        except IntegrationError as exc:
            return f"attach failed: {exc.message}"


def _jira_error(resp: requests.Response) -> str:
    """Jira's ``errorMessages`` + ``errors`` joined, or the status line."""
    try:
        data = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code} {clean(resp.text, 200)}"
    if not isinstance(data, dict):
        return f"HTTP {resp.status_code}"
    parts = [str(m) for m in data.get("errorMessages") or []]
    parts += [f"{k}: {v}" for k, v in sorted((data.get("errors") or {}).items())]
    return f"HTTP {resp.status_code} " + clean("; ".join(parts), 300)
