"""Emergency stop: switching the mode to off (or shadow) mid-remediation stops further actions before
the next step, also while several threads run the pipeline."""
from __future__ import annotations

import collections
import threading
import time

import pytest

from aisre.state import FileStore, MemoryStore
from plugins.reliability_world import RecordingExecutor, make_runtime, memory_signal, run_workflow

SERVICES = tuple(f"svc-{i}" for i in range(6))


@pytest.mark.parametrize("flip_at", ["plan", "precheck"])
@pytest.mark.parametrize("to", ["off", "shadow"])
def test_mode_flipped_while_the_executor_is_mid_way_stops_before_execute(flip_at, to, rel_audit_path):
    store = MemoryStore()
    rt_holder = []
    ex = RecordingExecutor(on_step=lambda step, obj: rt_holder[0].set_mode(to, actor="oncall") if step == flip_at else None)
    rt = make_runtime(store, audit_path=rel_audit_path, executor=ex)
    rt_holder.append(rt)
    out = run_workflow(rt, memory_signal())
    assert out["verdict"] == "act"
    res = out["result"]
    assert res["status"] == "denied" and f"mode {to}" in res["error"] and ex.executed == []
    assert ("execute", "restart_deployment") not in ex.steps
    assert store.get("aisre.lease.checkout") is None


@pytest.mark.parametrize("step", ["triage", "decide", "remediate"])
def test_mode_off_between_workflow_steps_takes_effect_at_the_next_step(step, rel_audit_path):
    ex = RecordingExecutor()
    rt = make_runtime(MemoryStore(), audit_path=rel_audit_path, executor=ex)
    out = run_workflow(rt, memory_signal(), between=lambda s: rt.set_mode("off", actor="oncall") if s == step else None)
    assert ex.executed == []
    if step == "remediate":
        assert out["result"]["status"] in ("skipped", "denied") and "off" in out["result"]["detail"] + out["result"].get("error", "")
    else:
        assert out["verdict"] == "watch"


def test_emergency_stop_under_concurrency(tmp_path):
    """Six threads run the pipeline in a loop on one shared FileStore; another thread flips the mode to
    off. After the flip, each worker may finish at most the one action already past its last gate;
    nothing else executes, and every later workflow run acts on nothing."""
    store = FileStore(str(tmp_path / "state.json"))
    flipped = threading.Event()
    after_flip: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def on_step(step, obj):
        if step == "execute" and flipped.is_set():
            with lock:
                after_flip[threading.current_thread().name] += 1
        if step == "precheck":
            time.sleep(0.002)

    ex = RecordingExecutor(on_step=on_step)
    rt = make_runtime(store, audit_path=str(tmp_path / "audit.jsonl"), executor=ex, services=SERVICES)
    stop = threading.Event()
    runs: collections.Counter[str] = collections.Counter()

    def worker(svc):
        def run():
            k = 0
            while not stop.is_set():
                out = run_workflow(rt, memory_signal(svc, f"sig-{svc}-{k}", ts=time.time()))
                if out["incident_id"]:
                    rt.resolve(out["incident_id"], "test: next round")
                runs[svc] += 1
                k += 1
        return run

    threads = [threading.Thread(target=worker(s), name=s) for s in SERVICES]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(ex.executed) < 12 and time.time() < deadline:
        time.sleep(0.01)
    rt.set_mode("off", actor="oncall")
    flipped.set()
    executed_at_flip = len(ex.executed)
    time.sleep(0.5)                 # the workers keep running the pipeline with the mode off
    stop.set()
    for t in threads:
        t.join(30)
    assert executed_at_flip >= 12, "the workers must have been acting before the flip"
    assert all(n <= 1 for n in after_flip.values()), after_flip
    assert len(ex.executed) - executed_at_flip <= len(SERVICES)
    assert sum(runs.values()) > executed_at_flip, "workflows kept running after the flip"
    late = run_workflow(rt, memory_signal("svc-0", "sig-late", ts=time.time()))
    assert late["verdict"] == "skip" and len(ex.executed) - executed_at_flip <= len(SERVICES)
