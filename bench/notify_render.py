"""Benchmark: report rendering per format and chart rendering.

Run from the repo root: ``PYTHONPATH=lib:tests python bench/notify_render.py``. Prints a table and
writes ``bench/results/notify_render.md``. Inputs are the deterministic incidents of
``tests/plugins/notify_samples.py`` (checkout: 3 signals; huge: 100 signals with 2 x 10 KB log lines each).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "tests")]
os.environ.setdefault("MPLBACKEND", "Agg")

from aisre.notify.charts import render_chart  # noqa: E402
from aisre.notify.report import FORMATS, render_report  # noqa: E402
from plugins.notify_samples import LINKS, T0, checkout_incident, huge_incident  # noqa: E402

REPEAT = 30


def _time(fn, n: int) -> float:
    fn()  # warm (template compile, imports)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _size(out) -> int:
    return len(out) if isinstance(out, str) else len(json.dumps(out))


def main() -> int:
    rows = []
    for name, inc in (("checkout (3 signals)", checkout_incident()), ("huge (100 signals, 10 KB lines)", huge_incident())):
        for fmt in FORMATS:
            out = render_report(inc, fmt, links=LINKS)
            med = _time(lambda: render_report(inc, fmt, links=LINKS), REPEAT)
            rows.append((f"render_report {fmt}", name, f"{med * 1000:.2f} ms", f"{_size(out):,} chars"))
    with tempfile.TemporaryDirectory() as d:
        for n in (120, 1440):
            pts = [(T0 + 60 * i, 60 + math.sin(i / 5) + (0.05 * (i - n * 0.7) if i > n * 0.7 else 0)) for i in range(n)]
            path = os.path.join(d, f"c{n}.png")
            med = _time(lambda: render_chart(pts, title="checkout memory_pct", expected=60, lower=55, upper=65,
                                             onset_ts=T0 + 60 * n * 0.7, path=path), 5)
            rows.append(("render_chart", f"{n} points", f"{med * 1000:.0f} ms", f"{os.path.getsize(path):,} bytes"))
    head = ("what", "input", "median time", "output size")
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    table = "\n".join(lines)
    sys.stdout.write(table + "\n")
    section = ("## notify: report and chart rendering\n\n"
               "`PYTHONPATH=lib:tests python bench/notify_render.py` (median of 30 renders, 5 for charts; "
               "2-core shared machine).\n\n" + table + "\n")
    out = ROOT / "bench" / "results" / "notify_render.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(section, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
