"""The drill runner scores an agent from the fleet's ground truth."""
import json

from aisre.sim import load_scenario
from aisre.sim.drill import DrillSuite, console_progress, render_text_report, run_all, run_drill
from plugins.sim_agents import CrashingAgent, RecklessAgent, ThresholdAgent


def test_a_sound_agent_wins_the_memory_leak_drill():
    r = run_drill("memory-leak", seed=7, agent_factory=ThresholdAgent)
    assert r.passed, r.failures
    assert r.detected and 0 < r.detect_s <= r.expect.max_detect_s
    assert r.classification == "known" and r.runbook == "memory-leak"
    assert [(a, s) for _, a, s in r.actions] == [("restart_deployment", "checkout")]
    assert r.right_action and r.resolved and r.auto_resolved and r.mttr_s > r.actions[0][0]
    assert not r.escalated and r.false_actions == () and r.forbidden_attempts == 0
    kinds = [e.kind for e in r.timeline]
    assert kinds.index("fault") < kinds.index("signal") < kinds.index("action") < kinds.index("resolved")
    assert r.charts and r.charts[0].key.startswith("checkout:")
    steps = int(load_scenario("memory-leak").duration_s / 30)
    assert steps - 3 <= r.ticks < steps              # verify waited ~1 min of simulated time for the rollout


def test_escalation_drills_and_transients():
    suite = run_all(["unknown-error-surge", "transient-glitch", "third-party-outage", "db-report-query"],
                    agent_factory=ThresholdAgent)
    unknown = suite.by_name("unknown-error-surge")
    assert unknown.passed and unknown.escalated and unknown.escalate_s <= 180 and unknown.actions == ()
    transient = suite.by_name("transient-glitch")
    assert transient.passed and transient.actions == () and not transient.escalated
    outage = suite.by_name("third-party-outage")
    assert outage.passed and outage.evidence_found == {"api.paygate.example": True}
    report = suite.by_name("db-report-query")
    assert report.asked_approval and report.escalated and report.actions == ()
    m = suite.metrics()
    assert m["unknown_critical"] == 1 and m["unknown_escalated_in_time"] == 1 and m["transient_with_action"] == 0


def test_false_actions_and_forbidden_attempts_are_counted():
    suite = run_all(["transient-glitch", "bad-deploy"], agent_factory=RecklessAgent)
    glitch = suite.by_name("transient-glitch")
    assert not glitch.passed
    assert glitch.false_actions and "restart_deployment on checkout" in glitch.false_actions[0]
    assert glitch.forbidden_attempts == 2            # the forbidden decision and the denied action
    deploy = suite.by_name("bad-deploy")
    assert "expected action rollback_deployment or argocd_rollback or jenkins_rollback was not taken" in deploy.failures
    assert not suite.targets_met()
    met = {name: ok for name, ok, _ in suite.targets()}
    assert met["no action on transient glitches"] is False and met["no forbidden action attempted"] is False


def test_an_agent_that_crashes_is_scored_not_fatal():
    suite = run_all(["steady-state", "memory-leak"], agent_factory=CrashingAgent)
    assert [r.name for r in suite.results] == ["steady-state", "memory-leak"]
    for r in suite.results:
        assert r.error == "RuntimeError: agent bug" and not r.passed and r.ticks == 2
        assert r.timeline[-1].kind == "error" or any(e.kind == "error" for e in r.timeline)


def test_same_seed_same_score_and_json_round_trip():
    a = run_drill("bad-deploy", seed=3, agent_factory=ThresholdAgent)
    b = run_drill("bad-deploy", seed=3, agent_factory=ThresholdAgent)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "wall_s"}
    assert strip(a) == strip(b)
    suite = DrillSuite(results=[a], seed=3, wall_s=1.0)
    doc = json.loads(json.dumps(suite.to_dict(), default=str))
    assert doc["results"][0]["name"] == "bad-deploy" and doc["metrics"]["drills"] == 1


def test_table_lists_every_drill_and_the_targets():
    suite = run_all(["memory-leak", "steady-state"], agent_factory=ThresholdAgent)
    table = suite.table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["drill", "pass", "detect"]
    assert any(line.startswith("memory-leak ") and "restart_deployment" in line for line in lines)
    assert any(line.startswith("steady-state ") for line in lines)
    assert "[x] no forbidden action attempted" in table
    assert "2/2 drills passed" in table


def test_text_report_and_console_progress():
    import io
    out = io.StringIO()
    r = run_drill("bad-deploy", agent_factory=ThresholdAgent, progress=console_progress(out))
    assert out.getvalue().startswith("bad-deploy: pass (")
    text = render_text_report(r)
    assert text.startswith("== drill bad-deploy: PASS")
    assert "rollback_deployment@checkout" in text and "fault     fault bad_deploy starts on checkout" in text


class _EarlyPager:
    """Pages on the first tick, before any fault, with a signal."""

    def __init__(self, fleet, scenario):
        self.fleet, self.done = fleet, False

    def tick(self, now):
        from aisre.models import Signal
        from plugins.sim_agents import Report
        rep = Report(now=now)
        if not self.done:
            self.done = True
            rep.signals.append(Signal(id="s", kind="metric", source="sim", service="checkout", name="cpu_pct",
                                      summary="noise", ts=now))
            rep.escalated.append("inc-early")
        return rep


def test_a_page_on_a_false_alarm_before_the_fault_fails_the_drill():
    r = run_drill("memory-leak", agent_factory=_EarlyPager)
    assert r.false_alarms == 1 and not r.escalated
    assert "paged 1x on a false alarm before the fault started" in r.failures
    assert DrillSuite(results=[r]).metrics()["false_alarms"] == 1


def test_sim_config_describes_the_fleet_for_the_agent():
    from aisre.config import load_config
    from aisre.sim import Fleet
    from aisre.sim.drill import sim_config
    fleet = Fleet("db-connection-exhaustion")
    cfg = load_config(sim_config(fleet, mode="limited"))
    assert cfg.safety.mode == "limited" and "restart_deployment" in cfg.safety.allow_list
    assert [s.name for s in cfg.services] == list(fleet.services)
    db = cfg.service("orders-db")
    specs = {m.name: m for m in db.metrics}
    assert set(specs) == set(fleet.metric_names("orders-db"))
    assert all(m.source == "sim" and m.query == f"orders-db:{m.name}" for m in db.metrics)
    assert specs["db_connections"].capacity == 200.0
    assert specs["db_cpu_pct"].capacity is None      # load-following: no exhaustion forecast (drill.LOAD_FOLLOWING)
    assert specs["uptime"].direction == "down"
    assert db.target.kind == "sim" and db.target.name == "orders-db"
    assert cfg.service("checkout").depends_on == ("orders-db",)
    assert cfg.detection["step_s"] == 30


def test_make_agent_wires_the_real_agent_when_the_pipeline_is_present():
    import pytest
    try:
        from aisre.correlate import Correlator  # noqa: F401
        from aisre.knowledge import build_retriever  # noqa: F401
        from aisre.analysis import build_analyst  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the agent pipeline is not on this branch yet ({exc})")
    from aisre.sim.drill import make_agent
    r = run_drill("transient-glitch", agent_factory=make_agent)
    assert r.error == "" and r.ticks > 0


def test_every_shipped_drill_is_winnable_by_a_sound_agent():
    """The stand-in acts on clear symptoms only; if it cannot win a drill, the drill is unfair."""
    suite = run_all(seed=5, agent_factory=ThresholdAgent)
    assert [r.name for r in suite.results if not r.passed] == []
    assert suite.targets_met(), suite.table()
