"""Open runbook parameters are filled from the incident's evidence, or the request is not made."""
from __future__ import annotations

from aisre import slots, steps
from aisre.config import load_config
from aisre.models import (Change, Classification, Diagnosis, Incident, Runbook, RunbookAction, Severity, Signal,
                          Symptoms, MetricPattern)


def _sig(service, name, samples=(), ts=100.0, **kw):
    return Signal(id=f"s-{service}-{name}-{ts}", kind=kw.pop("kind", "log"), source="sim", service=service, name=name,
                  summary=name, ts=ts, samples=tuple(samples), **kw)


def _inc(signals, changes=(), service="checkout"):
    return Incident(id="inc-1", fingerprint="fp", service=service, services=tuple({s.service for s in signals}),
                    signals=tuple(signals), changes=tuple(changes))


def test_flag_comes_from_the_flag_change_description_or_version():
    inc = _inc([_sig("checkout", "err")], [Change(id="c1", service="checkout", kind="feature_flag", ts=50,
                                                  description="new-pricing-engine: 10% -> 100%")])
    assert slots.fill({"flag": "{{ flag }}", "value": False}, inc, "checkout") == (
        {"flag": "new-pricing-engine", "value": False}, [])
    inc2 = _inc([_sig("checkout", "err")], [Change(id="c2", service="checkout", kind="feature_flag", ts=50,
                                                   version="dark-mode=true", previous_version="dark-mode=false",
                                                   description="flag dark-mode false -> true")])
    assert slots.find("flag", inc2, "checkout") == "dark-mode"


def test_node_and_zone_come_from_sampled_log_lines():
    inc = _inc([_sig("search", "kubelet", ["kubelet: node ip-10-0-3-17 status is now: NodeNotReady",
                                           "timeout talking to eu-west-1b"])], service="search")
    assert slots.find("node", inc, "search") == "ip-10-0-3-17"
    assert slots.find("zone", inc, "search") == "eu-west-1b"


def test_hostile_or_missing_values_leave_the_slot_open():
    inc = _inc([_sig("search", "x", ["node $(rm -rf /) is bad", "no zone here"])], service="search")
    params, still_open = slots.fill({"node": "{{ node }}", "zone": "{{ zone }}", "grace": 10}, inc, "search")
    assert still_open == ["node", "zone"] and params["grace"] == 10
    assert slots.fill({"x": "{{ unknown_slot }}"}, inc, "search")[1] == ["x"]


def _runbook(params, metric="error_rate", pre=()):
    act = RunbookAction(action="flag_toggle", params=params, preconditions=tuple(pre))
    return Runbook(id="feature-flag-regression", title="flag", description="", actions=(act,),
                   symptoms=Symptoms(metrics=(MetricPattern(metric=metric, condition="rising"),)))


def _diag(action="flag_toggle", params=None):
    return Diagnosis(classification=Classification.KNOWN, severity=Severity.ERROR, summary="flag regression",
                     runbook_id="feature-flag-regression", proposed_action=action,
                     action_params=dict(params or {}))


def test_build_request_fills_the_slot_and_refuses_an_unfillable_one():
    config = load_config({})
    rb = _runbook({"flag": "{{ flag }}", "value": False})
    with_change = _inc([_sig("checkout", "error_rate", kind="metric")],
                       [Change(id="c1", service="checkout", kind="feature_flag", ts=50,
                               description="new-pricing-engine: 10% -> 100%")])
    req = steps.build_request(with_change, _diag(), rb, config)
    assert req is not None and req.params == {"flag": "new-pricing-engine", "value": False}
    without = _inc([_sig("checkout", "error_rate", kind="metric")])
    assert steps.build_request(without, _diag(), rb, config) is None
    # a model's template text never fills a slot
    assert steps.build_request(without, _diag(params={"flag": "{{ flag }}"}), rb, config) is None


def test_action_service_prefers_the_service_with_the_runbook_metric():
    rb = _runbook({"flag": "x", "value": False}, metric="cache_memory_pct", pre=("cache_memory_pct > 90",))
    rb = Runbook(id="cache-saturation", title="c", description="", actions=rb.actions,
                 symptoms=Symptoms(metrics=rb.symptoms.metrics, log_signatures=("OOM command not allowed",)))
    inc = _inc([_sig("sessions-cache", "cache_memory_pct", kind="metric", ts=100),
                _sig("checkout", "oom", severity=Severity.ERROR, signature="OOM command not allowed", ts=200)])
    assert steps.action_service(inc, rb) == "sessions-cache"
    values = {("sessions-cache", "cache_memory_pct"): 95.0}
    assert steps.action_service(inc, rb, lambda s, m: values.get((s, m))) == "sessions-cache"
