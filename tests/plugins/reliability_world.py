"""A small world for the reliability tests: config, vendor stand-ins and the st2 workflow as a loop.

* :func:`world_config` - one service (checkout, kubernetes target) with a memory metric, the pack's
  runbooks, secrets in every secret slot (so leaks are detectable), the given mode.
* :class:`RecordingExecutor` - the vendor side of an executor (implements the Executor protocol) that
  records every ``execute`` call; ``fail_at`` makes a step raise (half-way failure).
* :class:`StaticMetricSource` - a MetricSource answering a fixed value per query.
* :class:`FlakyStore` - a real store that raises StateError while ``down`` is set.
* :func:`run_workflow` - ``aisre.handle_incident`` + ``aisre.remediate`` without approvals, step by step
  through :class:`aisre.runtime.Runtime`, as the Orquesta definitions chain them.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from aisre.errors import StateError
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check, Series
from aisre.remediate.base import Plan

T0 = 1_800_000_000.0
SECRETS = {
    "llm_key": "sk-live-9Q8w7E6r5T4y3U2i1O0p",
    "slack": "xoxb-111-222-SeCrEtSlAcKtOkEn",
    "pd": "R0UT1NGK3YPAGERDUTY0000000000000",
    "jira": "jira-api-token-ZXCVBNM123",
    "chroma": "chroma-token-QWERTY987",
}


def world_config(*, mode: str = "autonomous", audit_path: str = "", llm: bool = False,
                 emergency: bool = False, services: tuple[str, ...] = ("checkout",)) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "environment": "prod",
        "services": [{"name": n, "metrics": [{"name": "memory_pct", "query": f"{n}:memory_pct", "source": "static"}],
                      "target": {"kind": "kubernetes", "name": n, "namespace": "shop"}} for n in services],
        "safety": {"mode": mode, "max_attempts": 2, "max_actions_per_window": 1000,
                   "emergency_caution_auto": emergency,
                   "allow_list": ["restart_deployment", "scale_deployment", "rollback_deployment"]},
        "knowledge": {"embedding": "hashing", "chroma_token": SECRETS["chroma"]},
        "notify": {"slack": {"token": SECRETS["slack"], "channel": "#inc"},
                   "pagerduty": {"routing_key": SECRETS["pd"]},
                   "jira": {"url": "http://127.0.0.1:9/jira", "user": "bot", "api_token": SECRETS["jira"]}},
        "audit": {"path": audit_path},
    }
    if llm:
        cfg["llm"] = {"model": "openai/fake", "api_key": SECRETS["llm_key"], "timeout_s": 3}
    return cfg


class RecordingExecutor:
    """Stands in for the cluster: records what would have been changed."""

    def __init__(self, kind: str = "kubernetes", *, fail_at: str = "", on_step: Callable[[str, Any], None] | None = None):
        from aisre.policy.actions import ACTIONS
        self.kind = kind
        self.actions = tuple(ACTIONS)          # claims every action: nothing is hidden from the guardrails
        self.fail_at = fail_at
        self.on_step = on_step or (lambda step, obj: None)
        self.executed: list[ActionRequest] = []
        self.steps: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def _step(self, name: str, obj: Any) -> None:
        with self._lock:
            self.steps.append((name, getattr(getattr(obj, "request", obj), "action", "?")))
        self.on_step(name, obj)
        if self.fail_at == name:
            raise ConnectionResetError(f"connection reset during {name}")

    def plan(self, request: ActionRequest) -> Plan:
        self._step("plan", request)
        return Plan(request=request, steps=(f"{request.action} {request.target.name}",), blast_radius="1 workload")

    def precheck(self, plan: Plan) -> Check:
        self._step("precheck", plan)
        return Check(ok=True, detail="target exists")

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        self._step("execute", plan)
        if not dry_run:
            with self._lock:
                self.executed.append(plan.request)
        r = plan.request
        return ActionResult(action=r.action, service=r.service, status=ActionStatus.SUCCEEDED, target=r.target.name,
                            detail="done")

    def verify(self, plan: Plan) -> Check:
        self._step("verify", plan)
        return Check(ok=True, detail="rolled out")


class StaticMetricSource:
    name = "static"

    def __init__(self, values: dict[str, float] | None = None) -> None:
        self.values = dict(values or {"checkout:memory_pct": 93.0})

    def query_range(self, query: str, start: float, end: float, step_s: float = 60) -> list[Series]:
        if query not in self.values:
            return []
        return [Series(key=query, points=((end - 60, self.values[query]), (end, self.values[query])))]


class FlakyStore:
    """Wraps a real store; every call raises StateError while ``down`` is true (the datastore is gone)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.failures = 0

    def _gate(self, op: str) -> None:
        if self.down:
            self.failures += 1
            raise StateError(f"datastore unavailable during {op}", key=op)

    def get(self, key: str) -> str | None:
        self._gate("get")
        return self.inner.get(key)

    def set(self, key: str, value: str, ttl_s: float | None = None) -> None:
        self._gate("set")
        self.inner.set(key, value, ttl_s=ttl_s)

    def delete(self, key: str) -> None:
        self._gate("delete")
        self.inner.delete(key)

    def keys(self, prefix: str = "") -> list[str]:
        self._gate("keys")
        return self.inner.keys(prefix)


class ListNotifier:
    """The chat/paging vendor: keeps what it was sent."""

    def __init__(self, channel: str = "pagerduty") -> None:
        self.channel = channel
        self.sent: list[Any] = []
        self._lock = threading.Lock()

    def send(self, notification: Any, incident: Any = None) -> Any:
        from aisre.models import Receipt
        with self._lock:
            self.sent.append(notification)
            n = len(self.sent)
        return Receipt(channel=self.channel, ok=True, ref=str(n))


_RETRIEVER: list[Any] = []


def shared_retriever() -> Any:
    """The pack's runbooks with the hashing embedding (built once per session: ~1 s)."""
    if not _RETRIEVER:
        from aisre.knowledge import build_retriever
        _RETRIEVER.append(build_retriever({"knowledge": {"embedding": "hashing"}}))
    return _RETRIEVER[0]


def make_runtime(store: Any, *, mode: str = "autonomous", audit_path: str, executor: Any = None,
                 notifiers: list[Any] | None = None, analyst: Any = None, owner: str = "node-a",
                 clock: Callable[[], float] = time.time, llm: bool = False, values: dict[str, float] | None = None,
                 emergency: bool = False, services: tuple[str, ...] = ("checkout",)) -> Any:
    from aisre.notify.dispatch import Dispatcher
    from aisre.runtime import Runtime
    over: dict[str, Any] = {"executors": {"kubernetes": executor or RecordingExecutor()},
                            "dispatcher": Dispatcher(list(notifiers or []), store=store),
                            "metric_sources": {"static": StaticMetricSource(
                                values or {f"{n}:memory_pct": 93.0 for n in services})},
                            "retriever": shared_retriever(), "capture": None}
    if analyst is not None:
        over["analyst"] = analyst
    return Runtime(world_config(mode=mode, audit_path=audit_path, llm=llm, emergency=emergency, services=services),
                   store,
                   clock=clock, owner=owner, overrides=over)


def run_workflow(rt: Any, signal: dict[str, Any], *, between: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One ``aisre.handle_incident`` run (no human answers approvals: ASK stops at the question)."""
    step = between or (lambda name: None)
    out: dict[str, Any] = {"verdict": None, "result": None}
    c = rt.correlate(signal)
    out["incident_id"] = c["incident_id"]
    if c.get("skip") or not c["incident_id"]:
        out["verdict"] = "skip"
        return out
    step("triage")
    try:
        rt.triage(c["incident_id"])
    except Exception as exc:           # the workflow escalates when triage fails
        out["verdict"] = "escalate"
        out["error"] = f"{type(exc).__name__}: {exc}"
        rt.escalate(c["incident_id"], "triage failed")
        return out
    step("decide")
    d = rt.decide(c["incident_id"])
    out["verdict"] = d["verdict"]
    out["decision"] = d
    if d["verdict"] == "act" and d["request"]:
        step("remediate")
        out["result"] = rt.remediate(d["request"])
        if not out["result"]["ok"]:
            rt.escalate(c["incident_id"], "remediation did not run or failed")
    elif d["verdict"] == "escalate":
        rt.escalate(c["incident_id"], "; ".join(d["reasons"]))
    return out


@pytest.fixture
def rel_audit_path(tmp_path):
    return str(tmp_path / "audit.jsonl")


def memory_signal(service: str = "checkout", sid: str = "sig-mem-1", ts: float = T0) -> dict[str, Any]:
    """A metric trigger payload as the metric sensor dispatches it (memory trend on ``service``)."""
    return {"id": sid, "kind": "metric", "source": "prometheus", "service": service, "name": "memory_pct",
            "summary": f"{service} memory_pct trend up: 93%, expected 60%", "severity": "error", "ts": ts,
            "onset_ts": ts - 600, "value": 93.0, "expected": 60.0, "anomaly_class": "trend"}
