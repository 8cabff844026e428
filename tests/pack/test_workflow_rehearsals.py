"""Walk every branch of the Orquesta workflows with the real Orquesta engine (1.2.0, own virtualenv).

`make test` builds `.venv-orquesta`; set AISRE_ORQUESTA_PYTHON to use another interpreter with orquesta.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("orquesta_rehearse.py")


def orquesta_python() -> str:
    py = os.environ.get("AISRE_ORQUESTA_PYTHON") or str(ROOT / ".venv-orquesta" / "bin" / "python")
    if not os.path.exists(py):
        msg = f"no Orquesta interpreter at {py} (make test creates .venv-orquesta)"
        if os.environ.get("AISRE_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return py


def rehearse(workflow, inputs, mocks):
    req = {"workflow": str(ROOT / "actions" / "workflows" / workflow), "inputs": inputs, "mocks": mocks}
    out = subprocess.run([orquesta_python(), str(SCRIPT)], input=json.dumps(req), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["inspect"] == {}, res["inspect"]
    return res


def ok(result):
    return [{"status": "succeeded", "result": {"result": result}}]


FAIL = [{"status": "failed", "result": {"result": {"error": "boom"}}}]
DECISION = {"request": {"action": "restart_deployment", "service": "checkout"}, "service": "checkout",
            "approval_route": "#approvals", "approval_ttl_minutes": 30, "reasons": ["safe action in autonomous mode"]}


def tasks(res):
    return [t[0] for t in res["sequence"]]


# ----------------------------------------------------------------------------- handle_incident

@pytest.mark.parametrize("verdict,expected", [
    ("act", ["correlate", "triage", "decide", "remediate"]),
    ("ask", ["correlate", "triage", "decide", "remediate"]),
    ("escalate", ["correlate", "triage", "decide", "escalate"]),
    ("watch", ["correlate", "triage", "decide"]),
    ("record", ["correlate", "triage", "decide"]),
    ("resolve", ["correlate", "triage", "decide"]),
])
def test_handle_incident_routes_each_verdict(verdict, expected):
    res = rehearse("handle_incident.yaml", {"signal": {"service": "checkout"}}, {
        "correlate": ok({"incident_id": "inc-1", "skip": False}),
        "decide": ok({**DECISION, "verdict": verdict}),
    })
    assert tasks(res) == expected
    assert res["status"] == "succeeded"
    assert res["output"] == {"incident_id": "inc-1", "verdict": verdict}


def test_handle_incident_skips_an_incident_already_in_hand():
    res = rehearse("handle_incident.yaml", {"signal": {}}, {"correlate": ok({"incident_id": "inc-1", "skip": True})})
    assert tasks(res) == ["correlate"] and res["status"] == "succeeded"
    assert res["output"]["verdict"] == "skip"


@pytest.mark.parametrize("failing,expected", [
    ("triage", ["correlate", "triage", "escalate"]),
    ("decide", ["correlate", "triage", "decide", "escalate"]),
    ("remediate", ["correlate", "triage", "decide", "remediate", "escalate"]),
])
def test_handle_incident_escalates_when_a_step_fails(failing, expected):
    mocks = {"correlate": ok({"incident_id": "inc-1", "skip": False}), "decide": ok({**DECISION, "verdict": "act"}),
             failing: FAIL}
    res = rehearse("handle_incident.yaml", {"signal": {}}, mocks)
    assert tasks(res) == expected
    assert res["status"] == "succeeded"


def test_handle_incident_fails_loudly_when_nothing_can_be_done():
    res = rehearse("handle_incident.yaml", {"signal": {}}, {"correlate": FAIL})
    assert tasks(res) == ["correlate"] and res["status"] == "failed"
    res = rehearse("handle_incident.yaml", {"signal": {}}, {"correlate": ok({"incident_id": "i", "skip": False}),
                                                            "triage": FAIL, "escalate": FAIL})
    assert res["status"] == "failed"


# ----------------------------------------------------------------------------- remediate

BASE = {"incident_id": "inc-1", "request": DECISION["request"], "service": "checkout", "needs_approval": False,
        "approval_route": "#approvals", "approval_ttl": 30, "verify_retries": 2, "verify_delay": 0}


def test_remediate_safe_action_verified_and_resolved():
    res = rehearse("remediate.yaml", BASE, {"act": ok({"ok": True})})
    assert tasks(res) == ["gate", "act", "verify", "resolve", "learn"]
    assert res["status"] == "succeeded"


def test_remediate_caution_action_waits_for_approval():
    approved = [{"status": "pending", "then": "succeeded", "result": {"response": {"approved": True}}}]
    res = rehearse("remediate.yaml", {**BASE, "needs_approval": True}, {"ask": approved})
    assert tasks(res) == ["gate", "ask", "act", "verify", "resolve", "learn"]


@pytest.mark.parametrize("ask", [
    [{"status": "pending", "then": "succeeded", "result": {"response": {"approved": False}}}],   # denied
    [{"status": "failed", "result": {}}],                                                      # timed out
])
def test_remediate_denial_or_timeout_escalates_without_acting(ask):
    res = rehearse("remediate.yaml", {**BASE, "needs_approval": True}, {"ask": ask})
    assert tasks(res) == ["gate", "ask", "escalate"]
    assert "act" not in tasks(res)


def test_remediate_failed_action_escalates():
    res = rehearse("remediate.yaml", BASE, {"act": FAIL})
    assert tasks(res) == ["gate", "act", "escalate"]


def test_remediate_fix_that_does_not_hold_retries_once_then_escalates():
    verify = FAIL * 3 + [{"status": "succeeded", "result": {"result": {"ok": True}}}]
    res = rehearse("remediate.yaml", BASE, {
        "verify": verify,
        "decide_again": [{"status": "succeeded", "result": {"result": {"verdict": "act", "request": DECISION["request"]}}},
                         {"status": "succeeded", "result": {"result": {"verdict": "escalate", "reasons": ["2 attempts"]}}}],
    })
    # verify runs 3 times (1 + 2 retries), fails, the guardrails allow a second attempt which verifies.
    assert tasks(res) == ["gate", "act", "verify", "verify", "verify", "reopen", "decide_again", "act", "verify", "resolve", "learn"]


def test_remediate_second_failure_is_escalated_by_the_guardrails():
    res = rehearse("remediate.yaml", BASE, {
        "verify": FAIL,
        "decide_again": [{"status": "succeeded", "result": {"result": {"verdict": "act", "request": DECISION["request"]}}},
                         {"status": "succeeded", "result": {"result": {"verdict": "escalate", "reasons": ["2 attempts used"]}}}],
    })
    seq = tasks(res)
    assert seq.count("act") == 2 and seq[-1] == "escalate"
    assert res["output"]["reason"].startswith("The fix did not hold")


# ----------------------------------------------------------------------------- escalate

def test_escalate_reports_receipts_or_fails():
    res = rehearse("escalate.yaml", {"incident_id": "i", "reason": "r"}, {"notify": ok({"receipts": [{"channel": "slack", "ok": True}]})})
    assert res["status"] == "succeeded" and res["output"]["receipts"][0]["channel"] == "slack"
    res = rehearse("escalate.yaml", {"incident_id": "i", "reason": "r"}, {"notify": FAIL})
    assert res["status"] == "failed"


# ----------------------------------------------------------------------------- ingest_webhook

def _norm(signals, changes):
    return ok({"signals": [{"id": f"s{i}"} for i in range(signals)], "changes": [{"id": f"c{i}"} for i in range(changes)]})


@pytest.mark.parametrize("signals,changes,expected", [
    (3, 1, [["normalise", "succeeded"], ["record_changes", "succeeded", 1], ["handle_signals", "succeeded", 3]]),
    (2, 0, [["normalise", "succeeded"], ["handle_signals", "succeeded", 2]]),
    (0, 2, [["normalise", "succeeded"], ["record_changes", "succeeded", 2]]),
    (0, 0, [["normalise", "succeeded"]]),
])
def test_ingest_webhook_fans_out_one_pipeline_per_signal(signals, changes, expected):
    res = rehearse("ingest_webhook.yaml", {"kind": "alertmanager", "body": {}, "headers": {}},
                   {"normalise": _norm(signals, changes)})
    assert res["sequence"] == expected
    assert res["status"] == "succeeded"
    assert res["output"] == {"signals": signals, "changes": changes}


def test_ingest_webhook_rejects_a_malformed_payload():
    res = rehearse("ingest_webhook.yaml", {"kind": "datadog", "body": {}, "headers": {}}, {"normalise": FAIL})
    assert res["status"] == "failed" and tasks(res) == ["normalise"]


def test_status_pages_fan_out_or_end_quietly():
    res = rehearse("check_status_pages.yaml", {}, {"poll": ok({"signals": [{"id": "a"}, {"id": "b"}]})})
    assert res["sequence"] == [["poll", "succeeded"], ["handle_signals", "succeeded", 2]]
    res = rehearse("check_status_pages.yaml", {}, {"poll": ok({"signals": []})})
    assert tasks(res) == ["poll"] and res["status"] == "succeeded"
