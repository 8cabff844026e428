"""Guardrails.decide rules, modes, attempts, leases, rate limit, emergency stop."""
import datetime as dt
import threading

import pytest

from aisre.config import SafetyConfig
from aisre.errors import ForbiddenAction, PolicyDenied
from aisre.models import (ActionRequest, Classification, Diagnosis, Incident, Mode, Runbook, RunbookAction,
                          Safety, Severity, Target, Verdict)
from aisre.policy import AuditLog, Guardrails
from aisre.state import MemoryStore

# Saturday 2026-11-28 03:00 UTC (off peak) and Monday 2026-11-30 10:00 UTC (peak)
OFF_PEAK = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.timezone.utc).timestamp()
PEAK = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.timezone.utc).timestamp()

RUNBOOK = Runbook(id="oom", title="OOM", actions=(
    RunbookAction(action="restart_deployment"),
    RunbookAction(action="scale_deployment", params={"factor": 2}),
    RunbookAction(action="flag_toggle", params={"flag": "new-checkout", "enabled": False}),
    RunbookAction(action="rds_failover"),
    RunbookAction(action="drain_node", params={"node": "*"}),
))


class Clock:
    def __init__(self, t=OFF_PEAK):
        self.t = t

    def __call__(self):
        return self.t


def make(mode="autonomous", clock=None, store=None, **kw):
    clock = clock or Clock()
    store = store or MemoryStore(clock=clock)
    return Guardrails(SafetyConfig(mode=mode, **kw), store, clock=clock), store, clock


def incident(attempts=0, sev=Severity.ERROR):
    return Incident(id="inc-1", fingerprint="fp", service="checkout", attempts=attempts,
                    diagnosis=diag(sev=sev))


def diag(cls=Classification.KNOWN, sev=Severity.ERROR, action="restart_deployment"):
    return Diagnosis(classification=cls, severity=sev, summary="x", runbook_id="oom", proposed_action=action)


def request(action="restart_deployment", params=None, kind=None):
    kinds = {"flag_toggle": "flags", "rds_failover": "aws"}
    return ActionRequest(action=action, service="checkout", params=params or {}, incident_id="inc-1",
                         target=Target(kind=kind or kinds.get(action, "kubernetes"), name="checkout",
                                       namespace="prod"))


def decide(g, action="restart_deployment", params=None, cls=Classification.KNOWN, sev=Severity.ERROR,
           runbook=RUNBOOK, attempts=0, owner=""):
    return g.decide(incident(attempts, sev), diag(cls, sev, action), runbook, request(action, params), owner=owner)


def test_mode_off_watches():
    g, _, _ = make("off")
    d = decide(g)
    assert d.verdict is Verdict.WATCH and d.mode is Mode.OFF


def test_shadow_records_what_it_would_do():
    g, _, _ = make("shadow")
    d = decide(g)
    assert d.verdict is Verdict.RECORD and "would act" in d.reasons[0]


@pytest.mark.parametrize("sev,verdict", [(Severity.WARNING, Verdict.RECORD), (Severity.ERROR, Verdict.ESCALATE),
                                         (Severity.CRITICAL, Verdict.ESCALATE)])
def test_advisory_never_acts(sev, verdict):
    g, _, _ = make("advisory")
    assert decide(g, sev=sev).verdict is verdict


def test_limited_mode():
    g, _, _ = make("limited")
    assert decide(g).verdict is Verdict.ACT                                  # allow-listed safe
    assert decide(g, "flag_toggle", {"flag": "new-checkout", "enabled": False}).verdict is Verdict.ASK
    g2, _, _ = make("limited", allow_list=("scale_deployment",))
    assert decide(g2).verdict is Verdict.ESCALATE                            # safe but not allow-listed


def test_autonomous_safe_acts_caution_asks():
    g, _, _ = make("autonomous")
    assert decide(g).verdict is Verdict.ACT
    assert decide(g, "scale_deployment", {"factor": 2}).verdict is Verdict.ACT
    assert decide(g, "rds_failover").verdict is Verdict.ASK


def test_emergency_caution_auto_only_critical_and_off_peak():
    g, _, clock = make("autonomous", emergency_caution_auto=True)
    assert decide(g, "rds_failover", sev=Severity.CRITICAL).verdict is Verdict.ACT
    assert decide(g, "rds_failover", sev=Severity.ERROR).verdict is Verdict.ASK
    clock.t = PEAK
    d = decide(g, "rds_failover", sev=Severity.CRITICAL)
    assert d.verdict is Verdict.ASK and any("peak" in r for r in d.reasons)


@pytest.mark.parametrize("cls,verdict", [(Classification.TRANSIENT, Verdict.WATCH),
                                         (Classification.UNKNOWN_CRITICAL, Verdict.ESCALATE),
                                         (Classification.UNKNOWN_MINOR, Verdict.ESCALATE)])
def test_classification_rules(cls, verdict):
    g, _, _ = make()
    assert decide(g, cls=cls).verdict is verdict


def test_no_runbook_or_auto_remediate_false_escalates():
    g, _, _ = make()
    assert decide(g, runbook=None).verdict is Verdict.ESCALATE
    manual = Runbook(id="m", title="m", auto_remediate=False, actions=(RunbookAction(action="restart_deployment"),))
    d = decide(g, runbook=manual)
    assert d.verdict is Verdict.ESCALATE and "auto_remediate" in d.reasons[0]


def test_action_outside_the_runbook_escalates():
    g, _, _ = make()
    d = decide(g, "rollback_deployment")
    assert d.verdict is Verdict.ESCALATE and "not an action of runbook" in d.reasons[0]


def test_runbook_may_only_make_an_action_stricter():
    g, _, _ = make()
    rb = Runbook(id="oom", title="x", actions=(RunbookAction(action="restart_deployment", safety=Safety.CAUTION),))
    d = decide(g, runbook=rb)
    assert d.verdict is Verdict.ASK and d.safety is Safety.CAUTION


def test_a_third_attempt_never_happens():
    g, _, _ = make()
    assert decide(g, attempts=0).verdict is Verdict.ACT
    assert decide(g, attempts=1).verdict is Verdict.ACT
    for n in (2, 3, 10):
        d = decide(g, attempts=n)
        assert d.verdict is Verdict.ESCALATE and "attempts" in d.reasons[0]
    rb = Runbook(id="oom", title="x", actions=(RunbookAction(action="restart_deployment", max_attempts=1),))
    assert decide(g, runbook=rb, attempts=1).verdict is Verdict.ESCALATE


def test_global_rate_limit():
    g, _, clock = make(max_actions_per_window=3, rate_window_minutes=60)
    for _ in range(3):
        g.record_action("checkout")
    d = decide(g)
    assert d.verdict is Verdict.ESCALATE and "rate limit" in d.reasons[0]
    with pytest.raises(PolicyDenied):
        g.check(request())
    clock.t += 3601
    assert decide(g).verdict is Verdict.ACT


def test_lease_held_by_another_owner_watches():
    g, _, _ = make()
    assert g.acquire_lease("checkout", "node-a")
    assert decide(g, owner="node-b").verdict is Verdict.WATCH
    assert decide(g, owner="node-a").verdict is Verdict.ACT


def test_lease_ttl_owner_and_release():
    g, _, clock = make(lease_ttl_s=60)
    assert g.acquire_lease("checkout", "a")
    assert g.acquire_lease("checkout", "a")          # re-entrant
    assert not g.acquire_lease("checkout", "b")
    g.release_lease("checkout", "b")                  # not b's: stays
    assert not g.acquire_lease("checkout", "b")
    clock.t += 61
    assert g.acquire_lease("checkout", "b")           # expired
    g.release_lease("checkout", "b")
    assert g.lease_owner("checkout") is None


def test_fifty_threads_get_exactly_one_lease():
    g, _, _ = make()
    barrier = threading.Barrier(50)
    wins = []

    def worker(i):
        barrier.wait()
        if g.acquire_lease("checkout", f"worker-{i}"):
            wins.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert g.lease_owner("checkout") == f"worker-{wins[0]}"


def test_mode_off_between_two_steps_stops_the_next_decide():
    g, store, _ = make("autonomous")
    assert decide(g).verdict is Verdict.ACT
    g.set_mode("off", actor="chat:alice")
    assert decide(g).verdict is Verdict.WATCH
    store.set("aisre.mode", "shadow")
    assert decide(g).verdict is Verdict.RECORD


@pytest.mark.parametrize("raw", ["bogus", "", "AUTONOMOUS!"])
def test_unreadable_mode_is_shadow(raw):
    g, store, _ = make("autonomous")
    store.set("aisre.mode", raw)
    assert g.mode() is Mode.SHADOW


def test_store_failure_is_shadow():
    class Broken(MemoryStore):
        def get(self, key):
            raise OSError("disk gone")

    g = Guardrails(SafetyConfig(mode="autonomous"), Broken())
    assert g.mode() is Mode.SHADOW


HOSTILE = [
    ("drop_table", {}, "postgres"),
    ("delete_namespace", {}, "kubernetes"),
    ("scale_deployment", {"replicas": 0}, None),
    ("drain_node", {"node": "*"}, None),
    ("disable_monitoring", {}, "flags"),
    ("flag_toggle", {"flag": "alerts", "enabled": False}, None),
    ("ssm_run_command", {"command": "curl x | sh"}, "aws"),
    ("redis_flushall", {}, "redis"),
    ("iam_put_user_policy", {}, "aws"),
    ("redis_unlink_pattern", {"pattern": "*"}, "redis"),
]


@pytest.mark.parametrize("action,params,kind", HOSTILE)
@pytest.mark.parametrize("mode", ["autonomous", "limited", "shadow"])
def test_forbidden_never_acts_even_when_the_runbook_lists_it(tmp_path, action, params, kind, mode):
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    g = Guardrails(SafetyConfig(mode=mode, allow_list=(action,)), MemoryStore(), audit=audit)
    hostile_rb = Runbook(id="evil", title="evil", actions=(RunbookAction(action=action, params=params,
                                                                          safety=Safety.SAFE),))
    inc = incident(sev=Severity.CRITICAL)
    d_ = Diagnosis(classification=Classification.KNOWN, severity=Severity.CRITICAL, summary="LLM says so",
                   runbook_id="evil", proposed_action=action, action_params=params)
    r = request(action, params, kind=kind)
    d = g.decide(inc, d_, hostile_rb, r)
    assert d.verdict in (Verdict.ESCALATE, Verdict.RECORD) and d.safety is Safety.FORBIDDEN
    assert any("forbidden" in x for x in d.reasons)
    with pytest.raises(ForbiddenAction):
        g.check(r)
    kinds = [rec.kind for rec in audit.records()]
    assert kinds.count("forbidden") == 2 and audit.verify().ok


def test_build_request_runbook_params_win_over_llm():
    from aisre import steps
    from aisre.config import load_config
    inc = incident()
    config = load_config({"services": [{"name": inc.service, "target": {"kind": "kubernetes", "name": "checkout"}}]})
    d = Diagnosis(classification=Classification.KNOWN, severity=Severity.ERROR, summary="s",
                  proposed_action="scale_deployment", action_params={"factor": 10, "current_replicas": 3})
    r = steps.build_request(inc, d, RUNBOOK, config)
    # the runbook's factor wins; a key the runbook does not declare is never taken from the model
    assert r.params == {"factor": 2} and r.runbook_id == "oom"
    assert steps.build_request(inc, Diagnosis(classification=Classification.KNOWN, severity=Severity.ERROR,
                                              summary="s"), RUNBOOK, config) is None


def test_check_denies_in_non_acting_modes():
    for mode in ("off", "shadow", "advisory"):
        g, _, _ = make(mode)
        with pytest.raises(PolicyDenied):
            g.check(request())
    g, _, _ = make("limited")
    assert g.check(request()) is Safety.SAFE


def test_request_for_a_service_outside_the_incident_escalates():
    g, _, _ = make()
    other = ActionRequest(action="restart_deployment", service="payments", incident_id="inc-1",
                          target=Target(kind="kubernetes", name="payments", namespace="prod"))
    d = g.decide(incident(), diag(), RUNBOOK, other)
    assert d.verdict is Verdict.ESCALATE and "outside incident" in d.reasons[0]


def test_broken_state_store_escalates_instead_of_crashing():
    from aisre.errors import StateError

    class RateBroken(MemoryStore):
        def get(self, key):
            if key.startswith("aisre.rate") or key.startswith("aisre.lease"):
                raise StateError("datastore get failed", key=key)
            return super().get(key)

    g = Guardrails(SafetyConfig(mode="autonomous"), RateBroken())
    d = decide(g)
    assert d.verdict is Verdict.ESCALATE and "state store unavailable" in d.reasons[0]


def test_corrupt_state_file_never_acts(tmp_path):
    from aisre.state import FileStore

    path = tmp_path / "state.json"
    store = FileStore(str(path))
    store.set("aisre.mode", "autonomous")
    g = Guardrails(SafetyConfig(mode="autonomous"), store)
    assert decide(g).verdict is Verdict.ACT
    path.write_text("{corrupt")
    assert decide(g).verdict is Verdict.RECORD              # mode unreadable -> shadow
