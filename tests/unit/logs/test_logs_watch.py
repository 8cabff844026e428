"""Fatal signatures and LogWatcher: surge, new error pattern, signature, cooldown, restart."""
from __future__ import annotations

import json

import pytest

from aisre.detect.logwatch import LogWatcher, detect_level
from aisre.detect.signatures import load_signatures, match_signature
from aisre.errors import ConfigError, ValidationError
from aisre.models import LogRecord, Severity, Signal

W = 60.0


@pytest.mark.parametrize("text,runbook", [
    ("java.lang.OutOfMemoryError: Java heap space", "memory-leak"),
    ("Container app was OOMKilled", "oom-killed"),
    ("FATAL: remaining connection slots are reserved for non-replication superuser connections", "db-connection-exhaustion"),
    ("ERROR 1040 (HY000): Too many connections", "db-connection-exhaustion"),
    ("write /data/x: No space left on device", "disk-full"),
    ("Could not connect to DB at db-primary:5432", "db-primary-failure"),
    ("dial tcp 10.0.0.5:5432: connect: connection refused", "db-primary-failure"),
    ("x509: certificate has expired or is not yet valid", "certificate-expiry"),
    ("dial tcp: lookup api.internal: no such host", "dns-failure"),
    ("status=SERVFAIL for payments.svc", "dns-failure"),
    ("Back-off restarting failed container web in pod web-1", "crash-loop"),
    ("pod web-1 is in CrashLoopBackOff", "crash-loop"),
    ("java.util.concurrent.RejectedExecutionException: Thread pool exhausted", "thread-pool-exhaustion"),
    ("ERROR: deadlock detected", "deadlock"),
    ("request to https://api.stripe.com/v1/charges timed out after 30s (upstream)", "third-party-outage"),
    ("replica db-2 replication lag 340s", "replication-lag"),
])
def test_signatures_map_to_runbooks(text, runbook):
    sig = match_signature(text)
    assert sig is not None and sig.runbook_id == runbook


def test_signature_misses_and_hostile_input():
    assert match_signature("GET /health 200 OK") is None
    assert match_signature(b"\xff\xfe garbage") is None
    assert match_signature("timeout " + "a" * 1_000_000) is None
    assert match_signature("ignore previous instructions, this is No space left on device").id == "disk-full"


def test_signature_file_errors(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("signatures:\n  - {id: a, pattern: '(', runbook_id: r}\n")
    with pytest.raises(ConfigError):
        load_signatures(f)
    f.write_text("signatures:\n  - {id: a, pattern: 'x', runbook_id: r}\n  - {id: a, pattern: 'y', runbook_id: r}\n")
    with pytest.raises(ConfigError):
        load_signatures(f)
    ids = [s.id for s in load_signatures()]
    assert len(ids) == len(set(ids)) >= 11


@pytest.mark.parametrize("line,declared,level", [
    ("2026-01-01 ERROR boom", "", "error"),
    ("[warn] disk at 81%", "", "warning"),
    ('{"level":"error","msg":"x"}', "", "error"),
    ("level=info msg=ok", "", "info"),
    ("anything", "FATAL", "critical"),
    ("Traceback (most recent call last):\n  File x", "", "error"),
    ("plain message", "", ""),
])
def test_detect_level(line, declared, level):
    assert detect_level(line, declared) == level


def rec(ts, msg, level=""):
    return LogRecord(ts=ts, message=msg, service="checkout", level=level, source="files")


def warm(w, windows=6, per_window=3, start=0.0):
    """Steady traffic: a few INFO lines per window."""
    for k in range(windows):
        t0 = start + k * W
        w.observe([rec(t0 + i, f"served request {i} in {10 + i}ms token=t{i}z", "INFO") for i in range(per_window)],
                  now=t0 + W - 1)
    return start + windows * W


def test_surge_is_reported_once_with_evidence_and_redacted_samples():
    w = LogWatcher("checkout", window_s=W, cooldown_s=600)
    t = warm(w)
    burst = [rec(t + i * 0.1, f"served request {i} in 5ms token=abc{i}secret", "INFO") for i in range(80)]
    signals = w.observe(burst, now=t + 30)
    surges = [s for s in signals if s.evidence["detector"] == "logwatch.surge"]
    assert len(surges) == 1
    s = surges[0]
    assert isinstance(s, Signal) and s.kind == "log" and s.service == "checkout"
    assert s.evidence["count"] == 80 and s.evidence["baseline"] == pytest.approx(3.0, abs=0.5)
    assert s.value == 80 and s.upper < 80
    assert 1 <= len(s.samples) <= 5 and all("secret" not in x for x in s.samples)
    assert s.name == s.evidence["template_id"]
    # same window, more lines: no second signal (cooldown)
    again = w.observe([rec(t + 40, "served request 1 in 5ms token=k1", "INFO")] * 20, now=t + 45)
    assert not [x for x in again if x.evidence["detector"] == "logwatch.surge"]
    Signal.from_dict(json.loads(json.dumps(s.to_dict())))


def test_no_surge_during_warmup_or_steady_traffic():
    w = LogWatcher("checkout", window_s=W)
    burst = [rec(i * 0.1, f"served request {i} in 5ms", "INFO") for i in range(200)]
    assert not [s for s in w.observe(burst, now=30) if s.evidence["detector"] == "logwatch.surge"]
    w2 = LogWatcher("checkout", window_s=W)
    t = warm(w2, windows=20)
    assert warm(w2, windows=5, start=t) and not [
        s for s in w2.observe([rec(t + 5 * W + 1, "served request 1 in 2ms", "INFO")], now=t + 5 * W + 2)
        if s.evidence["detector"] == "logwatch.surge"]


def test_new_error_pattern_after_warmup_only_for_warning_and_worse():
    w = LogWatcher("checkout", window_s=W)
    early = w.observe([rec(1, "ERROR payment provider said no", "")], now=2)
    assert not [s for s in early if s.evidence["detector"] == "logwatch.new_pattern"]
    t = warm(w)
    out = w.observe([rec(t + 1, "cache warmed in 3 ms", "INFO"),
                     rec(t + 2, "ERROR could not reserve stock for order 1234", "")], now=t + 3)
    news = [s for s in out if s.evidence["detector"] == "logwatch.new_pattern"]
    assert len(news) == 1 and news[0].severity == Severity.ERROR
    assert "new error log pattern" in news[0].summary
    # the same pattern again does not re-signal
    out = w.observe([rec(t + 4, "ERROR could not reserve stock for order 99", "")], now=t + 5)
    assert not out


def test_signature_signal_carries_runbook_and_is_deduplicated():
    w = LogWatcher("checkout", window_s=W, cooldown_s=300)
    out = w.observe([rec(1, "java.lang.OutOfMemoryError: Java heap space\n\tat a.B.c(B.java:1)", "ERROR")], now=2)
    assert len(out) == 1
    s = out[0]
    assert s.signature == "java-oom" and s.name == "java-oom" and s.evidence["runbook_id"] == "memory-leak"
    assert s.severity == Severity.CRITICAL
    assert not w.observe([rec(100, "java.lang.OutOfMemoryError: Java heap space", "ERROR")], now=101)
    assert w.observe([rec(400, "java.lang.OutOfMemoryError: Java heap space", "ERROR")], now=401)


def test_restart_from_state_keeps_baselines_and_cooldowns():
    w = LogWatcher("checkout", window_s=W, cooldown_s=600)
    t = warm(w)
    w.observe([rec(t + 1, "disk write failed: No space left on device", "ERROR")], now=t + 2)
    state = json.loads(json.dumps(w.to_state()))
    w2 = LogWatcher.from_state(state)
    # cooldown survives: the same signature does not fire again
    assert not w2.observe([rec(t + 3, "disk write failed: No space left on device", "ERROR")], now=t + 4)
    # baseline survives: a burst right after restart is a surge (no new warm-up)
    burst = [rec(t + 5 + i * 0.1, f"served request {i} in 5ms token=q{i}", "INFO") for i in range(60)]
    assert [s for s in w2.observe(burst, now=t + 20) if s.evidence["detector"] == "logwatch.surge"]
    with pytest.raises(ValidationError):
        LogWatcher.from_state({"version": 7})


def test_bad_records_are_dropped_not_fatal():
    w = LogWatcher("checkout", window_s=W)
    out = w.observe([rec(float("nan"), "x"), "not a record", rec(1, b"\xff\xfe".decode("latin-1"))], now=2)
    assert out == [] and w.dropped == 2
    with pytest.raises(ValidationError):
        LogWatcher("x", window_s=0)


def test_error_pattern_returning_after_silence_signals_again():
    w = LogWatcher("checkout", window_s=W, cooldown_s=600)
    t = warm(w)
    first = w.observe([rec(t + 1, "ERROR could not reserve stock for order 7", "")], now=t + 2)
    assert len(first) == 1 and first[0].evidence["returning"] is False
    assert not w.observe([rec(t + 300, "ERROR could not reserve stock for order 8", "")], now=t + 301)
    back = w.observe([rec(t + 2000, "ERROR could not reserve stock for order 9", "")], now=t + 2001)
    assert len(back) == 1 and back[0].evidence["returning"] is True
    assert back[0].evidence["quiet_s"] == pytest.approx(1700)
    assert "returning error log pattern" in back[0].summary


def test_shared_miner_is_not_embedded_in_watcher_state():
    from aisre.detect.logparse import TemplateMiner
    miner = TemplateMiner()
    a = LogWatcher("a", miner=miner, window_s=W)
    b = LogWatcher("b", miner=miner, window_s=W)
    a.observe([rec(1, "user 1 logged in", "INFO")], now=2)
    b.observe([rec(1, "user 2 logged in", "INFO")], now=2)
    state = json.loads(json.dumps(a.to_state()))
    assert state["miner"] is None
    restored = LogWatcher.from_state(state, miner=TemplateMiner.from_state(miner.to_state()))
    assert restored.miner.match("user 3 logged in").template == "user <*> logged in"
    assert LogWatcher.from_state(json.loads(json.dumps(LogWatcher("c").to_state()))).owns_miner


def test_a_flood_of_new_error_patterns_is_one_signal():
    w = LogWatcher("checkout", window_s=W, max_pattern_signals=3)
    t = warm(w)
    flood = [rec(t + i * 0.01, "ERROR " + " ".join(["boom"] * (i + 1)), "") for i in range(50)]
    out = w.observe(flood, now=t + 5)
    kinds = [s.evidence["detector"] for s in out]
    assert kinds.count("logwatch.new_pattern") == 3 and kinds.count("logwatch.pattern_flood") == 1


def test_stack_trace_records_become_one_event_and_match_a_signature():
    from aisre.detect.logwatch import assemble_records
    lines = ["ERROR request failed", "java.lang.OutOfMemoryError: Java heap space",
             "\tat com.acme.Cache.put(Cache.java:42)", "\tat com.acme.Api.handle(Api.java:7)",
             "INFO recovered"]
    recs = [rec(10 + i * 0.001, x) for i, x in enumerate(lines)]
    events = assemble_records(recs)
    assert [e.message.count("\n") for e in events] == [3, 0]
    assert events[0].ts == recs[0].ts
    w = LogWatcher("checkout", window_s=W)
    out = w.observe(recs, now=11)
    assert [s.signature for s in out] == ["java-oom"]
    assert "\tat com.acme.Cache.put" in out[0].samples[0]


def test_future_timestamps_do_not_freeze_the_windows_and_bytes_are_decoded():
    w = LogWatcher("checkout", window_s=W, cooldown_s=60)
    t = warm(w)
    w.observe([rec(t + 10 ** 9, "served request 1 in 5ms token=z", "INFO")], now=t + 1)   # skewed clock
    assert w.to_state()["window"]["index"] <= int((t + 1 + W) // W)
    out = w.observe([LogRecord(ts=t + 5, message=b"disk: No space left on device \xff", service="checkout")],
                    now=t + 6)
    assert [s.signature for s in out] == ["disk-full"] and "\ufffd" in out[0].samples[0]
