"""Fault injection: crashes around the outbox, the datastore going away, the LLM timing out, an
executor failing half-way. Sensors keep polling; no signal is lost or dispatched twice; incident
state stays consistent; the agent escalates when it cannot act."""
from __future__ import annotations

import collections
import json
import math

import pytest

from aisre.config import load_config
from aisre.errors import StateError
from aisre.models import Series
from aisre.sensing import SensorCore
from aisre.state import FileStore, MemoryStore
from aisre.watch import OUTBOX_KEY
from plugins.reliability_world import (FlakyStore, ListNotifier, RecordingExecutor, T0, make_runtime,
                                       run_workflow)

STEP = 60.0


class SpikeSource:
    """A Prometheus-like source: memory flat around 50 %, then stuck at 99 % from ``at``."""
    name = "prometheus"

    def __init__(self, at: float) -> None:
        self.at = at

    def query_range(self, query, start, end, step):
        pts, t = [], math.ceil(start / STEP) * STEP
        while t <= end:
            pts.append((t, 50 + 3 * math.sin(t / 300) if t < self.at else 99.0))
            t += STEP
        return [Series(key=query, points=tuple(pts))]


CFG = {"services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": "q"}]}],
       "detection": {"lookback_minutes": 240}}


def sensor(store, t):
    return SensorCore("metrics", load_config(CFG), store, clock=lambda: t, sources={"prometheus": SpikeSource(T0 + 1200)})


def reference_ids() -> list[str]:
    store, got = MemoryStore(clock=lambda: T0), []
    for k in range(40):
        sensor(store, T0 + k * STEP).poll(lambda trig, p: got.append(p["id"]))
    assert len(got) >= 2, "the spike must produce signals for these tests to mean anything"
    return got


class CrashOnce(Exception):
    pass


def test_crash_between_outbox_write_and_dispatch_loses_nothing_sends_nothing_twice():
    ref = reference_ids()
    store, got, crashed = MemoryStore(clock=lambda: T0), [], []

    def dispatch(trigger, payload):
        if not crashed:                       # the process dies as it is about to dispatch
            crashed.append(payload["id"])
            raise CrashOnce("killed")
        got.append(payload["id"])

    for k in range(40):                       # a fresh SensorCore per poll = a restart every cycle
        sensor(store, T0 + k * STEP).poll(dispatch)
    assert crashed and sorted(got) == sorted(ref)
    assert max(collections.Counter(got).values()) == 1


class DeleteFails(MemoryStore):
    """The process dies after dispatching, before the outbox is cleared (the delete never happens)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.crashes = 0

    def delete(self, key):
        if key.startswith("aisre.outbox.") and self.crashes == 0:
            self.crashes += 1
            raise StateError("killed before the outbox was cleared")
        super().delete(key)


def test_crash_between_dispatch_and_outbox_clear_does_not_dispatch_again():
    ref = reference_ids()
    store, got = DeleteFails(clock=lambda: T0), []
    for k in range(40):
        sensor(store, T0 + k * STEP).poll(lambda trig, p: got.append(p["id"]))
    assert store.crashes == 1
    assert sorted(got) == sorted(ref) and max(collections.Counter(got).values()) == 1
    assert store.get(OUTBOX_KEY.format(watcher="metrics")) is None


class MarkFails(MemoryStore):
    """The narrowest window: dispatched, then killed before the 'sent' mark is written."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.crashes = 0

    def set(self, key, value, ttl_s=None):
        if key.startswith("aisre.outbox.sent.") and self.crashes == 0:
            self.crashes += 1
            raise StateError("killed before the sent mark")
        super().set(key, value, ttl_s=ttl_s)


def test_a_signal_repeated_by_the_narrowest_crash_starts_no_second_workflow(rel_audit_path):
    store, payloads = MarkFails(clock=lambda: T0), []
    for k in range(40):
        sensor(store, T0 + k * STEP).poll(lambda trig, p: payloads.append(p))
    ids = [p["id"] for p in payloads]
    assert store.crashes == 1 and len(ids) == len(set(ids)) + 1     # exactly one re-dispatch
    rt = make_runtime(MemoryStore(), audit_path=rel_audit_path)
    started = [p["id"] for p in payloads if not rt.correlate(p)["skip"]]
    assert sorted(started) == sorted(set(ids)), "each signal starts at most one workflow run"


def test_sensor_keeps_polling_while_the_datastore_is_down_and_loses_nothing():
    ref = reference_ids()
    store, got = FlakyStore(MemoryStore(clock=lambda: T0)), []
    for k in range(40):
        store.down = 18 <= k < 26              # the datastore is gone across the spike's onset
        sent = sensor(store, T0 + k * STEP).poll(lambda trig, p: got.append(p["id"]))   # never raises
        assert sent >= 0
    assert store.failures > 0
    assert sorted(got) == sorted(ref) and max(collections.Counter(got).values()) == 1


def test_the_sensor_logs_why_while_the_store_is_down_and_recovers(caplog):
    store = FlakyStore(MemoryStore(clock=lambda: T0))
    core = sensor(store, T0)
    store.down = True
    assert core.poll(lambda trig, p: None) == 0          # the heartbeat cannot be written: it is logged
    assert any("datastore unavailable" in r.getMessage() for r in caplog.records)
    store.down = False
    from aisre.health import sensor_health
    core.poll(lambda trig, p: None)
    health = sensor_health(store, T0 + 1, max_age_s=300)[0]
    assert health.ok and health.state == "ok", health


# --------------------------------------------------------------------------- the pipeline

SIGNAL = {"id": "sig-mem-1", "kind": "metric", "source": "prometheus", "service": "checkout", "name": "memory_pct",
          "summary": "checkout memory_pct trend up: 93%, expected 60%", "severity": "error", "ts": T0,
          "onset_ts": T0 - 600, "value": 93.0, "expected": 60.0, "anomaly_class": "trend"}


@pytest.mark.parametrize("fail_before", ["triage", "decide", "remediate"])
def test_datastore_down_mid_pipeline_acts_on_nothing_and_keeps_the_incident_consistent(fail_before, rel_audit_path):
    inner = MemoryStore(clock=lambda: T0)
    store, ex = FlakyStore(inner), RecordingExecutor()
    rt = make_runtime(store, audit_path=rel_audit_path, executor=ex, clock=lambda: T0)

    def between(step):
        if step == fail_before:
            store.down = True

    with pytest.raises(StateError) as err:     # a typed error: the workflow's failure branch escalates
        run_workflow(rt, dict(SIGNAL), between=between)
    assert "datastore unavailable" in str(err.value)
    assert ex.executed == [], "nothing acts while the datastore is away"
    store.down = False
    incidents = [k for k in inner.keys("aisre.incident.")]
    assert len(incidents) == 1
    before = json.loads(inner.get(incidents[0]))
    assert before["status"] == "open" and before["attempts"] == 0
    # the datastore is back: the same signal, retried by st2, runs the pipeline to the end, once
    rt2 = make_runtime(inner, audit_path=rel_audit_path, executor=ex, clock=lambda: T0)
    rt2.store.delete(f"aisre.dedup.signal.{SIGNAL['id']}")   # st2 retries the whole workflow run
    out = run_workflow(rt2, dict(SIGNAL))
    assert out["verdict"] == "act" and [r.action for r in ex.executed] == ["restart_deployment"]


def test_mode_unreadable_means_shadow_nothing_acts(rel_audit_path):
    class ModeGone(MemoryStore):
        def get(self, key):
            if key == "aisre.mode":
                raise StateError("datastore unavailable")
            return super().get(key)

    ex = RecordingExecutor()
    rt = make_runtime(ModeGone(clock=lambda: T0), audit_path=rel_audit_path, executor=ex, clock=lambda: T0)
    out = run_workflow(rt, dict(SIGNAL))
    assert out["verdict"] == "record" and ex.executed == []


@pytest.mark.parametrize("step", ["plan", "precheck", "execute", "verify"])
def test_executor_failing_half_way_is_recorded_lease_released_and_escalated(step, rel_audit_path):
    store, pager = MemoryStore(clock=lambda: T0), ListNotifier()
    ex = RecordingExecutor(fail_at=step)
    rt = make_runtime(store, audit_path=rel_audit_path, executor=ex, clock=lambda: T0, notifiers=[pager])
    out = run_workflow(rt, dict(SIGNAL))
    res = out["result"]
    assert out["verdict"] == "act" and res["status"] == "failed" and not res["ok"]
    assert f"failed at {step}" in res["detail"] and "connection reset" in res["error"]
    assert store.get("aisre.lease.checkout") is None, "the lease is released after a failure"
    inc = rt.incident(out["incident_id"])
    assert inc.status.value == "escalated" and inc.attempts == 1
    assert [n.kind for n in pager.sent].count("escalated") == 1
    audit = [json.loads(line) for line in open(rel_audit_path)]
    assert any(a["kind"] == "action" and a["data"].get("status") == "failed" for a in audit)


@pytest.mark.slow
def test_llm_timeout_falls_back_to_the_offline_analyst_and_the_pipeline_completes(fake_llm, rel_audit_path):
    from aisre.analysis import build_analyst
    fake_llm.script({"sleep": 2.5, "content": "{}"})
    cfg = load_config({"llm": {"model": "openai/fake", "api_base": fake_llm.url + "/v1", "api_key": "sk-x-123456789",
                               "timeout_s": 1}, "knowledge": {"embedding": "hashing"}})
    ex = RecordingExecutor()
    rt = make_runtime(MemoryStore(clock=lambda: T0), audit_path=rel_audit_path, executor=ex, clock=lambda: T0,
                      analyst=build_analyst(cfg))
    out = run_workflow(rt, dict(SIGNAL))
    diag = rt.incident(out["incident_id"]).diagnosis
    assert diag.analyst == "llm-fallback:timeout"
    assert out["verdict"] in ("act", "escalate", "watch")
    assert all(r.action == "restart_deployment" for r in ex.executed)


def test_filestore_unreadable_is_a_state_error(tmp_path):
    path = tmp_path / "state" / "state.json"
    store = FileStore(str(path))
    store.set("a", "1")
    path.write_text("{not json")
    with pytest.raises(StateError) as err:
        store.get("a")
    assert "cannot read state file" in str(err.value)
