"""`aisre watch` (shadow mode) against a real Prometheus: it records what it would do and acts on nothing."""
import json

import pytest
import yaml

from aisre import cli
from plugins.prometheus_server import history_end

QUERY = 'container_memory_pct{service="checkout"}'
pytestmark = pytest.mark.services


def leak(end):
    start = end - 3 * 3600
    return [(start + 60 * i, 40.0 + (0.5 if i % 2 else -0.3) + (0.7 * (i - 120) if i >= 120 else 0.0))
            for i in range(181)]


def test_watch_records_would_have_done_entries_without_acting(prometheus_with, fake_kube, tmp_path, capsys):
    prom = prometheus_with({QUERY: leak(history_end())})
    fake_kube.add_deployment("checkout", ns="shop")
    cfg = {
        "environment": "shadow-test",
        "sources": {"prometheus": {"url": prom.url}},
        "services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": QUERY, "capacity": 100}],
                      "target": {"kind": "kubernetes", "name": "checkout", "namespace": "shop"}}],
        "detection": {"lookback_minutes": 300, "step_s": 60},
        "targets": {"kubernetes": {"host": fake_kube.url, "token": "t", "verify_ssl": False}},
        "safety": {"mode": "autonomous"},           # watch forces shadow whatever the file says
    }
    path = tmp_path / "aisre.yaml"
    path.write_text(yaml.safe_dump(cfg))
    ledger = tmp_path / "ledger.jsonl"
    rc = cli.main(["watch", "--config", str(path), "--once", "--ledger", str(ledger),
                   "--state", str(tmp_path / "state.json"), "--audit", str(tmp_path / "audit.jsonl")])
    assert rc == 0
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert entries, capsys.readouterr().err
    assert entries[0]["service"] == "checkout" and entries[0]["runbook"] == "memory-leak"
    assert entries[0]["would"] == "restart_deployment"
    assert not [c for c in fake_kube.calls if c.method != "GET"]          # nothing was touched
    assert "would: restart_deployment on checkout" in capsys.readouterr().err
