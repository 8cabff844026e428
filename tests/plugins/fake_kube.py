"""A fake Kubernetes API server on loopback that the real ``kubernetes`` client talks to.

``ThreadingHTTPServer`` keyed by method + path. Objects live in ``.objects`` keyed by their API path
(``/apis/apps/v1/namespaces/prod/deployments/web``) in real API shapes. It serves GET (object or list,
with ``labelSelector`` / ``fieldSelector``), PATCH (strategic-merge and merge patches applied as a JSON
merge; JSON-patch bodies are refused as the real server would with a dict), the ``/scale`` subresource,
DELETE, and POST ``.../pods/<name>/eviction`` (honouring PodDisruptionBudgets: 429 when
``disruptionsAllowed`` is 0). ``?dryRun=All`` validates and answers without storing. A spec change bumps
``metadata.generation``; ``complete_rollout`` (or ``auto_complete=True``) makes the status catch up.
Every call is recorded in ``.calls``; ``fail(method, path, status)`` injects errors.

Usage::

    def test_x(fake_kube):
        fake_kube.add_deployment("web", "prod", replicas=3)
        api = kubernetes.client.ApiClient(kubernetes.client.Configuration(host=fake_kube.url))
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

LISTS = {"deployments": "DeploymentList", "replicasets": "ReplicaSetList", "statefulsets": "StatefulSetList",
         "pods": "PodList", "poddisruptionbudgets": "PodDisruptionBudgetList", "nodes": "NodeList",
         "jobs": "JobList", "events": "EventList"}
WORKLOADS = ("deployments", "statefulsets", "jobs")


class PlainText(str):
    """A text/plain response body (pod logs)."""


@dataclasses.dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge (null deletes); lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (selector or "").split(",")):
        k, _, v = term.partition("=")
        if labels.get(k.strip()) != v.strip().lstrip("="):
            return False
    return True


def _field(obj: dict[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


class FakeKube:
    """State and helpers; the HTTP handler below serves it."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.failures: list[dict[str, Any]] = []
        self.auto_complete = False
        self.pod_logs: dict[str, str] = {}
        self.lock = threading.RLock()
        self.url = ""
        self._rv = 100

    # -------------------------------------------------------------- building objects

    def _meta(self, name: str, ns: str | None, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        self._rv += 1
        meta = {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": str(self._rv), "generation": 1,
                "creationTimestamp": "2026-11-28T00:00:00Z", "labels": dict(labels or {}), "annotations": {}}
        if ns is not None:
            meta["namespace"] = ns
        meta.update(extra)
        return meta

    @staticmethod
    def _template(labels: dict[str, str], image: str) -> dict[str, Any]:
        return {"metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "app", "image": image}]}}

    def put(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.objects[path] = obj
        return obj

    def get(self, path: str) -> dict[str, Any]:
        with self.lock:
            return self.objects[path]

    def add_deployment(self, name: str, ns: str = "default", replicas: int = 3, image: str = "app:2",
                       revision: int = 2, history: tuple[str, ...] = ("app:1",), pods: bool = True) -> dict[str, Any]:
        """A complete, stable deployment plus its ReplicaSets (older images in ``history``) and pods."""
        labels = {"app": name}
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": self._meta(name, ns, labels, annotations={"deployment.kubernetes.io/revision": str(revision)}),
               "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": self._template(labels, image),
                        "strategy": {"type": "RollingUpdate"}},
               "status": {}}
        self.put(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}", dep)
        self.complete_rollout(ns, name)
        uid = dep["metadata"]["uid"]
        images = list(history) + [image]
        for i, img in enumerate(images):
            rev = revision - len(images) + 1 + i
            rs_name = f"{name}-{hashlib.sha256(f'{name}{img}{rev}'.encode()).hexdigest()[:8]}"
            h = rs_name.rsplit("-", 1)[1]
            owner = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": True}]
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": self._meta(rs_name, ns, {**labels, "pod-template-hash": h}, ownerReferences=owner,
                                         annotations={"deployment.kubernetes.io/revision": str(rev)}),
                  "spec": {"replicas": replicas if img == image else 0,
                           "selector": {"matchLabels": {**labels, "pod-template-hash": h}},
                           "template": self._template({**labels, "pod-template-hash": h}, img)},
                  "status": {"replicas": replicas if img == image else 0}}
            self.put(f"/apis/apps/v1/namespaces/{ns}/replicasets/{rs_name}", rs)
            if pods and img == image:
                for p in range(replicas):
                    self.add_pod(f"{rs_name}-p{p}", ns, {**labels, "pod-template-hash": h}, owner_kind="ReplicaSet",
                                 owner_name=rs_name, image=img, node=f"node-{p % 2}")
        return dep

    def add_statefulset(self, name: str, ns: str = "default", replicas: int = 3, strategy: str = "RollingUpdate",
                        partition: int = 0) -> dict[str, Any]:
        labels = {"app": name}
        upd: dict[str, Any] = {"type": strategy}
        if strategy == "RollingUpdate":
            upd["rollingUpdate"] = {"partition": partition}
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": self._meta(name, ns, labels),
               "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                        "template": self._template(labels, "db:1"), "updateStrategy": upd},
               "status": {}}
        self.put(f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}", sts)
        self.complete_rollout(ns, name, "statefulsets")
        return sts

    def add_pod(self, name: str, ns: str = "default", labels: dict[str, str] | None = None, *, restarts: int = 0,
                crashloop: bool = False, node: str = "node-0", owner_kind: str = "ReplicaSet", owner_name: str = "",
                image: str = "app:1", phase: str = "Running") -> dict[str, Any]:
        state = ({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}
                 if crashloop else {"running": {"startedAt": "2026-11-28T00:00:00Z"}})
        owner = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name or name, "uid": str(uuid.uuid4()),
                  "controller": True}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": self._meta(name, ns, labels, ownerReferences=owner),
               "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
               "status": {"phase": phase, "containerStatuses": [
                   {"name": "app", "image": image, "imageID": "", "ready": not crashloop, "restartCount": restarts,
                    "state": state,
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if restarts else {}}]}}
        return self.put(f"/api/v1/namespaces/{ns}/pods/{name}", pod)

    def add_event(self, ns: str, involved_kind: str, involved_name: str, reason: str, message: str,
                  type_: str = "Warning") -> dict[str, Any]:
        name = f"{involved_name}.{len(self.objects)}"
        ev = {"apiVersion": "v1", "kind": "Event", "metadata": self._meta(name, ns),
              "involvedObject": {"kind": involved_kind, "name": involved_name, "namespace": ns},
              "reason": reason, "message": message, "type": type_, "count": 1,
              "lastTimestamp": "2026-11-28T02:00:00Z"}
        return self.put(f"/api/v1/namespaces/{ns}/events/{name}", ev)

    def set_pod_log(self, ns: str, pod: str, text: str) -> None:
        with self.lock:
            self.pod_logs[f"/api/v1/namespaces/{ns}/pods/{pod}"] = text

    def add_pdb(self, name: str, ns: str, match_labels: dict[str, str], disruptions_allowed: int) -> dict[str, Any]:
        pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": self._meta(name, ns),
               "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(match_labels)}},
               "status": {"currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": disruptions_allowed,
                          "expectedPods": 3, "observedGeneration": 1}}
        return self.put(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}", pdb)

    def add_node(self, name: str, unschedulable: bool = False) -> dict[str, Any]:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": self._meta(name, None, {"kubernetes.io/hostname": name}),
                "spec": {"unschedulable": unschedulable} if unschedulable else {},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        return self.put(f"/api/v1/nodes/{name}", node)

    def add_job(self, name: str, ns: str = "default", active: int = 2) -> dict[str, Any]:
        labels = {"job-name": name}
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": self._meta(name, ns, labels),
               "spec": {"suspend": False, "template": {**self._template(labels, "batch:1"),
                                                       "spec": {"containers": [{"name": "job", "image": "batch:1"}],
                                                                "restartPolicy": "Never"}}},
               "status": {"active": active}}
        return self.put(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}", job)

    # -------------------------------------------------------------- controllers, by hand

    def complete_rollout(self, ns: str, name: str, resource: str = "deployments") -> None:
        """Make the workload's status report a finished rollout of its current generation."""
        group = "batch/v1" if resource == "jobs" else "apps/v1"
        with self.lock:
            obj = self.objects[f"/apis/{group}/namespaces/{ns}/{resource}/{name}"]
            if resource == "jobs":
                if obj["spec"].get("suspend"):
                    obj["status"]["active"] = 0
                return
            n = obj["spec"].get("replicas", 1)
            st = obj.setdefault("status", {})
            st.update({"observedGeneration": obj["metadata"]["generation"], "replicas": n, "updatedReplicas": n,
                       "readyReplicas": n, "availableReplicas": n})
            if resource == "statefulsets":
                partition = ((obj["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)
                rev = f"{name}-r{obj['metadata']['generation']}"
                st["updatedReplicas"] = max(0, n - partition)
                st["updateRevision"] = rev
                if partition == 0:
                    st.update({"currentReplicas": n, "currentRevision": rev})
                else:
                    st.setdefault("currentRevision", f"{name}-r0")

    def complete_all(self) -> None:
        with self.lock:
            for path in list(self.objects):
                parts = path.strip("/").split("/")
                if len(parts) >= 6 and parts[-2] in WORKLOADS:
                    self.complete_rollout(parts[-3], parts[-1], parts[-2])

    def fail(self, method: str, path: str, status: int, times: int = 1, reason: str = "InternalError",
             delay_s: float = 0.0) -> None:
        """The next ``times`` calls of ``method path`` answer ``status`` after ``delay_s`` (status 200 = only
        delay, then serve normally: a slow server)."""
        with self.lock:
            self.failures.append({"method": method.upper(), "path": path, "status": status, "times": times,
                                  "reason": reason, "delay_s": delay_s})

    def calls_to(self, method: str, path_part: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and path_part in c.path]

    # -------------------------------------------------------------- request handling

    def handle(self, method: str, raw_path: str, body: bytes, content_type: str) -> tuple[int, Any]:
        split = urlsplit(raw_path)
        path = split.path.rstrip("/")
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return 400, _status(400, "BadRequest", "body is not JSON")
        injected = None
        with self.lock:
            self.calls.append(Call(method, path, query, parsed, content_type))
            for f in self.failures:
                if f["times"] > 0 and f["method"] == method and f["path"] == path:
                    f["times"] -= 1
                    injected = dict(f)
                    break
        if injected is not None:
            time.sleep(injected["delay_s"])
            if injected["status"] != 200:
                return injected["status"], _status(injected["status"], injected["reason"],
                                                   f"injected {injected['status']}")
        with self.lock:
            dry = query.get("dryRun") == "All"
            if method == "GET":
                return self._get(path, query)
            if method == "PATCH":
                return self._patch(path, parsed, content_type, dry)
            if method == "DELETE":
                obj = self.objects.get(path)
                if obj is None:
                    return 404, _status(404, "NotFound", f"{path} not found")
                if not dry:
                    del self.objects[path]
                return 200, obj
            if method == "POST" and path.endswith("/eviction"):
                return self._evict(path[: -len("/eviction")], dry or bool(
                    ((parsed or {}).get("deleteOptions") or {}).get("dryRun")))
        return 405, _status(405, "MethodNotAllowed", f"{method} {path}")

    def _get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path.endswith("/log"):      # pod logs are plain text, like the real API
            pod = self.objects.get(path[: -len("/log")])
            if pod is None:
                return 404, _status(404, "NotFound", f"{path} not found")
            lines = self.pod_logs.get(path[: -len("/log")], "").splitlines()
            tail = int(query.get("tailLines", len(lines) or 1))
            return 200, PlainText("\n".join(lines[-tail:]) + ("\n" if lines else ""))
        if path.endswith("/scale"):
            obj = self.objects.get(path[: -len("/scale")])
            if obj is None:
                return 404, _status(404, "NotFound", f"{path} not found")
            return 200, self._scale(obj)
        if path in self.objects:
            return 200, self.objects[path]
        resource = path.rsplit("/", 1)[-1]
        if resource in LISTS:
            if path == "/api/v1/pods":
                items = [o for p, o in self.objects.items() if p.startswith("/api/v1/namespaces/") and "/pods/" in p]
            else:
                items = [o for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]
            items = [o for o in items if _matches(o["metadata"].get("labels") or {}, query.get("labelSelector", ""))]
            for term in filter(None, query.get("fieldSelector", "").split(",")):
                k, _, v = term.partition("=")
                items = [o for o in items if str(_field(o, k) or "") == v]
            api = "v1" if path.startswith("/api/v1") else "/".join(path.split("/")[2:4])
            return 200, {"apiVersion": api, "kind": LISTS[resource], "metadata": {"resourceVersion": str(self._rv)},
                         "items": sorted(items, key=lambda o: o["metadata"]["name"])}
        return 404, _status(404, "NotFound", f"{path} not found")

    @staticmethod
    def _scale(obj: dict[str, Any]) -> dict[str, Any]:
        m = obj["metadata"]
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": m["name"], "namespace": m.get("namespace"), "uid": m["uid"],
                             "resourceVersion": m["resourceVersion"]},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in obj["spec"]["selector"]["matchLabels"].items())}}

    def _patch(self, path: str, patch: Any, content_type: str, dry: bool) -> tuple[int, Any]:
        if "json-patch" in content_type or not isinstance(patch, dict):
            return 422, _status(422, "Invalid", f"this fake only takes merge patches, got {content_type}")
        sub = path.endswith("/scale")
        obj_path = path[: -len("/scale")] if sub else path
        obj = self.objects.get(obj_path)
        if obj is None:
            return 404, _status(404, "NotFound", f"{obj_path} not found")
        if sub:
            patch = {"spec": {"replicas": (patch.get("spec") or {}).get("replicas")}}
            if not isinstance(patch["spec"]["replicas"], int) or patch["spec"]["replicas"] < 0:
                return 422, _status(422, "Invalid", "spec.replicas must be a non-negative integer")
        new = merge(copy.deepcopy(obj), patch)
        if new.get("spec") != obj.get("spec") and "generation" in new["metadata"]:
            new["metadata"]["generation"] = obj["metadata"]["generation"] + 1
        if dry:
            return 200, self._scale(new) if sub else new
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        self.objects[obj_path] = new
        parts = obj_path.strip("/").split("/")
        if self.auto_complete and parts[-2] in WORKLOADS:
            self.complete_rollout(parts[-3], parts[-1], parts[-2])
        return 200, self._scale(new) if sub else new

    def _evict(self, pod_path: str, dry: bool) -> tuple[int, Any]:
        pod = self.objects.get(pod_path)
        if pod is None:
            return 404, _status(404, "NotFound", f"{pod_path} not found")
        ns = pod["metadata"]["namespace"]
        labels = pod["metadata"].get("labels") or {}
        pdbs = [o for p, o in self.objects.items()
                if p.startswith(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/")
                and all(labels.get(k) == v for k, v in o["spec"]["selector"].get("matchLabels", {}).items())]
        if any(p["status"]["disruptionsAllowed"] < 1 for p in pdbs):
            return 429, _status(429, "TooManyRequests",
                                "Cannot evict pod as it would violate the pod's disruption budget.")
        if not dry:
            for p in pdbs:
                p["status"]["disruptionsAllowed"] -= 1
            del self.objects[pod_path]
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKube

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.fake.handle(self.command, self.path, body, self.headers.get("Content-Type") or "")
        plain = isinstance(payload, PlainText)
        data = payload.encode() if plain else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if plain else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def fake_kube():
    """A running FakeKube: ``.url``, ``.objects``, ``.calls``, ``add_*``, ``complete_rollout``, ``fail``."""
    fake = FakeKube()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def kube_api(fake_kube):
    """A real ``kubernetes.client.ApiClient`` pointed at ``fake_kube``."""
    from kubernetes import client

    api = client.ApiClient(client.Configuration(host=fake_kube.url))
    try:
        yield api
    finally:
        api.close()
