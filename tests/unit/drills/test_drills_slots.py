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


def test_preconditions_read_a_metric_on_the_incident_service_that_has_it():
    act = RunbookAction(action="redis_unlink_pattern", params={"pattern": "tmp:*"},
                        preconditions=("cache_memory_pct > 90",))
    inc = _inc([_sig("sessions-cache", "cache_memory_pct", kind="metric", ts=100),
                _sig("checkout", "oom", severity=Severity.ERROR, signature="OOM command not allowed", ts=200)])
    values = {("sessions-cache", "cache_memory_pct"): 95.0, ("checkout", "error_rate"): 0.2}
    plain = lambda s, m: values.get((s, m))  # noqa: E731
    assert not steps.preconditions_hold(act, "checkout", plain).ok           # checkout has no cache metric
    reader = steps.IncidentReader(plain, inc)
    assert steps.preconditions_hold(act, "checkout", reader).ok
    assert reader("checkout", "error_rate") == 0.2 and reader("checkout", "disk_pct") is None


def test_percent_thresholds_use_the_capacity_of_the_service_that_answered():
    act = RunbookAction(action="restart_deployment", preconditions=("thread_pool_active >= 95%",))
    inc = _inc([_sig("api", "thread_pool_active", kind="metric")], service="api")
    values = {("api", "thread_pool_active"): 107.0}
    caps = {("api", "thread_pool_active"): 200.0}
    live = steps.LiveReader(lambda s, m: values.get((s, m)), lambda s, m: caps.get((s, m)))
    assert not steps.preconditions_hold(act, "api", steps.IncidentReader(live, inc)).ok     # 53.5 % of 200
    values[("api", "thread_pool_active")] = 195.0
    assert steps.preconditions_hold(act, "api", steps.IncidentReader(live, inc)).ok         # 97.5 %
    # without a capacity the number is compared as it is
    assert steps.preconditions_hold(act, "api", lambda s, m: 96.0).ok
