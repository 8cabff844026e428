"""Benchmark: guardrail decisions, the audit hash chain and lease contention (no network).

Run:  PYTHONPATH=lib .venv/bin/python bench/remediate_guardrails.py [--records 10000]
Prints a table and writes bench/results/remediate_guardrails.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

from aisre.config import SafetyConfig
from aisre.models import (ActionRequest, Classification, Diagnosis, Incident, Runbook, RunbookAction, Severity,
                          Target)
from aisre.policy import AuditLog, Guardrails, assess
from aisre.state import FileStore, MemoryStore


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_decide(n: int) -> dict[str, float]:
    g = Guardrails(SafetyConfig(mode="autonomous", max_actions_per_window=10**9), MemoryStore())
    rb = Runbook(id="oom", title="OOM", actions=(RunbookAction(action="restart_deployment"),
                                                 RunbookAction(action="scale_deployment", params={"factor": 2})))
    inc = Incident(id="i", fingerprint="f", service="checkout")
    dg = Diagnosis(classification=Classification.KNOWN, severity=Severity.ERROR, summary="s",
                   proposed_action="scale_deployment")
    req = ActionRequest(action="scale_deployment", service="checkout", params={"factor": 2},
                        target=Target(kind="kubernetes", name="checkout", namespace="prod"))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        g.decide(inc, dg, rb, req)
        times.append((time.perf_counter() - t) * 1e6)
    return {"p50_us": statistics.median(times), "p99_us": pct(times, 0.99)}


def bench_assess(n: int) -> float:
    req = ActionRequest(action="drain_node", service="x", params={"node": "n1"}, target=Target(kind="kubernetes",
                                                                                               name="x"))
    t = time.perf_counter()
    for _ in range(n):
        assess(req)
    return (time.perf_counter() - t) / n * 1e6


def bench_audit(n: int, d: str) -> dict[str, float]:
    log = AuditLog(os.path.join(d, "audit.jsonl"))
    t = time.perf_counter()
    for i in range(n):
        log.append("decision", f"inc-{i % 50}", {"verdict": "act", "reasons": ["restart_deployment is safe"], "i": i})
    append_s = time.perf_counter() - t
    t = time.perf_counter()
    v = log.verify()
    verify_s = time.perf_counter() - t
    assert v.ok and v.count == n
    return {"append_per_s": n / append_s, "verify_per_s": n / verify_s, "bytes_per_record":
            os.path.getsize(log.path) / n}


def bench_leases(d: str, threads: int = 50, rounds: int = 20) -> dict[str, float]:
    winners_per_round = []
    for store in (MemoryStore(), FileStore(os.path.join(d, "state.json"))):
        g = Guardrails(SafetyConfig(), store)
        for r in range(rounds):
            barrier = threading.Barrier(threads)
            wins = []

            def worker(i: int) -> None:
                barrier.wait()
                if g.acquire_lease(f"svc-{r}", f"w{i}"):
                    wins.append(i)

            ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            winners_per_round.append(len(wins))
    return {"rounds": len(winners_per_round), "max_winners": max(winners_per_round),
            "min_winners": min(winners_per_round)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--decisions", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        dec = bench_decide(args.decisions)
        asx = bench_assess(args.decisions)
        aud = bench_audit(args.records, d)
        lea = bench_leases(d)
    rows = [
        ("Guardrails.decide (autonomous, safe scale)", f"p50 {dec['p50_us']:.0f} µs, p99 {dec['p99_us']:.0f} µs"),
        ("policy.assess (registry + schema)", f"{asx:.0f} µs per request"),
        (f"AuditLog.append (fsync, {args.records} records)", f"{aud['append_per_s']:.0f} records/s"),
        ("AuditLog.verify", f"{aud['verify_per_s']:.0f} records/s, {aud['bytes_per_record']:.0f} B/record"),
        ("acquire_lease, 50 threads x 20 rounds x (memory, file)",
         f"winners per round: min {lea['min_winners']}, max {lea['max_winners']} (must be 1)"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    md = ["## Remediation guardrails and audit (`bench/remediate_guardrails.py`)", "",
          f"Machine: {os.cpu_count()} cores (shared). Command: "
          "`PYTHONPATH=lib python bench/remediate_guardrails.py`", "", "| what | result |", "| --- | --- |"]
    md += [f"| {a} | {b} |" for a, b in rows]
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "remediate_guardrails.md"), "w",
              encoding="utf-8") as fh:
        fh.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
