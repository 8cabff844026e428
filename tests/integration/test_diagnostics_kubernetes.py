"""Evidence from a (fake) Kubernetes API through the official client before a restart, and the restart
going ahead when the API is too slow to answer within the capture budget."""
import json

from aisre.diagnostics import KubernetesCollector, LocalSink, capture_evidence
from aisre.models import ActionRequest, CaptureStep, RunbookAction, Target
from aisre.policy import Guardrails
from aisre.config import SafetyConfig
from aisre.policy.audit import AuditLog
from aisre.remediate.kubernetes import KubernetesExecutor
from aisre.state import MemoryStore
from aisre import steps

REQ = ActionRequest(action="restart_deployment", service="checkout", incident_id="inc-9",
                    target=Target(kind="kubernetes", name="checkout", namespace="shop"))


def _cluster(fake):
    fake.add_deployment("checkout", ns="shop", replicas=2)
    pods = [p for p, o in fake.objects.items() if "/pods/" in p]
    for path in pods:
        fake.set_pod_log("shop", path.rsplit("/", 1)[-1], "INFO ok\nERROR java.lang.OutOfMemoryError: Java heap space\n"
                         "WARN db password=s3cret-pass retry\n")
    fake.add_event("shop", "Pod", pods[0].rsplit("/", 1)[-1] if pods else "checkout-x", "OOMKilling",
                   "Memory cgroup out of memory")
    fake.add_event("shop", "Deployment", "checkout", "ScalingReplicaSet", "Scaled up replica set checkout-2 to 2",
                   type_="Normal")


def test_logs_events_and_spec_are_captured(fake_kube, kube_api, tmp_path):
    _cluster(fake_kube)
    rep = capture_evidence(REQ, (CaptureStep(kind="logs", lines=2), CaptureStep(kind="events"), CaptureStep(kind="spec")),
                           collector=KubernetesCollector(kube_api), sink=LocalSink(str(tmp_path)), budget_s=20,
                           redact=lambda t: t.replace("s3cret-pass", "[REDACTED]"))
    by = {i.kind: i for i in rep.items}
    assert all(i.ok for i in rep.items), rep.summary()
    logs = open(by["logs"].location).read()
    assert "OutOfMemoryError" in logs and "INFO ok" not in logs      # tail of 2 lines per pod
    assert "s3cret-pass" not in logs
    assert "OOMKilling" in open(by["events"].location).read()
    assert "name: checkout" in open(by["spec"].location).read()
    assert fake_kube.calls_to("GET", "/log")[0].query["tailLines"] == "2"


def test_slow_capture_does_not_block_the_restart(fake_kube, kube_api, tmp_path):
    _cluster(fake_kube)
    fake_kube.auto_complete = True
    pods = [p for p in fake_kube.objects if "/pods/" in p]
    fake_kube.fail("GET", pods[0] + "/log", 200, times=5, delay_s=3.0)      # a slow API server
    store = MemoryStore()
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    guardrails = Guardrails(SafetyConfig(mode="autonomous"), store)
    executor = KubernetesExecutor(kube_api, sleep=lambda s: None)
    sink = LocalSink(str(tmp_path / "evidence"))

    def capture(request, capture_steps):
        return capture_evidence(request, capture_steps, collector=KubernetesCollector(kube_api), sink=sink, budget_s=0.5)

    rb_action = RunbookAction(action="restart_deployment", capture=(CaptureStep(kind="logs", timeout_s=10),))
    result = steps.remediate(REQ, executors={"kubernetes": executor}, guardrails=guardrails, audit=audit, owner="t",
                             rb_action=rb_action, capture=capture)
    assert result.status.value == "succeeded", result
    assert "budget, the fix went ahead" in result.detail
    assert result.evidence["captures"]["timed_out"] is True
    patches = fake_kube.calls_to("PATCH", "/deployments/checkout")
    assert len(patches) == 1 and "restartedAt" in json.dumps(patches[0].body)
    action_records = [r for r in audit.records() if r.kind == "action"]
    assert action_records[-1].data["captures"][0]["ok"] is False


def test_evidence_location_reaches_the_incident_report(fake_kube, kube_api, tmp_path):
    from aisre.models import Incident, Signal
    from aisre.notify.report import render_report
    _cluster(fake_kube)
    fake_kube.auto_complete = True
    sink = LocalSink(str(tmp_path / "evidence"))
    rb_action = RunbookAction(action="restart_deployment", capture=(CaptureStep(kind="events"),))
    result = steps.remediate(REQ, executors={"kubernetes": KubernetesExecutor(kube_api, sleep=lambda s: None)},
                             guardrails=Guardrails(SafetyConfig(mode="autonomous"), MemoryStore()),
                             audit=AuditLog(str(tmp_path / "a.jsonl")), owner="t", rb_action=rb_action,
                             capture=lambda r, s: capture_evidence(r, s, collector=KubernetesCollector(kube_api),
                                                                   sink=sink, budget_s=10))
    incident = Incident(id="inc-9", fingerprint="f", service="checkout", environment="prod", actions=(result,),
                        signals=(Signal(id="s", kind="metric", source="prometheus", service="checkout",
                                        name="memory_pct", summary="memory climbing"),))
    location = result.evidence["captures"]["items"][0]["location"]
    assert location.endswith("events.txt")
    for fmt in ("markdown", "text"):
        assert location.rsplit("/", 1)[-1].replace("_", "\\_") in render_report(incident, fmt, environment="prod") or \
            location.rsplit("/", 1)[-1] in render_report(incident, fmt, environment="prod")
