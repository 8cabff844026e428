"""Can one metric-sensor poll cycle over 500 series fit in the poll interval?

A real Prometheus (Debian package) is backfilled with 500 series (6 h of 1-minute samples each) and the
sensor's core (`aisre.watch.MetricWatcher`, the code `sensors/metric_sensor.py` runs) polls all of them:
one `query_range` per series, the detector per point, state and cursor saved to the datastore per series.
The first cycle warms 360 points per series; later cycles see the new points only.

    PYTHONPATH=lib:tests python bench/metric_sensor_scale.py [--series 500]
Writes bench/results/metric_sensor_scale.md.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "tests")]

from aisre.config import load_config  # noqa: E402
from aisre.sources import PrometheusSource  # noqa: E402
from aisre.state import MemoryStore  # noqa: E402
from aisre.watch import MetricWatcher  # noqa: E402
from plugins.prometheus_server import history_end, start_prometheus  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--hours", type=int, default=6)
    args = ap.parse_args()
    rng = random.Random(7)
    end = history_end()
    n_points = args.hours * 60
    series = {}
    for i in range(args.series):
        base = rng.uniform(10, 80)
        series[f'bench_metric{{service="svc{i % 50}",idx="{i}"}}'] = [
            (end - (n_points - k) * 60, base + 5 * math.sin(k / 30) + rng.gauss(0, 1)) for k in range(n_points + 1)]
    t0 = time.perf_counter()
    prom = start_prometheus(series)
    backfill_s = time.perf_counter() - t0
    try:
        services = {}
        for i in range(args.series):
            services.setdefault(f"svc{i % 50}", []).append(
                {"name": f"m{i}", "query": f'bench_metric{{idx="{i}"}}', "capacity": 100})
        config = load_config({"services": [{"name": k, "metrics": v} for k, v in services.items()],
                              "sources": {"prometheus": {"url": prom.url}},
                              "detection": {"lookback_minutes": args.hours * 60 + 30, "step_s": 60}})
        clock = [end - 600]   # the first cycle sees all but the last 10 minutes; the second sees those
        store = MemoryStore(clock=lambda: clock[0])
        watcher = MetricWatcher(config, {"prometheus": PrometheusSource(prom.url)}, store, clock=lambda: clock[0])
        rows = []
        for label in ("first cycle (warm-up, all history)", "next cycle (10 new minutes)"):
            t = time.perf_counter()
            found = watcher.poll_once()
            wall = time.perf_counter() - t
            rows.append((label, watcher.stats.polled, watcher.stats.points, len(found), len(watcher.stats.errors), wall))
            clock[0] = end + 1
    finally:
        prom.stop()
    lines = ["## Metric sensor at scale", "",
             f"{args.series} series in a real Prometheus 2.42 (backfilled in {backfill_s:.1f} s), one "
             "`query_range` each, detector `default`, state and cursor saved per series. Poll interval 60 s.", "",
             "| cycle | series | points | signals | errors | wall (s) | fits 60 s? |", "|---|---|---|---|---|---|---|"]
    for label, polled, points, sig, err, wall in rows:
        lines.append(f"| {label} | {polled} | {points:,} | {sig} | {err} | {wall:.2f} | {'yes' if wall < 60 else 'NO'} |")
    lines += ["", "Reproduce: `PYTHONPATH=lib:tests .venv/bin/python bench/metric_sensor_scale.py` "
              "(machine: 2 cores, shared)."]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "metric_sensor_scale.md"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0 if all(r[5] < 60 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
