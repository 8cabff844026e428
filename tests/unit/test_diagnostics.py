"""Diagnostics before a fix: evidence saved within a time budget, the fix never blocked beyond it."""
import threading
import time

import boto3
import pytest
from moto import mock_aws

from aisre.diagnostics import CaptureReport, LocalSink, S3Sink, build_capture, capture_evidence
from aisre.config import load_config
from aisre.errors import ValidationError
from aisre.models import ActionRequest, CaptureStep, Target

REQ = ActionRequest(action="restart_deployment", service="checkout", incident_id="inc-1",
                    target=Target(kind="kubernetes", name="checkout", namespace="shop"))


class ClusterDouble:
    """Stands in for the cluster's API at the Collector seam (the kubernetes collector has its own tests)."""

    def __init__(self, delay_s=0.0, fail=()):
        self.delay_s, self.fail, self.calls = delay_s, set(fail), []
        self.release = threading.Event()

    def collect(self, kind, request, step):
        self.calls.append(kind)
        if kind in self.fail:
            raise ConnectionError("pod gone")
        if self.delay_s:
            self.release.wait(self.delay_s)
        return f"{kind} of {request.target.name}: password=hunter2 token=abc\n".encode()


def test_evidence_is_saved_redacted_and_summarised(tmp_path):
    rep = capture_evidence(REQ, (CaptureStep(kind="logs"), CaptureStep(kind="spec")), collector=ClusterDouble(),
                           sink=LocalSink(str(tmp_path)), budget_s=5, redact=lambda t: t.replace("hunter2", "[REDACTED]"))
    assert [i.kind for i in rep.items] == ["logs", "spec"] and all(i.ok for i in rep.items)
    text = open(rep.items[0].location).read()
    assert "hunter2" not in text and "[REDACTED]" in text
    assert rep.items[0].location.startswith(str(tmp_path / "inc-1"))
    assert "evidence captured: logs ->" in rep.summary() and not rep.timed_out


def test_a_slow_capture_lets_the_fix_go_on_and_says_so(tmp_path):
    slow = ClusterDouble(delay_s=30)
    started = time.monotonic()
    rep = capture_evidence(REQ, (CaptureStep(kind="logs"), CaptureStep(kind="thread_dump")), collector=slow,
                           sink=LocalSink(str(tmp_path)), budget_s=0.3)
    elapsed = time.monotonic() - started
    slow.release.set()
    assert rep.timed_out and elapsed < 5
    assert {i.kind for i in rep.items} == {"logs", "thread_dump"} and not any(i.ok for i in rep.items)
    assert "budget, the fix went ahead" in rep.summary()


def test_one_failed_capture_does_not_stop_the_others(tmp_path):
    rep = capture_evidence(REQ, (CaptureStep(kind="events"), CaptureStep(kind="logs")),
                           collector=ClusterDouble(fail={"events"}), sink=LocalSink(str(tmp_path)), budget_s=5)
    by = {i.kind: i for i in rep.items}
    assert not by["events"].ok and "pod gone" in by["events"].detail and by["logs"].ok


def test_capture_kinds_are_a_closed_catalogue(tmp_path):
    with pytest.raises(ValidationError, match="unknown capture kind"):
        capture_evidence(REQ, (CaptureStep(kind="rm -rf /"),), collector=ClusterDouble(), sink=LocalSink(str(tmp_path)))


@mock_aws
def test_s3_sink():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="evidence")
    url = S3Sink("evidence", "aisre/", client=s3).save("inc-1", "2026-logs.txt", b"hello")
    assert url == "s3://evidence/aisre/inc-1/2026-logs.txt"
    assert s3.get_object(Bucket="evidence", Key="aisre/inc-1/2026-logs.txt")["Body"].read() == b"hello"


def test_build_capture_from_config(tmp_path):
    cfg = load_config({"diagnostics": {"dir": str(tmp_path), "budget_s": 2}})
    capture = build_capture(cfg, collectors={"kubernetes": ClusterDouble()})
    rep = capture(REQ, (CaptureStep(kind="logs"),))
    assert isinstance(rep, CaptureReport) and rep.items[0].ok
    no_collector = capture(ActionRequest(action="x", service="s", target=Target(kind="redis", name="r")),
                           (CaptureStep(kind="logs"),))
    assert "no collector" in no_collector.items[0].detail
    assert build_capture(load_config({"diagnostics": {"enabled": False}})) is None
