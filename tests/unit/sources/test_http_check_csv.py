"""HttpCheckSource against a real loopback server; CsvReplaySource on files."""
from __future__ import annotations

import pytest

from aisre.errors import BadQuery, SourceDown
from aisre.sources.csv_replay import CsvReplaySource
from aisre.sources.http_check import HttpCheck, HttpCheckSource


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def by_key(series):
    return {s.key.split("{")[0]: s for s in series}


def test_healthy_check_is_up_with_latency(fake_http):
    fake_http.route("GET", "/health", body={"ok": True})
    clock = Clock()
    src = HttpCheckSource([{"name": "home", "url": fake_http.url + "/health?token=abc", "service": "web"}],
                          clock=clock)
    got = by_key(src.query_range("", clock.t - 300, clock.t, 60))
    up, lat = got["http_check_uptime"], got["http_check_latency_ms"]
    assert up.points == ((clock.t, 1.0),)
    assert lat.unit == "ms" and 0 < lat.points[0][1] < 5000
    assert up.labels == {"check": "home", "service": "web", "url": fake_http.url + "/health"}   # no query string
    assert up.key == f'http_check_uptime{{check="home",service="web",url="{fake_http.url}/health"}}'


def test_500_is_down_but_has_latency(fake_http):
    fake_http.route("GET", "/broken", status=500, body="<html>oops</html>")
    src = HttpCheckSource([HttpCheck("api", fake_http.url + "/broken", "api")])
    probe = src.probe(src.checks["api"])
    assert not probe.up and probe.status == 500 and probe.latency_ms is not None
    assert probe.error == "HTTP 500, expected 200"


def test_slow_endpoint_times_out_as_down_without_latency(fake_http):
    fake_http.route("GET", "/slow", body="late", delay_s=2)
    src = HttpCheckSource([HttpCheck("slow", fake_http.url + "/slow", "web", timeout_s=0.3)])
    probe = src.probe(src.checks["slow"])
    assert (probe.up, probe.latency_ms, probe.status) == (False, None, None)
    assert "within 0.3s" in probe.error


def test_refused_port_is_down(refused_url):
    src = HttpCheckSource([HttpCheck("gone", refused_url + "/", "web", timeout_s=1)])
    probe = src.probe(src.checks["gone"])
    assert not probe.up and probe.latency_ms is None and "unreachable" in probe.error


def test_expected_status_and_history_one_probe_per_step(fake_http):
    fake_http.route("POST", "/created", status=201, body="{}")
    clock = Clock()
    src = HttpCheckSource([{"name": "c", "url": fake_http.url + "/created", "service": "s", "method": "post",
                            "expect_status": 201}], clock=clock)
    for dt in (0, 20, 60, 90, 120):
        clock.t = 1_700_000_000.0 + dt
        src.query_range("c", clock.t - 600, clock.t, 60)
    assert [p.ts - 1_700_000_000 for p in src.history("c")] == [0, 60, 120]
    up = by_key(src.query_range("s", 1_700_000_000.0, clock.t, 60))["http_check_uptime"]
    assert [v for _, v in up.points] == [1.0, 1.0, 1.0]
    assert len(fake_http.calls) == 3 and fake_http.calls[0].method == "POST"


def test_unknown_check_is_bad_query():
    with pytest.raises(BadQuery):
        HttpCheckSource([]).query_range("nope", 0, 60, 60)


def write(tmp_path, text):
    p = tmp_path / "replay.csv"
    p.write_text(text)
    return str(p)


def test_csv_epoch_and_iso_rows_filtered_by_glob_and_range(tmp_path):
    path = write(tmp_path, "ts,series,value\n"
                           "1700000060,checkout:memory_pct,41\n"
                           "2023-11-14T22:13:20Z,checkout:memory_pct,40\n"
                           "1700000000000,checkout:latency_ms,120\n"
                           "1700000120,payments:memory_pct,NaN\n"
                           "1700000120,payments:memory_pct,\n"
                           "1700009999,checkout:memory_pct,99\n"
                           "not-a-time,checkout:memory_pct,1\n"
                           "short,row\n")
    src = CsvReplaySource(path)
    got = src.query_range("checkout:*", 1_700_000_000, 1_700_000_600, 60)
    assert [s.key for s in got] == ["checkout:latency_ms", "checkout:memory_pct"]
    assert got[1].points == ((1_700_000_000.0, 40.0), (1_700_000_060.0, 41.0))
    assert got[1].labels == {"series": "checkout:memory_pct", "service": "checkout", "metric": "memory_pct"}
    assert src.skipped_rows == 2
    assert src.query_range("payments:memory_pct", 1_700_000_000, 1_700_000_600, 60)[0].points == ()
    assert [s.key for s in src.query_range("", 0, 2e9, 60)] == ["checkout:latency_ms", "checkout:memory_pct",
                                                                "payments:memory_pct"]


def test_csv_missing_file_is_source_down(tmp_path):
    with pytest.raises(SourceDown):
        CsvReplaySource(str(tmp_path / "none.csv")).query_range("", 0, 1, 1)
