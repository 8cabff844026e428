"""Scenario files: the shipped set validates and covers the catalogue; bad files fail clearly."""
import copy

import pytest
import yaml

from aisre.errors import ValidationError
from aisre.sim import FAULT_TYPES, list_scenarios, load_scenario, scenario_from_dict
from aisre.sim.scenario import SCENARIO_DIR

CATALOGUE = ("memory-leak", "crash-loop", "bad-deploy", "disk-full", "db-connection-exhaustion", "db-runaway-query",
             "db-primary-failure", "cache-saturation", "queue-backlog", "traffic-spike", "stuck-batch-job",
             "unhealthy-node", "cpu-saturation", "oom-killed", "third-party-outage", "transient-glitch",
             "feature-flag-regression", "certificate-expiry", "dns-failure", "db-slow-queries",
             "thread-pool-exhaustion", "config-regression", "az-network-partition", "unknown-error-surge",
             "replication-lag")


def test_at_least_twenty_scenarios_cover_the_runbook_catalogue():
    names = list_scenarios()
    assert len(names) >= 20
    scenarios = [load_scenario(n) for n in names]
    covered = {rb for sc in scenarios for rb in sc.expect.runbooks}
    assert set(CATALOGUE) <= covered
    assert {f.type for sc in scenarios for f in sc.faults} == set(FAULT_TYPES)


def test_case_studies_and_special_drills_say_what_a_sound_agent_does():
    leak = load_scenario("memory-leak").expect
    assert leak.known_pattern and leak.actions == ("restart_deployment",) and leak.runbook == "memory-leak"
    report = load_scenario("db-report-query").expect
    assert report.escalated and report.needs_approval and not report.known_pattern
    assert set(report.evidence_contains) == {"48213", "quarterly_revenue_report"}
    deploy = load_scenario("bad-deploy").expect
    assert deploy.known_pattern and "rollback_deployment" in deploy.actions
    for name in ("unknown-error-surge", "unknown-latency-collapse"):
        ex = load_scenario(name).expect
        assert ex.unknown_critical and ex.escalated and ex.max_escalate_s == 180 and not ex.actions
    for name in ("transient-glitch", "transient-latency-blip", "log-injection"):
        ex = load_scenario(name).expect
        assert ex.transient and not ex.actions and not ex.escalated
    assert load_scenario("db-primary-failure").expect.max_incidents == 1          # the cascade
    assert load_scenario("steady-state").expect.detected is False
    known = [load_scenario(n) for n in list_scenarios() if load_scenario(n).expect.known_pattern]
    assert len(known) >= 12


def test_load_by_path_and_unknown_names(tmp_path):
    path = SCENARIO_DIR / "bad-deploy.yaml"
    assert load_scenario(str(path)).name == "bad-deploy"
    assert load_scenario(path).source_path == str(path)
    with pytest.raises(ValidationError, match="not found .*memory-leak"):
        load_scenario("no-such-drill")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ValidationError, match="broken.yaml: not valid YAML"):
        load_scenario(broken)


GOOD = yaml.safe_load((SCENARIO_DIR / "bad-deploy.yaml").read_text())


def _mutate(path, value):
    doc = copy.deepcopy(GOOD)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize("path,value,message", [
    (("faults", 0, "type"), "memroy_leak", "faults[0].type: 'memroy_leak' is not a known fault type"),
    (("faults", 0, "service"), "ghost", "faults[0].service: 'ghost' is not a service"),
    (("faults", 0, "params"), {"verison": "x"}, "faults[0].params: unknown key(s) verison"),
    (("faults", 0, "start"), "ten minutes", "faults[0].start: expected a duration"),
    (("services", 0, "depends_on"), ["nope"], "services[0].depends_on: 'nope' is not a service"),
    (("services", 0, "role"), "mainframe", "services[0].role: 'mainframe' is not a role"),
    (("services", 0, "baseline"), {"memroy_pct": 3}, "services[0].baseline: unknown key(s) memroy_pct"),
    (("services", 0, "baseline"), {"cpu_pct": "high"}, "services[0].baseline.cpu_pct: expected a number"),
    (("services", 0, "replicas"), 0, "services[0].replicas: must be at least 1"),
    (("services", 0, "target"), {"kind": "kubernetes"}, "services[0].target.kind"),
    (("services",), [], "services: expected a non-empty list"),
    (("name",), KeyError, "name: is required"),
    (("name",), "Bad Name", "must be lower-case"),
    (("duration",), "-5m", "must be positive"),
    (("expect", "classification"), "kinda", "expect.classification: 'kinda' is not one of"),
    (("expect", "resolved"), "yes", "expect.resolved: expected true or false"),
    (("expect", "surprise"), 1, "expect: unknown key(s) surprise"),
    (("changes", 0, "kind"), "hotfix", "changes[0].kind: 'hotfix' is not a change kind"),
    (("extra",), 1, "(top): unknown key(s) extra"),
])
def test_bad_scenarios_fail_with_the_path(path, value, message):
    with pytest.raises(ValidationError) as info:
        scenario_from_dict(_mutate(path, value), origin="bad.yaml")
    assert "scenario bad.yaml" in str(info.value)
    assert message in str(info.value)


def test_resolved_without_an_action_is_rejected():
    doc = _mutate(("expect", "action"), "none")
    with pytest.raises(ValidationError, match="needs the action"):
        scenario_from_dict(doc)


def test_not_a_mapping():
    with pytest.raises(ValidationError, match="expected a mapping"):
        scenario_from_dict(["a", "list"])
