"""Regression tests for the bugs the reliability work found (each named in bench/results/fuzz.md or
RELIABILITY.md)."""
from __future__ import annotations

import threading

import pytest

from aisre.config import load_config
from aisre.errors import ConfigError, StateError, ValidationError
from aisre.models import Incident, Signal
from aisre.state import FileStore, MemoryStore, claim
from plugins.reliability_world import T0, make_runtime, memory_signal

BASE = {"id": "s1", "kind": "alert", "source": "x", "service": "checkout", "name": "HighErrorRate", "summary": "x"}


@pytest.mark.parametrize("field,value", [("service", [None]), ("name", {"a": 1}), ("summary", 7), ("ts", "soon"),
                                         ("ts", True), ("samples", "not a list"), ("resolved", "yes")])
def test_trigger_payload_with_a_wrong_type_is_a_validation_error_naming_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        Signal.from_dict({**BASE, field: value})
    assert f"Signal.{field}" in str(err.value)


def test_null_for_a_required_field_is_refused_and_for_a_defaulted_field_means_the_default():
    with pytest.raises(ValidationError) as err:
        Signal.from_dict({**BASE, "service": None})
    assert "Signal.service may not be null" in str(err.value)
    assert Signal.from_dict({**BASE, "severity": None, "labels": None}).severity.value == "warning"
    assert Signal.from_dict({**BASE, "onset_ts": None}).onset_ts is None          # Optional keeps None


def test_incident_json_round_trip_still_works():
    sig = Signal.from_dict({**BASE, "ts": 5, "labels": {"a": "b"}})
    inc = Incident(id="i", fingerprint="f", service="checkout", signals=(sig,), opened_at=1.0, updated_at=2.0)
    assert Incident.from_json(inc.to_json()) == inc


def test_config_environment_must_be_a_string():
    with pytest.raises(ConfigError) as err:
        load_config({"environment": [None]})
    assert err.value.path == "environment"


@pytest.mark.parametrize("make", [lambda p: MemoryStore(), lambda p: FileStore(str(p / "s.json"))])
def test_claim_is_won_by_exactly_one_of_many_threads(make, tmp_path):
    store, winners = make(tmp_path), []
    barrier = threading.Barrier(8)

    def go(i):
        barrier.wait()
        if claim(store, "aisre.dedup.x", f"t{i}", ttl_s=60):
            winners.append(i)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and store.get("aisre.dedup.x") == f"t{winners[0]}"


def test_two_filestores_on_one_file_share_claims(tmp_path):
    a, b = FileStore(str(tmp_path / "s.json")), FileStore(str(tmp_path / "s.json"))
    assert claim(a, "k", "a") and not claim(b, "k", "b")
    a.delete("k")
    assert claim(b, "k", "b")


def test_claim_expires_with_its_ttl():
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    assert claim(store, "k", "1", ttl_s=10) and not claim(store, "k", "2", ttl_s=10)
    now[0] = 11
    assert claim(store, "k", "2", ttl_s=10)


def test_a_repeated_signal_id_starts_no_second_workflow(rel_audit_path):
    rt = make_runtime(MemoryStore(), audit_path=rel_audit_path)
    first, again = rt.correlate(memory_signal()), rt.correlate(memory_signal())
    assert not first["skip"] and first["is_new"]
    assert again["skip"] and again["duplicate"] and again["incident_id"] == first["incident_id"]


class DownAfterDrain(MemoryStore):
    """The datastore dies right after the agent drained its outbox (before the signals were handled)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.down = False
        self.armed = True

    def _gate(self):
        if self.down:
            raise StateError("datastore unavailable")

    def get(self, key):
        self._gate()
        return super().get(key)

    def set(self, key, value, ttl_s=None):
        self._gate()
        super().set(key, value, ttl_s=ttl_s)

    def delete(self, key):
        self._gate()
        super().delete(key)
        if key.startswith("aisre.outbox.") and self.armed:
            self.down, self.armed = True, False


def test_the_standalone_agent_keeps_signals_it_could_not_handle_while_the_store_was_down(tmp_path):
    from aisre.sim import Fleet, load_scenario
    from aisre.sim.drill import make_agent
    from plugins.reliability_world import shared_retriever
    fleet = Fleet(load_scenario("memory-leak"), seed=7)
    store = DownAfterDrain(clock=fleet.clock)
    agent = make_agent(fleet, retriever=shared_retriever(), audit_path=str(tmp_path / "audit.jsonl"), store=store)
    kept = []
    for _ in range(200):
        fleet.advance(30)
        try:
            agent.tick(fleet.clock())
        except StateError:
            pass                                   # the follow-up step may fail too while the store is down
        if store.down:
            kept = [s.id for s in agent.retry_signals]
            store.down = False                     # the datastore comes back
            break
    assert kept, "signals drained before the store died are kept, not lost"
    fleet.advance(30)
    agent.tick(fleet.clock())
    handled = {s.id for inc in agent.incidents.values() for s in inc.signals}
    assert agent.retry_signals == [] and set(kept) <= handled


def test_a_webhook_label_of_the_wrong_type_is_refused_naming_the_field():
    import json
    import pathlib
    from aisre.sources.webhooks import normalise
    body = json.loads((pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "webhooks" / "argocd" /
                       "app_degraded.json").read_text())
    body["app"]["metadata"]["labels"] = {"service": -1}
    with pytest.raises(ValidationError) as err:
        normalise("argocd", body, now=T0)
    assert "argocd" in str(err.value) and "service" in str(err.value)


def test_a_yaml_date_out_of_range_is_a_validation_error_in_runbooks_configs_and_scenarios(tmp_path):
    from aisre.knowledge.loader import load_runbook
    from aisre.sim import load_scenario
    bad = tmp_path / "rb.yaml"
    bad.write_text("id: 2026-13-45T25:61:61Z\ntitle: x\n")
    with pytest.raises(ValidationError) as err:
        load_runbook(bad)
    assert str(bad) in str(err.value) and "invalid YAML value" in str(err.value)
    with pytest.raises(ConfigError):
        load_config(path=str(bad))
    with pytest.raises(ValidationError):
        load_scenario(str(bad))


DEEP = "[" * 100_000


def test_absurdly_nested_json_is_a_typed_error_everywhere_outside_json_enters():
    import responses
    from aisre.analysis.llm import parse_json_object
    from aisre.errors import IntegrationError
    from aisre.sources.http import RetryPolicy
    from aisre.sources.normalize import json_fields
    from aisre.sources.prometheus import PrometheusSource
    from aisre.sources.webhooks import normalise
    with pytest.raises(ValidationError, match="nested too deeply"):
        normalise("datadog", DEEP)
    with pytest.raises(ValidationError, match="nested too deeply"):
        parse_json_object('{"a": ' + DEEP + "}")
    with pytest.raises(ValidationError, match="nested too deeply"):
        Incident.from_json(DEEP)
    assert json_fields("{" + '"a":' * 1 + DEEP + "}") is None
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "http://p.test/api/v1/query_range", body=DEEP, content_type="application/json")
        with pytest.raises(IntegrationError):
            PrometheusSource("http://p.test", retry=RetryPolicy(attempts=1)).query_range("up", 0, 600, 60)
