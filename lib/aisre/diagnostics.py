"""Diagnostics before a fix: capture the evidence a restart or rollback destroys, within a time budget.

A runbook action may declare ``capture`` steps (``logs``, ``events``, ``spec``, ``thread_dump``,
``heap_histogram``, ``py_stack``). Right before the action runs, :func:`capture_evidence` collects them
from the target (a :class:`Collector`), redacts secrets, and saves each to a :class:`EvidenceSink` (a local
directory, or S3 through boto3). Capture never blocks the fix beyond ``budget_s``: whatever has not finished
by then is recorded as timed out and the action goes ahead. The locations end up in the action result, the
incident report and the audit log.

Exec commands come from a fixed catalogue (:data:`EXEC_COMMANDS`); a runbook cannot run arbitrary commands.
"""
from __future__ import annotations

import os
import queue
import re
import threading
import time
from typing import Any, Callable, Mapping, Protocol, Sequence

from aisre.errors import ConfigError, IntegrationError, ValidationError
from aisre.models import ActionRequest, CaptureStep, Model, frozen, iso

EXEC_COMMANDS: dict[str, tuple[str, ...]] = {
    "thread_dump": ("jcmd", "1", "Thread.print"),
    "heap_histogram": ("jcmd", "1", "GC.class_histogram"),
    "py_stack": ("py-spy", "dump", "--pid", "1"),
}
KINDS = ("logs", "events", "spec", *EXEC_COMMANDS)
MAX_BYTES = 5 * 1024 * 1024


@frozen
class CapturedItem(Model):
    kind: str
    ok: bool
    location: str = ""         # file path or s3:// URL
    detail: str = ""
    size: int = 0


@frozen
class CaptureReport(Model):
    items: tuple[CapturedItem, ...] = ()
    timed_out: bool = False
    elapsed_s: float = 0.0
    budget_s: float = 0.0

    def summary(self) -> str:
        saved = [i for i in self.items if i.ok]
        text = f"evidence captured: {', '.join(f'{i.kind} -> {i.location}' for i in saved) or 'none'}"
        failed = [i for i in self.items if not i.ok]
        if failed:
            text += "; not captured: " + ", ".join(f"{i.kind} ({i.detail})" for i in failed)
        if self.timed_out:
            text += f"; capture hit its {self.budget_s:g}s budget, the fix went ahead"
        return text


class Collector(Protocol):
    def collect(self, kind: str, request: ActionRequest, step: CaptureStep) -> bytes: ...


class EvidenceSink(Protocol):
    def save(self, incident_id: str, name: str, data: bytes) -> str: ...


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class LocalSink:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def save(self, incident_id: str, name: str, data: bytes) -> str:
        folder = os.path.join(self.directory, _SAFE.sub("_", incident_id or "no-incident"))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, _SAFE.sub("_", name))
        with open(path, "wb") as fh:
            fh.write(data)
        return path


class S3Sink:
    def __init__(self, bucket: str, prefix: str = "aisre/evidence/", client: Any = None, **client_kw: Any) -> None:
        if not bucket:
            raise ConfigError("diagnostics.s3_bucket is empty", path="diagnostics.s3_bucket")
        self.bucket, self.prefix = bucket, prefix
        if client is None:
            import boto3
            client = boto3.client("s3", **{k: v for k, v in client_kw.items() if v})
        self.client = client

    def save(self, incident_id: str, name: str, data: bytes) -> str:
        key = f"{self.prefix}{_SAFE.sub('_', incident_id or 'no-incident')}/{_SAFE.sub('_', name)}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256")
        except Exception as exc:
            raise IntegrationError(f"S3 put failed: {type(exc).__name__}", integration="s3", operation="put_object",
                                   target=f"{self.bucket}/{key}") from None
        return f"s3://{self.bucket}/{key}"


class KubernetesCollector:
    """Logs, events, spec and catalogued exec commands of the target deployment's pods (at most 3 pods)."""

    def __init__(self, api_client: Any, max_pods: int = 3) -> None:
        from kubernetes import client
        self.api = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.max_pods = max_pods

    def _pods(self, request: ActionRequest) -> list[Any]:
        ns, name = request.target.namespace or "default", request.target.name
        dep = self.apps.read_namespaced_deployment(name, ns)
        labels = (dep.spec.selector.match_labels or {}) if dep.spec and dep.spec.selector else {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return list(self.core.list_namespaced_pod(ns, label_selector=selector).items)[: self.max_pods]

    def collect(self, kind: str, request: ActionRequest, step: CaptureStep) -> bytes:
        ns, name = request.target.namespace or "default", request.target.name
        if kind == "spec":
            import yaml
            dep = self.apps.read_namespaced_deployment(name, ns)
            return yaml.safe_dump(self.api.sanitize_for_serialization(dep), sort_keys=False).encode()
        if kind == "events":
            events = self.core.list_namespaced_event(ns).items
            lines = [f"{e.last_timestamp or e.event_time or ''} {e.type} {e.reason} "
                     f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
                     for e in events if e.involved_object and (e.involved_object.name or "").startswith(name)]
            return ("\n".join(lines) or "(no events)").encode()
        pods = self._pods(request)
        if not pods:
            raise IntegrationError(f"no pods found for deployment {ns}/{name}", integration="kubernetes")
        chunks = []
        for pod in pods:
            pname = pod.metadata.name
            if kind == "logs":
                text = self.core.read_namespaced_pod_log(pname, ns, tail_lines=max(1, int(step.lines)),
                                                         _request_timeout=step.timeout_s)
            else:
                from kubernetes.stream import stream
                text = stream(self.core.connect_get_namespaced_pod_exec, pname, ns, command=list(EXEC_COMMANDS[kind]),
                              stderr=True, stdin=False, stdout=True, tty=False, _request_timeout=step.timeout_s)
            chunks.append(f"===== {ns}/{pname} =====\n{text}")
        return "\n".join(chunks).encode()


def capture_evidence(request: ActionRequest, steps: Sequence[CaptureStep], *, collector: Collector,
                     sink: EvidenceSink, budget_s: float = 30.0, redact: Callable[[str], str] | None = None,
                     clock: Callable[[], float] = time.time) -> CaptureReport:
    """Collect and save every step within ``budget_s`` (wall clock); never raises, never blocks the fix longer."""
    for s in steps:
        if s.kind not in KINDS:
            raise ValidationError(f"unknown capture kind {s.kind!r} (one of {', '.join(KINDS)})", what="capture")
    results: "queue.Queue[CapturedItem]" = queue.Queue()
    stamp = iso(clock()).replace(":", "")

    def work() -> None:
        for step in steps:
            try:
                data = collector.collect(step.kind, request, step)[:MAX_BYTES]
                if redact is not None:
                    data = redact(data.decode("utf-8", "replace")).encode()
                where = sink.save(request.incident_id, f"{stamp}-{request.service}-{step.kind}.txt", data)
                results.put(CapturedItem(kind=step.kind, ok=True, location=where, size=len(data)))
            except Exception as exc:  # one failed capture never stops the others or the fix
                results.put(CapturedItem(kind=step.kind, ok=False, detail=f"{type(exc).__name__}: {exc}"[:200]))

    started = time.monotonic()
    worker = threading.Thread(target=work, name="aisre-capture", daemon=True)
    worker.start()
    worker.join(timeout=budget_s)
    items = []
    while not results.empty():
        items.append(results.get_nowait())
    done = {i.kind for i in items}
    timed_out = worker.is_alive()
    for step in steps:
        if step.kind not in done and timed_out:
            items.append(CapturedItem(kind=step.kind, ok=False, detail=f"not finished within {budget_s:g}s"))
    return CaptureReport(items=tuple(items), timed_out=timed_out, elapsed_s=round(time.monotonic() - started, 3),
                         budget_s=budget_s)


def build_capture(config: Any, *, collectors: Mapping[str, Collector] | None = None,
                  redact: Callable[[str], str] | None = None
                  ) -> Callable[[ActionRequest, Sequence[CaptureStep]], CaptureReport] | None:
    """A ``capture(request, steps)`` function from ``config.diagnostics``, or None when disabled."""
    diag = dict(getattr(config, "raw", {}).get("diagnostics") or {})
    if not diag.get("enabled", True):
        return None
    if diag.get("s3_bucket"):
        aws = dict(config.targets.get("aws") or {})
        sink: EvidenceSink = S3Sink(diag["s3_bucket"], diag.get("s3_prefix", "aisre/evidence/"),
                                    region_name=aws.get("region"), endpoint_url=aws.get("endpoint_url"),
                                    aws_access_key_id=aws.get("access_key_id"),
                                    aws_secret_access_key=aws.get("secret_access_key"))
    else:
        sink = LocalSink(diag.get("dir") or "/var/lib/aisre/evidence")
    budget = float(diag.get("budget_s", 30))
    table = dict(collectors or {})

    def capture(request: ActionRequest, steps: Sequence[CaptureStep]) -> CaptureReport:
        collector = table.get(request.target.kind)
        if collector is None and request.target.kind == "kubernetes" and config.targets.get("kubernetes") is not None:
            from aisre.remediate.kubernetes import build_kube_client
            collector = table.setdefault("kubernetes", KubernetesCollector(build_kube_client(config.targets["kubernetes"])))
        if collector is None:
            return CaptureReport(items=tuple(CapturedItem(kind=s.kind, ok=False, detail=f"no collector for "
                                                          f"{request.target.kind} targets") for s in steps),
                                 budget_s=budget)
        return capture_evidence(request, steps, collector=collector, sink=sink, budget_s=budget, redact=redact)

    return capture
