"""A real Prometheus server with deterministic, backfilled history.

How it works: :func:`write_openmetrics` writes the series as OpenMetrics text,
``promtool tsdb create-blocks-from openmetrics`` turns it into TSDB blocks in a temporary data
directory, and ``prometheus`` (Debian package, found with ``require_binary``) starts on a free
loopback port over that directory with no scrape targets. Prometheus only accepts backfilled
blocks older than its head block, so every history ends at :func:`history_end` = now − 3 h rounded
down to the hour (and starts within its 30-day retention).

Fixtures
--------
``prometheus_server`` (session): one server holding :func:`default_series` (6 h of 1-minute
samples ending at ``history_end()``). It yields a :class:`PromServer` with ``.url``, ``.start``,
``.end``, ``.step_s`` and ``.series`` (what was loaded, ``{selector: [(ts, value), ...]}``).

``prometheus_with`` (function): a factory ``prometheus_with(series, labels=None) -> PromServer``
starting a separate server holding exactly ``series``; servers stop when the test ends.

How a test queries it::

    def test_x(prometheus_server):
        src = PrometheusSource(prometheus_server.url)
        s = src.query_range('aisre_test_cpu_ratio{service="checkout"}',
                            prometheus_server.start, prometheus_server.end, 60)

    def test_leak(prometheus_with):
        end = history_end(); ts = [end - 3600 + 60 * i for i in range(61)]
        prom = prometheus_with({'container_memory_pct{service="checkout"}': [(t, 40 + i * 0.5) for i, t in enumerate(ts)]})
        PrometheusSource(prom.url).query_range('container_memory_pct', ts[0], ts[-1], 60)

Series keys of :func:`write_openmetrics` are a metric name or ``name{label="value",...}``;
``labels`` are added to every series. Keep queries inside ``[start, end]``: after ``end``
Prometheus still answers for 5 minutes (its lookback delta) with the last value.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Mapping, Sequence

import pytest

from plugins._servers import free_port, require_binary

Points = Sequence[tuple[float, float]]

_SELECTOR = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def history_end(now: float | None = None) -> float:
    """End of backfilled history: now − 3 h, rounded down to the hour (older than any head block)."""
    now = time.time() if now is None else now
    return math.floor((now - 3 * 3600) / 3600) * 3600


def _parse_selector(selector: str) -> tuple[str, dict[str, str]]:
    m = _SELECTOR.match(selector.strip())
    if not m:
        raise ValueError(f"not a metric selector: {selector!r}")
    name, body = m.group(1), m.group(2) or ""
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        lm = _LABEL.match(body, pos)
        if not lm:
            raise ValueError(f"bad labels in {selector!r}")
        labels[lm.group(1)] = lm.group(2)
        pos = lm.end()
    return name, labels


def _fmt_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def write_openmetrics(path: str, series: Mapping[str, Points], labels: Mapping[str, str] | None = None) -> str:
    """Write ``series`` ({selector: [(ts, value), ...]}) as OpenMetrics text with ``# EOF``.

    Samples of one family stay together and in time order (OpenMetrics requires it); every family
    is declared a gauge. ``labels`` are added to each series. Returns ``path``.
    """
    families: dict[str, list[tuple[dict[str, str], Points]]] = {}
    for selector, points in series.items():
        name, own = _parse_selector(selector)
        families.setdefault(name, []).append(({**(labels or {}), **own}, points))
    with open(path, "w", encoding="utf-8") as fh:
        for name in sorted(families):
            fh.write(f"# TYPE {name} gauge\n")
            for lbls, points in families[name]:
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(lbls.items()))
                head = f"{name}{{{rendered}}}" if rendered else name
                for ts, value in sorted(points):
                    fh.write(f"{head} {_fmt_value(value)} {ts:.3f}\n")
        fh.write("# EOF\n")
    return path


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def default_series(end: float, hours: int = 6, step_s: int = 60) -> dict[str, list[tuple[float, float]]]:
    """Deterministic history: per-service CPU ratio (daily-ish wave), a latency series with a spike
    at ``end − 2 h``, and a memory series leaking linearly for checkout."""
    n = hours * 3600 // step_s
    ts = [end - (n - 1 - i) * step_s for i in range(n)]
    spike = end - 2 * 3600
    out: dict[str, list[tuple[float, float]]] = {}
    for k, svc in enumerate(("checkout", "payments")):
        out[f'aisre_test_cpu_ratio{{service="{svc}",instance="{svc}-0"}}'] = [
            (t, round(0.3 + 0.1 * k + 0.05 * math.sin(2 * math.pi * i / 120), 6)) for i, t in enumerate(ts)]
    out['aisre_test_latency_p99_seconds{service="checkout"}'] = [
        (t, 1.65 if spike <= t < spike + 600 else 0.15) for t in ts]
    out['aisre_test_memory_pct{service="checkout"}'] = [(t, round(40 + 0.1 * i, 3)) for i, t in enumerate(ts)]
    return out


@dataclasses.dataclass
class PromServer:
    url: str
    data_dir: str
    series: dict[str, list[tuple[float, float]]]
    start: float
    end: float
    step_s: int
    proc: subprocess.Popen | None = None
    log_path: str = ""

    def stop(self) -> None:
        """Stop the server (idempotent); later queries hit a closed port."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


def start_prometheus(series: Mapping[str, Points], labels: Mapping[str, str] | None = None,
                     workdir: str | None = None, step_s: int = 60) -> PromServer:
    """Backfill ``series`` and start a Prometheus server over it; the caller must ``stop()`` it."""
    prom = require_binary("prometheus")
    promtool = require_binary("promtool")
    work = workdir or tempfile.mkdtemp(prefix="aisre-prom-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir, exist_ok=True)
    om = write_openmetrics(os.path.join(work, "backfill.om"), series, labels)
    all_ts = [t for pts in series.values() for t, _ in pts]
    if all_ts:
        if max(all_ts) > time.time() - 3600:
            raise ValueError("backfilled samples must be older than the head block (use history_end())")
        if min(all_ts) < time.time() - 29 * 86400:
            raise ValueError("backfilled samples must be inside Prometheus' 30-day retention")
        res = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, data_dir],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {res.stderr or res.stdout}")
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write("global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    log_path = os.path.join(work, "prometheus.log")
    logf = open(log_path, "wb")
    proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={data_dir}",
                             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d",
                             "--log.level=warn"], stdout=logf, stderr=subprocess.STDOUT)
    logf.close()
    url = f"http://127.0.0.1:{port}"
    server = PromServer(url=url, data_dir=data_dir, series={k: list(v) for k, v in series.items()},
                        start=min(all_ts) if all_ts else 0.0, end=max(all_ts) if all_ts else 0.0,
                        step_s=step_s, proc=proc, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                raise RuntimeError(f"prometheus exited with {proc.returncode}: {fh.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("prometheus did not become ready within 30 s")


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory):
    """One real Prometheus for the session, with :func:`default_series` ending at :func:`history_end`."""
    end = history_end()
    server = start_prometheus(default_series(end), workdir=str(tmp_path_factory.mktemp("prometheus")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prometheus_with(tmp_path):
    """Factory: ``prometheus_with(series, labels=None)`` starts a separate server holding ``series``."""
    started: list[PromServer] = []

    def start(series: Mapping[str, Points], labels: Mapping[str, str] | None = None) -> PromServer:
        server = start_prometheus(series, labels, workdir=str(tmp_path / f"prom{len(started)}"))
        started.append(server)
        return server

    try:
        yield start
    finally:
        for s in started:
            s.stop()
