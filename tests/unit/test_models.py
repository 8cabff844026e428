import math

import pytest

from aisre.errors import ValidationError, http_error, AuthError, RateLimited, SourceDown, BadQuery, NotFound
from aisre.models import (ActionRequest, ActionResult, ActionStatus, Anomaly, Classification, Diagnosis, Incident,
                          Runbook, RunbookAction, Severity, Signal, Target, VerifyCheck, iso, stable_hash)


def _incident() -> Incident:
    sig = Signal(id="s1", kind="metric", source="prometheus", service="checkout", name="memory_pct",
                 summary="memory climbing", severity=Severity.CRITICAL, ts=100.0, value=91.5,
                 labels={"pod": "checkout-1"}, samples=("a", "b"))
    diag = Diagnosis(classification=Classification.KNOWN, severity=Severity.ERROR, summary="leak",
                     runbook_id="memory-leak", proposed_action="restart_deployment", confidence=0.9)
    res = ActionResult(action="restart_deployment", service="checkout", status=ActionStatus.SUCCEEDED)
    return Incident(id="inc-1", fingerprint="fp", service="checkout", signals=(sig,), diagnosis=diag,
                    actions=(res,), attempts=1)


def test_incident_round_trips_through_json():
    inc = _incident()
    again = Incident.from_json(inc.to_json())
    assert again == inc
    assert again.signals[0].severity is Severity.CRITICAL
    assert again.severity is Severity.ERROR  # the diagnosis wins over the signals


def test_runbook_round_trip_with_nested_actions():
    rb = Runbook(id="memory-leak", title="Memory leak",
                 actions=(RunbookAction(action="restart_deployment", verify=(VerifyCheck(metric="memory_pct", condition="< 80"),)),))
    assert Runbook.from_dict(rb.to_dict()) == rb
    assert rb.action("restart_deployment").verify[0].within_minutes == 5.0
    assert rb.action("nope") is None


def test_bad_enum_value_is_a_typed_error_naming_the_path():
    data = _incident().to_dict()
    data["signals"][0]["severity"] = "apocalyptic"
    with pytest.raises(ValidationError) as exc:
        Incident.from_dict(data)
    assert "Incident.signals[0].severity" in str(exc.value)


def test_non_object_and_bad_json_are_typed_errors():
    with pytest.raises(ValidationError):
        Signal.from_dict(["not", "a", "dict"])
    with pytest.raises(ValidationError):
        Signal.from_json("{truncated")
    with pytest.raises(ValidationError):
        Signal.from_dict({"id": "only-id"})  # required fields missing


def test_request_with_target_round_trip():
    req = ActionRequest(action="scale_deployment", service="web", target=Target(kind="kubernetes", name="web", namespace="prod"),
                        params={"replicas": 4})
    assert ActionRequest.from_dict(req.to_dict()) == req


def test_helpers():
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(None) == ""
    assert stable_hash("a", {"b": 1}) == stable_hash("a", {"b": 1})
    assert stable_hash("a") != stable_hash("b")


@pytest.mark.parametrize("status,cls", [(401, AuthError), (403, AuthError), (404, NotFound), (429, RateLimited),
                                        (400, BadQuery), (503, SourceDown)])
def test_http_status_maps_to_error_class(status, cls):
    err = http_error(status, "boom", integration="prometheus")
    assert isinstance(err, cls)
    assert "integration=prometheus" in str(err)
    assert err.to_dict()["error"] == cls.__name__
