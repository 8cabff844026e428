import json

import responses

from aisre.config import load_config
from aisre.health import alert, check, fallback_notifiers, record_heartbeat, sensor_health
from aisre.models import Receipt
from aisre.notify.dispatch import Dispatcher
from aisre.sensing import SensorCore
from aisre.state import MemoryStore

HOOK = "https://hooks.example.test/aisre-fallback"


class Recorder:
    channel = "slack"

    def __init__(self):
        self.sent = []

    def send(self, notification, incident=None):
        self.sent.append(notification)
        return Receipt(channel=self.channel, ok=True)


class BrokenSource:
    name = "prometheus"

    def query_range(self, *a, **kw):
        from aisre.errors import SourceDown
        raise SourceDown("connection refused", integration="prometheus")


def cfg(**extra):
    return load_config({"services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": "q"}]}],
                        "detection": {"poll_interval_s": 60}, **extra})


def test_heartbeat_states():
    store, now = MemoryStore(), 10_000.0
    assert sensor_health(store, now, max_age_s=300, expected={"metrics"})[0].state == "never ran"
    record_heartbeat(store, "metrics", now=now - 30, polled=4, points=100, errors=(), sent=2)
    ok = sensor_health(store, now, max_age_s=300)[0]
    assert ok.ok and ok.state == "ok" and "2 signals" in ok.detail
    record_heartbeat(store, "metrics", now=now - 20, polled=4, points=10, errors=["checkout:memory_pct: timeout"])
    assert sensor_health(store, now, max_age_s=300)[0].state == "degraded"
    record_heartbeat(store, "metrics", now=now - 10, polled=0, points=0, errors=(), fatal="ConfigError: bad")
    failing = sensor_health(store, now, max_age_s=300)[0]
    assert not failing.ok and failing.state == "failing" and "ConfigError" in failing.detail
    stale = sensor_health(store, now + 3600, max_age_s=300)[0]
    assert not stale.ok and stale.state == "stale"


def test_sensor_core_survives_a_dead_source_and_says_so():
    store = MemoryStore(clock=lambda: 5000.0)
    core = SensorCore("metrics", cfg(), store, clock=lambda: 5000.0, sources={"prometheus": BrokenSource()})
    sent = core.poll(lambda trigger, payload: None)   # never raises
    assert sent == 0
    report = check(cfg(), store, now=5001.0, probe_sources=False)
    sensor = next(c for c in report.components if c.name == "metrics sensor")
    assert sensor.state == "failing" and "connection refused" in sensor.detail
    assert "BAD failing" in report.table()


def test_bad_config_does_not_kill_the_sensor():
    store = MemoryStore()
    core = SensorCore("metrics", {"safety": {"mode": "yolo"}}, store)
    core.poll(lambda t, p: None)
    beat = json.loads(store.get("aisre.heartbeat.metrics_sensor"))
    assert "ConfigError" in beat["last_error"]


@responses.activate
def test_stale_sensor_pages_through_both_routes_once():
    responses.add(responses.POST, HOOK, json={"ok": True})
    config = cfg(notify={"fallback_webhook": {"url": HOOK, "token": "fallback-secret"}})
    store, now = MemoryStore(clock=lambda: 100_000.0), 100_000.0
    record_heartbeat(store, "metrics", now=now - 3600, polled=1, points=1, errors=())
    report = check(config, store, now=now, probe_sources=False)
    assert not report.ok and [c.state for c in report.problems] == ["stale"]
    slack = Recorder()
    dispatcher = Dispatcher([slack], store=store)
    receipts = alert(report, dispatcher=dispatcher, fallback=fallback_notifiers(config), store=store)
    assert {r.channel for r in receipts if r.ok} == {"slack", "webhook"}
    assert len(responses.calls) == 1 and "metrics sensor" in responses.calls[0].request.body.decode()
    assert slack.sent[0].kind == "escalated" and "stale" in slack.sent[0].text
    alert(check(config, store, now=now + 60, probe_sources=False), dispatcher=dispatcher,
          fallback=fallback_notifiers(config), store=store)
    assert len(responses.calls) == 1 and len(slack.sent) == 1   # deduplicated on both routes


def test_healthy_agent_pages_nobody():
    store = MemoryStore()
    record_heartbeat(store, "metrics", now=1000.0, polled=1, points=1, errors=())
    report = check(cfg(), store, now=1010.0, probe_sources=False)
    assert report.ok
    assert alert(report, dispatcher=Dispatcher([Recorder()], store=store), fallback=[], store=store) == []
