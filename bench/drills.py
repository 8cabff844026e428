"""Incident drills: the real agent (offline analyst, shipped knowledge base) on all 30 simulated drills.

Usage (from the repository root)::

    PYTHONPATH=lib python bench/drills.py                # seeds 7, 11, 42; writes bench/results/drills.md
    PYTHONPATH=lib python bench/drills.py --seeds 7 --no-write

For each seed it runs ``aisre drill all`` in-process (the same wiring as the CLI: one retriever and one
analyst shared by every drill, a fresh agent per drill), prints the table and the five issue-9
targets, and writes them to ``bench/results/drills.md``. Wall time is per seed, including the agent
(the knowledge base is loaded once per process, before the first seed, and reported separately).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from aisre.analysis import build_analyst  # noqa: E402
from aisre.config import load_config  # noqa: E402
from aisre.knowledge import build_retriever  # noqa: E402
from aisre.sim import drill as drills  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 42])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    defaults = load_config({})
    retriever, analyst = build_retriever(defaults), build_analyst(defaults)
    load_s = time.perf_counter() - t0

    def factory(fleet, scenario):
        return drills.make_agent(fleet, scenario, retriever=retriever, analyst=analyst)

    out = ["## Incident drills (real agent, offline analyst)", "",
           "Reproduce: `PYTHONPATH=lib python bench/drills.py` (or `aisre drill all --seed N`). "
           f"Knowledge base and analyst loaded once in {load_s:.1f} s; the wall time below is per seed.", ""]
    summary = ["| seed | passed | known auto-resolved | unknown-critical escalated ≤ limit | transient acted on "
               "| forbidden attempts | wall s | all targets |", "|---|---|---|---|---|---|---|---|"]
    tables = []
    for seed in args.seeds:
        suite = drills.run_all(None, seed=seed, agent_factory=factory)
        table = suite.table()
        print(table, flush=True)
        targets = {name: (met, observed) for name, met, observed in suite.targets()}
        cells = [observed for _, (_, observed) in targets.items()]
        passed = sum(1 for r in suite.results if r.passed)
        summary.append(f"| {seed} | {passed}/{len(suite.results)} | " + " | ".join(cells[:5]) +
                       f" | {'yes' if suite.targets_met() else 'no'} |")
        tables += [f"### seed {seed}", "", "```", table, "```", ""]
    text = "\n".join(out + summary + [""] + tables)
    if not args.no_write:
        path = ROOT / "bench" / "results" / "drills.md"
        path.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
