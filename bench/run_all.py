"""Run every benchmark and assemble bench/RESULTS.md from bench/results/*.md.

    .venv/bin/python bench/run_all.py            # all
    .venv/bin/python bench/run_all.py --only nab loghub
    .venv/bin/python bench/run_all.py --assemble # just rebuild RESULTS.md from the existing sections

Benchmarks measure speed and quality; they are never pass/fail tests (the machines are noisy).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = [  # (name, script, args) in the order of RESULTS.md
    ("drills", "bench/drills.py", []),
    ("nab", "bench/nab.py", []),
    ("loghub", "bench/loghub.py", []),
    ("retrieval", "bench/retrieval.py", []),
    ("retrieval_llm", "bench/retrieval_llm.py", []),
    ("triage", "bench/triage.py", []),
    ("metric_sensor_scale", "bench/metric_sensor_scale.py", []),
    ("sources_throughput", "bench/sources_throughput.py", []),
    ("remediate_guardrails", "bench/remediate_guardrails.py", []),
    ("notify_render", "bench/notify_render.py", []),
    ("fuzz", "bench/fuzz.py", []),
]


def assemble() -> str:
    parts = ["# Benchmark results", "",
             f"Assembled {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node() or 'a'} "
             f"({os.cpu_count()} cores, Python {platform.python_version()}). Each section says how to reproduce it; "
             "`make bench` reruns them all. Timings come from a shared 2-core machine and vary between runs.", ""]
    for name, _, _ in BENCHES:
        path = os.path.join(ROOT, "bench", "results", f"{name}.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                parts.append(fh.read().strip())
                parts.append("")
    text = "\n".join(parts)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--assemble", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("AISRE_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "lib"), os.path.join(ROOT, "tests"), env.get("PYTHONPATH", "")])
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    failures = []
    if not args.assemble:
        for name, script, extra in BENCHES:
            if args.only and name not in args.only:
                continue
            if not os.path.exists(os.path.join(ROOT, script)):
                print(f"-- {name}: {script} missing, skipped", file=sys.stderr)
                continue
            print(f"-- {name}: {script}", file=sys.stderr, flush=True)
            t = time.perf_counter()
            rc = subprocess.call([sys.executable, os.path.join(ROOT, script), *extra], cwd=ROOT, env=env)
            print(f"-- {name}: exit {rc} in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
            if rc != 0:
                failures.append(name)
    assemble()
    print(f"wrote bench/RESULTS.md{'; benchmarks that exited non-zero: ' + ', '.join(failures) if failures else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
