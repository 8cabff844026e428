"""Every runbook action is runnable as written: it exists in the registry, its parameters validate
against the action's schema (open ``{{ slots }}`` aside), its declared safety is never looser than the
registry's assessment, and every precondition / verify check is in a form somebody checks."""
from __future__ import annotations

import jsonschema
import pytest

from aisre import conditions, slots
from aisre.config import DEFAULT_KNOWLEDGE_DIR
from aisre.errors import ValidationError
from aisre.knowledge.loader import load_runbooks
from aisre.models import ActionRequest, Safety, Target
from aisre.policy.actions import ACTIONS, assess, stricter

RUNBOOKS = load_runbooks(DEFAULT_KNOWLEDGE_DIR)
ACTION_ROWS = [(rb, i, act) for rb in RUNBOOKS for i, act in enumerate(rb.actions)]
IDS = [f"{rb.id}[{i}]:{act.action}" for rb, i, act in ACTION_ROWS]
#: a value of the right shape for each slot the runbooks use (what slots.fill would read from evidence)
SLOT_SAMPLES = {"flag": "new-pricing-engine", "node": "ip-10-0-3-17", "zone": "eu-west-1b", "key": "a.b.c",
                "fallback_flag": "paygate-fallback", "pid": 4242}


def _filled(params):
    out = {}
    for k, v in params.items():
        name = slots.slot_name(v)
        out[k] = SLOT_SAMPLES[name] if name is not None else v
    return out


def test_the_catalogue_is_not_empty():
    assert len(RUNBOOKS) >= 20 and len(ACTION_ROWS) >= 25


@pytest.mark.parametrize("rb,i,act", ACTION_ROWS, ids=IDS)
def test_action_exists_and_params_validate(rb, i, act):
    spec = ACTIONS.get(act.action)
    assert spec is not None, f"{rb.id}: {act.action} is not in aisre.policy.actions.ACTIONS"
    for k, v in act.params.items():
        name = slots.slot_name(v)
        if isinstance(v, str) and "{{" in v:
            assert name in SLOT_SAMPLES, f"{rb.id}: {k}={v!r} is not a slot aisre.slots can fill"
    jsonschema.Draft7Validator(spec.params_schema).validate(_filled(act.params))


@pytest.mark.parametrize("rb,i,act", ACTION_ROWS, ids=IDS)
def test_declared_safety_is_never_looser_than_the_registry(rb, i, act):
    req = ActionRequest(action=act.action, service="svc", target=Target(kind="sim", name="svc"),
                        params=_filled(act.params), incident_id="inc-1", runbook_id=rb.id, reason="test",
                        requested_by="test")
    assessed = assess(req, targets={"redis": {"evictable_patterns": ["tmp:*"]}})
    assert assessed.safety is not Safety.FORBIDDEN, (rb.id, act.action, assessed.reasons)
    declared = act.safety or Safety.SAFE
    assert stricter(declared, assessed.safety) is declared, \
        f"{rb.id}: {act.action} declared {declared.value} but the registry says {assessed.safety.value}"


@pytest.mark.parametrize("rb,i,act", ACTION_ROWS, ids=IDS)
def test_conditions_are_in_a_checked_form(rb, i, act):
    for cond in act.preconditions:
        assert conditions.form(cond) in conditions.FORMS
    for vc in act.verify:
        metric, _, _ = conditions.parse(vc.condition)       # verify checks are numbers to reach
        assert metric in (None, vc.metric)
        assert vc.within_minutes > 0


@pytest.mark.parametrize("text,kind", [
    ("memory_pct > 80", "metric"), ("thread_pool_active >= 95%", "metric"), ("< 0.01", "metric"),
    ("job_runtime_s > 3x usual", "relative"), ("request_rate > 1.5x baseline", "relative"),
    ("deploy within 60m", "change"), ("flag change within 60m", "change"), ("config change within 2h", "change"),
    ("signature NodeNotReady", "signature"),
])
def test_condition_forms(text, kind):
    assert conditions.form(text) == kind


@pytest.mark.parametrize("text", ["falling", "< baseline * 1.5", "node NotReady > 5m", "", "__import__('os')",
                                  "memory_pct > 80; rm -rf /", None])
def test_unchecked_conditions_are_rejected(text):
    with pytest.raises(ValidationError):
        conditions.form(text)
