"""Two agents (two Runtimes, as two st2 nodes) over ONE FileStore on the same signal stream, in threads:
every remediation runs once (signal dedup + the lease) and every page is sent once (Dispatcher dedup)."""
from __future__ import annotations

import threading
import time

from aisre.state import FileStore
from plugins.reliability_world import ListNotifier, RecordingExecutor, make_runtime, memory_signal, run_workflow

SERVICES = ("checkout", "orders", "payments", "search")


def two_nodes(tmp_path, **kw):
    store = FileStore(str(tmp_path / "shared" / "state.json"))
    nodes = []
    for name in ("node-a", "node-b"):
        ex, pager = RecordingExecutor(), ListNotifier("pagerduty")
        rt = make_runtime(store, audit_path=str(tmp_path / f"{name}-audit.jsonl"), executor=ex, notifiers=[pager],
                          owner=name, services=SERVICES, **kw)
        nodes.append((rt, ex, pager))
    return store, nodes


def run_in_threads(fns):
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_same_stream_on_two_nodes_each_remediation_runs_once(tmp_path):
    _, nodes = two_nodes(tmp_path)
    stream = [memory_signal(svc, f"sig-{svc}-{k}", ts=time.time()) for k in range(3) for svc in SERVICES]
    barrier = threading.Barrier(2)

    def node(rt):
        def run():
            barrier.wait()
            for sig in stream:
                run_workflow(rt, dict(sig))
        return run

    run_in_threads([node(rt) for rt, _, _ in nodes])
    executed = [r for _, ex, _ in nodes for r in ex.executed]
    assert sorted(r.service for r in executed) == sorted(SERVICES), executed


def test_a_run_started_before_the_other_node_acted_does_not_act_again(tmp_path):
    """The interleaving behind the flaky test above, step by step (each call is one workflow task).

    node-b runs sig-0 up to its decision; node-a correlates sig-1 while the incident is still open (so
    its run is not skipped); node-b acts (attempt 0 -> attempts 1, mitigating); node-a then triages and
    decides. It must not act: the fix is awaiting verification. Only a failed verification (reopen)
    starts the next attempt."""
    _, nodes = two_nodes(tmp_path)
    (rt_a, ex_a, _), (rt_b, ex_b, _) = nodes
    now = time.time()
    c_b = rt_b.correlate(memory_signal("search", "sig-search-0", ts=now))
    assert c_b["is_new"] and not c_b["skip"]
    inc_id = c_b["incident_id"]
    rt_b.triage(inc_id)
    d_b = rt_b.decide(inc_id)
    c_a = rt_a.correlate(memory_signal("search", "sig-search-1", ts=now + 1))
    assert c_a["incident_id"] == inc_id and not c_a["skip"]        # open when node-a looked
    assert rt_b.remediate(d_b["request"])["status"] == "succeeded"
    assert rt_b.incident(inc_id).status.value == "mitigating"
    rt_a.triage(inc_id)
    d_a = rt_a.decide(inc_id)
    assert d_a["verdict"] == "watch" and d_a["request"] is None, d_a
    assert any("mitigating" in r for r in d_a["reasons"]), d_a["reasons"]
    assert [r.service for r in ex_a.executed + ex_b.executed] == ["search"]
    # the fix did not hold: the remediate workflow reopens and decides again -> the next attempt acts
    rt_b.reopen(inc_id)
    again = rt_b.decide(inc_id)
    assert again["verdict"] == "act" and again["request"]["attempt"] == 1
    assert rt_b.remediate(again["request"])["status"] == "succeeded"
    assert len(ex_a.executed + ex_b.executed) == 2


def test_the_lease_lets_one_node_act_when_both_try_at_once(tmp_path):
    store, nodes = two_nodes(tmp_path)
    for _, ex, _ in nodes:
        ex.on_step = lambda step, obj: time.sleep(0.05) if step == "execute" else None
    rt_a = nodes[0][0]
    rt_a.correlate(memory_signal())
    inc_id = rt_a.correlator.open_incidents()[0].id
    rt_a.triage(inc_id)
    decided = rt_a.decide(inc_id)["request"]
    assert decided["attempt"] == 0
    # both nodes got the same decision: (incident, attempt) is claimed once, across every round
    claimed = []
    for _ in range(3):
        barrier = threading.Barrier(2)

        def both(rt):
            def run():
                barrier.wait()
                claimed.append(rt.remediate(dict(decided)))
            return run
        run_in_threads([both(rt) for rt, _, _ in nodes])
    assert [r["status"] for r in claimed].count("succeeded") == 1
    assert sum(len(ex.executed) for _, ex, _ in nodes) == 1
    # without the attempt token (a replayed or hand-built request) the lease still serialises them
    request = {k: v for k, v in decided.items() if k != "attempt"}
    results = {}
    for rnd in range(4):
        barrier = threading.Barrier(2)

        def act(rt, name):
            def run():
                barrier.wait()
                results[(rnd, name)] = rt.remediate(dict(request))
            return run
        run_in_threads([act(rt, rt.owner) for rt, _, _ in nodes])
        statuses = sorted(results[(rnd, n)]["status"] for n in ("node-a", "node-b"))
        assert statuses.count("succeeded") <= 1, statuses
        assert statuses.count("succeeded") + statuses.count("skipped") == 2, statuses
    assert store.get("aisre.lease.checkout") is None
    skipped = [r for r in results.values() if r["status"] == "skipped"]
    assert skipped and all("lease" in r["detail"] for r in skipped)


def test_two_nodes_escalating_the_same_incident_page_once(tmp_path):
    _, nodes = two_nodes(tmp_path)
    for _, _, pager in nodes:
        original = pager.send

        def slow_send(notification, incident=None, _orig=original):
            time.sleep(0.05)                      # a real API call takes a while: widen the race
            return _orig(notification, incident)
        pager.send = slow_send
    rt_a = nodes[0][0]
    rt_a.correlate(memory_signal())
    inc_id = rt_a.correlator.open_incidents()[0].id
    for _ in range(3):
        barrier = threading.Barrier(2)

        def esc(rt):
            def run():
                barrier.wait()
                rt.escalate(inc_id, "cannot act")
            return run
        run_in_threads([esc(rt) for rt, _, _ in nodes])
    pages = [n for _, _, pager in nodes for n in pager.sent if n.kind == "escalated"]
    assert len(pages) == 1, [p.kind for p in pages]
