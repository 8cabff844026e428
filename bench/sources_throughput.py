"""Benchmark: how fast sources bring telemetry in (real Prometheus, file tail, normalisation).

Run from the repository root::

    PYTHONPATH=lib .venv/bin/python bench/sources_throughput.py

Prints a table and writes ``bench/results/sources_throughput.md``. Needs the ``prometheus`` and
``promtool`` binaries for the first rows (skipped otherwise). Timings are medians of ``REPEAT`` runs.
"""
from __future__ import annotations

import math
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "tests")]

from aisre.sources.files import FileTailSource  # noqa: E402
from aisre.sources.normalize import clean_points  # noqa: E402
from aisre.sources.prometheus import PrometheusSource  # noqa: E402
from aisre.state import MemoryStore  # noqa: E402

REPEAT = 5


def median_time(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_prometheus(rows: list[tuple[str, str, str]]) -> None:
    import shutil

    if not (shutil.which("prometheus") and shutil.which("promtool")):
        rows.append(("prometheus query_range", "skipped", "prometheus/promtool not installed"))
        return
    from plugins.prometheus_server import history_end, start_prometheus

    end = history_end()
    n_series, hours = 50, 6
    ts = [end - 60 * i for i in range(hours * 60)][::-1]
    series = {f'bench_metric{{service="svc{k:02d}"}}': [(t, 50 + 10 * math.sin(i / 30 + k)) for i, t in enumerate(ts)]
              for k in range(n_series)}
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        server = start_prometheus(series, workdir=work)
        startup = time.perf_counter() - t0
        try:
            src = PrometheusSource(server.url)
            points = n_series * len(ts)
            got = src.query_range("bench_metric", ts[0], ts[-1], 60)
            assert sum(len(s.points) for s in got) == points
            t = median_time(lambda: src.query_range("bench_metric", ts[0], ts[-1], 60))
            rows.append(("prometheus backfill + start (promtool, ready)", f"{startup:.2f} s",
                         f"{points:,} samples"))
            rows.append((f"prometheus query_range {n_series} series × {len(ts)} pts", f"{t * 1000:.0f} ms",
                         f"{points / t:,.0f} points/s"))
            one = median_time(lambda: src.query_range('bench_metric{service="svc00"}', ts[-60], ts[-1], 60))
            rows.append(("prometheus query_range 1 series × 60 pts (a sensor poll)", f"{one * 1000:.1f} ms", ""))
        finally:
            server.stop()


def bench_file_tail(rows: list[tuple[str, str, str]]) -> None:
    n = 200_000
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "app.log")
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                fh.write(f"2026-11-28T02:{i // 3600 % 60:02d}:{i % 60:02d}Z INFO req={i} path=/api/v1/items "
                         f"status=200 latency_ms={i % 500}\n")
        size_mb = os.path.getsize(path) / 1e6

        def run() -> None:
            src = FileTailSource([path], MemoryStore(), start_at="beginning")
            total = 0
            while True:
                batch = src.fetch(limit=10_000)
                total += len(batch)
                if not batch.truncated:
                    break
            assert total == n

        t = median_time(run, repeat=3)
        rows.append((f"file tail {n:,} lines ({size_mb:.0f} MB), limit 10k per fetch", f"{t:.2f} s",
                     f"{n / t:,.0f} lines/s, {size_mb / t:.0f} MB/s"))


def bench_normalise(rows: list[tuple[str, str, str]]) -> None:
    raw = [[1_700_000_000 + i * 15, "NaN" if i % 97 == 0 else str(i * 0.5)] for i in range(100_000)]
    t = median_time(lambda: clean_points(raw))
    rows.append(("clean_points 100k Prometheus [ts, 'value'] pairs", f"{t * 1000:.0f} ms",
                 f"{len(raw) / t:,.0f} points/s"))


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    bench_prometheus(rows)
    bench_file_tail(rows)
    bench_normalise(rows)
    header = ("case", "time", "throughput")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "| " + " | ".join("-" * w for w in widths) + " |"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    table = "\n".join(lines)
    print(table)
    out = ROOT / "bench" / "results" / "sources_throughput.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "## Sources throughput\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared; load average {os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}; medians of {REPEAT} runs "
        "(3 for the file tail).\n\n"
        f"{table}\n\nReproduce: `PYTHONPATH=lib .venv/bin/python bench/sources_throughput.py`\n",
        encoding="utf-8")


if __name__ == "__main__":
    main()
