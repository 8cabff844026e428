"""The real agent (offline analyst, shipped knowledge base) on a few drills of the simulated fleet:
each test names the seam it guards."""
from __future__ import annotations

import pytest

from aisre.analysis import build_analyst
from aisre.config import load_config
from aisre.knowledge import build_retriever
from aisre.sim import drill as drills


@pytest.fixture(scope="module")
def factory():
    defaults = load_config({})
    retriever, analyst = build_retriever(defaults), build_analyst(defaults)

    def make(fleet, scenario):
        return drills.make_agent(fleet, scenario, retriever=retriever, analyst=analyst)
    return make


def _decisions(result):
    return [e for e in result.timeline if e.kind == "decision"]


def test_memory_leak_is_restarted_before_exhaustion_and_verified(factory):
    r = drills.run_drill("memory-leak", seed=7, agent_factory=factory)
    assert r.passed, r.failures
    assert [a[1] for a in r.actions] == ["restart_deployment"] and r.resolved and not r.escalated
    restart = r.actions[0][0]
    assert r.mttr_s is not None and r.mttr_s > restart            # closed only after verification


def test_a_blip_that_heals_within_the_confirmation_window_pages_nobody(factory):
    r = drills.run_drill("transient-glitch", seed=7, agent_factory=factory)
    assert not r.escalated and not r.actions and r.classification == "transient", r.failures
    assert any("confirming the problem persists" in e.text for e in _decisions(r))


def test_a_lasting_known_problem_without_a_fix_is_paged_after_confirmation(factory):
    r = drills.run_drill("third-party-outage", seed=7, agent_factory=factory)
    assert r.passed, r.failures
    assert r.escalated and r.escalate_s is not None and r.escalate_s <= 8 * 60


def test_the_flag_to_toggle_is_read_from_the_flag_change_never_sent_as_a_template(factory):
    r = drills.run_drill("feature-flag-regression", seed=7, agent_factory=factory)
    assert r.passed, r.failures
    assert r.forbidden_attempts == 0 and r.asked_approval


def test_signals_of_one_poll_are_triaged_together(factory):
    # cpu, request rate and busy threads arrive in the same poll: the spike is scaled out, the
    # thread pool (53 % of its 200 threads) is not restarted
    r = drills.run_drill("traffic-spike", seed=7, agent_factory=factory)
    assert r.passed, r.failures
    assert [a[1] for a in r.actions] == ["scale_deployment"]


def test_an_unknown_error_surge_is_paged_within_three_minutes(factory):
    # begins as an unexplained error log (deferred as minor), then looks like CPU saturation whose fix
    # is not due: the page goes out once the user-facing impact lasted, well inside 180 s
    r = drills.run_drill("unknown-latency-collapse", seed=7, agent_factory=factory)
    assert r.escalated and r.escalate_s is not None and r.escalate_s <= 180
    assert not r.actions
