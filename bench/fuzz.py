"""Fuzz benchmark: >= 10,000 Hypothesis cases per parser of outside input.

Usage (from the repository root)::

    PYTHONPATH=lib python bench/fuzz.py                    # 10,000 cases per parser, writes bench/results/fuzz.md
    PYTHONPATH=lib python bench/fuzz.py --cases 500 --no-write --only webhooks.normalise

The targets and properties are the ones the test suite runs at CI size
(``tests/plugins/reliability_fuzz.py``): each parser returns its typed result with its invariants,
or raises an ``aisre.errors.SreError`` with a message naming the problem. A run counts every case
tried, the exceptions of each SreError class seen (the typed rejections) and any property failure
(the minimal failing case Hypothesis found). The table lists the bugs earlier runs found and fixed.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from aisre.errors import SreError  # noqa: E402
from plugins.reliability_fuzz import TARGETS  # noqa: E402

#: Bugs the fuzzers found, fixed in the library (each has a regression test in tests/unit/reliability/).
FOUND_AND_FIXED = [
    ("Signal.from_dict+correlate", "a trigger payload with `service: [null]` built a Signal and crashed the "
     "correlator with TypeError (unhashable list)", "models._decode refuses a wrong scalar type with ValidationError"),
    ("Signal.from_dict+correlate", "`severity: null` built a Signal with severity None and crashed the "
     "correlator with AttributeError", "null for a non-optional field: its default, or ValidationError when it has none"),
    ("config.load_config", "`environment: [null]` raised TypeError in apply_environment",
     "ConfigError('environment must be a string', path='environment')"),
    ("webhooks.normalise", "an Argo CD app labelled `service: -1` became a Signal whose service was an int "
     "(10,000-case run)", "normalise type-checks every Signal/Change it returns (ValidationError naming the field)"),
    ("knowledge.load_runbook", "a scalar like `2026-13-45T25:61:61Z` made PyYAML raise ValueError (out-of-range "
     "date), which escaped the loader (also in config files and drill scenarios)",
     "ValidationError/ConfigError 'invalid YAML value', naming the file"),
    ("webhooks, LLM output, Incident.from_json, source bodies", "JSON nested 100,000 deep raised RecursionError "
     "(found while reviewing the fuzz targets; the targets now include such text)",
     "a typed error ('nested too deeply') at every json.loads of outside input"),
]


def run_target(name: str, cases: int, seed: int) -> dict[str, object]:
    strategy, prop = TARGETS[name]
    counts: collections.Counter[str] = collections.Counter()
    tried = [0]

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy())
    def run(case: object) -> None:
        tried[0] += 1
        try:
            prop(case)
            counts["ok"] += 1
        except SreError as exc:          # a property may re-raise nothing; kept for safety
            counts[type(exc).__name__] += 1

    failure = ""
    started = time.perf_counter()
    try:
        import random
        random.seed(seed)
        run()
    except Exception as exc:  # noqa: BLE001 - a property failure is the benchmark's finding
        failure = f"{type(exc).__name__}: {str(exc)[:300]}"
        traceback.print_exc(limit=3)
    return {"name": name, "tried": tried[0], "seconds": time.perf_counter() - started, "failure": failure}


def render(rows: list[dict[str, object]], cases: int) -> str:
    lines = ["## Fuzzing: every parser of outside input", "",
             f"`PYTHONPATH=lib python bench/fuzz.py --cases {cases}` (Hypothesis; properties in "
             "`tests/plugins/reliability_fuzz.py`: a typed result with its invariants, or an `SreError` "
             "with a message; nothing else).", "",
             "| parser | cases tried | failures | seconds |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['tried']:,} | {1 if r['failure'] else 0} | {r['seconds']:.1f} |")
    total = sum(int(r["tried"]) for r in rows)
    lines += ["", f"Total: {total:,} cases, {sum(1 for r in rows if r['failure'])} failing parsers.", ""]
    failing = [r for r in rows if r["failure"]]
    if failing:
        lines += ["Failures in this run:", ""] + [f"- {r['name']}: {r['failure']}" for r in failing] + [""]
    lines += ["Found by the fuzzers and fixed (regression tests in `tests/unit/reliability/test_rel_fixes.py`):", ""]
    lines += [f"- **{t}**: {what} -> {fix}" for t, what, fix in FOUND_AND_FIXED]
    return "\n".join(lines) + "\n"


def rows_from_log(path: str) -> list[dict[str, object]]:
    """Rows back from a saved console log (``--render-from``), to re-render the table."""
    import re
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(.{32}) +([\d,]+) cases +([\d.]+)s  (.*)$", line)
        if m:
            rows.append({"name": m.group(1).strip(), "tried": int(m.group(2).replace(",", "")),
                         "seconds": float(m.group(3)), "failure": "" if m.group(4) == "ok" else m.group(4)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--render-from", default="", help="re-render the table from a saved console log")
    args = ap.parse_args(argv)
    rows = rows_from_log(args.render_from) if args.render_from else []
    for name in [] if args.render_from else (args.only or list(TARGETS)):
        row = run_target(name, args.cases, args.seed)
        rows.append(row)
        print(f"{name:32s} {row['tried']:>8,} cases {row['seconds']:8.1f}s  {row['failure'] or 'ok'}", flush=True)
    text = render(rows, args.cases)
    print(text)
    if not args.no_write:
        out = ROOT / "bench" / "results" / "fuzz.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 1 if any(r["failure"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
