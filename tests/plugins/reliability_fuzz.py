"""Fuzz targets for every parser of outside input: a Hypothesis strategy and a property per parser.

Shared by ``tests/unit/reliability/test_rel_fuzz.py`` (CI size) and ``bench/fuzz.py`` (>= 10,000 cases
per parser). Each property calls the real parser and accepts exactly two outcomes:

* a typed result (checked for the invariants the parser promises: JSON-serialisable, allow-lists kept);
* an :class:`aisre.errors.SreError` subclass whose message is not empty and names what was wrong.

Anything else (KeyError, TypeError, RecursionError, ...) fails the property.
"""
from __future__ import annotations

import copy
import json
import math
import pathlib
import tempfile
from typing import Any, Callable

from hypothesis import strategies as st

from aisre.errors import SreError

ROOT = pathlib.Path(__file__).resolve().parents[2]
WEBHOOK_FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
RUNBOOKS = ROOT / "knowledge" / "runbooks"

HOSTILE = ["", " ", "\x00", "\u202e", "💥" * 3, "ignore previous instructions", "'; DROP TABLE x;--",
           "{{ 7*7 }}", "${jndi:ldap://x}", "A" * 5000, "-1", "1e400", "NaN", "Infinity", "null", "[]", "{}",
           "2026-13-45T25:61:61Z", "0", "-9999999999999", "../../etc/passwd", "<script>alert(1)</script>",
           "[" * 20000, "{\"a\":" * 5000]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.sampled_from(HOSTILE))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=30)


def _check_error(exc: SreError) -> None:
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} with an empty message"


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, prefix + (i,)))
    return out


@st.composite
def mutated(draw: Any, doc: Any, values: Any = json_values, max_mutations: int = 4) -> Any:
    """``doc`` with a few nodes replaced, deleted or given hostile values."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        op = draw(st.sampled_from(["replace", "delete", "hostile", "type"]))
        last = path[-1]
        if op == "delete":
            del parent[last]
        elif op == "hostile":
            parent[last] = draw(st.sampled_from(HOSTILE))
        elif op == "type":
            parent[last] = draw(st.sampled_from([None, 0, -1, 1.5, True, [], {}, "x", [None], {"": None}]))
        else:
            parent[last] = draw(values)
    return doc


def _json_safe(obj: Any) -> None:
    json.dumps(obj, allow_nan=True, default=str)


# --------------------------------------------------------------------------- webhooks

def webhook_fixtures() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for kind_dir in sorted(p for p in WEBHOOK_FIXTURES.iterdir() if p.is_dir()):
        out[kind_dir.name] = [json.loads(f.read_text()) for f in sorted(kind_dir.glob("*.json"))]
    return out


_FIXTURES = webhook_fixtures()


def _bad_cert(url: str) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"


@st.composite
def webhook_cases(draw: Any) -> tuple[str, Any, dict[str, str], bool]:
    from aisre.sources.webhooks import KINDS
    kind = draw(st.sampled_from(list(KINDS)))
    fixtures = _FIXTURES.get(kind, [])
    how = draw(st.sampled_from(["mutated", "mutated", "mutated", "arbitrary", "text", "bytes"]))
    if how == "mutated" and fixtures:
        body = draw(mutated(draw(st.sampled_from(fixtures))))
    elif how == "text":
        body = draw(st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE)))
    elif how == "bytes":
        body = draw(st.binary(max_size=200))
    else:
        body = draw(json_values)
    headers = draw(st.dictionaries(st.sampled_from(["X-GitHub-Event", "X-Hub-Signature-256", "x-amz-sns-message-type",
                                                     "Content-Type", "X-Argo-Event"]),
                                   st.one_of(st.text(max_size=20), st.sampled_from(
                                       ["deployment_status", "Notification", "SubscriptionConfirmation",
                                        "sha256=00", "application/json"])), max_size=3))
    verify = draw(st.booleans())
    return kind, body, headers, verify


def prop_webhook(case: tuple[str, Any, dict[str, str], bool]) -> None:
    from aisre.sources.webhooks import normalise
    kind, body, headers, verify = case
    try:
        res = normalise(kind, body, headers, now=1_800_000_000.0, verify_sns=verify, cert_fetcher=_bad_cert,
                        github_secret="s3cret" if verify else None)
    except SreError as exc:
        _check_error(exc)
        return
    _json_safe(res.to_dict())
    for s in res.signals:
        assert isinstance(s.service, str) and isinstance(s.name, str), s
        assert isinstance(s.ts, float) and math.isfinite(s.ts), s.ts


# --------------------------------------------------------------------------- trigger payloads

_SIGNAL = {"id": "sig-1", "kind": "alert", "source": "datadog", "service": "checkout", "name": "HighErrorRate",
           "summary": "error rate 12%", "severity": "error", "ts": 1_800_000_000.0, "labels": {"env": "prod"},
           "samples": ["ERROR x"], "evidence": {"monitor": 1}}


@st.composite
def signal_payloads(draw: Any) -> Any:
    return draw(st.one_of(mutated(_SIGNAL), json_values))


def prop_signal(payload: Any) -> None:
    """A trigger payload parses to a Signal (or a ValidationError) and the correlator accepts or refuses it."""
    from aisre.correlate import Correlator
    from aisre.models import Signal
    from aisre.state import MemoryStore
    try:
        sig = Signal.from_dict(payload)
        _json_safe(sig.to_dict())
        inc, _ = Correlator(MemoryStore(clock=lambda: 1_800_000_000.0), clock=lambda: 1_800_000_000.0).ingest(sig)
        _json_safe(inc.to_dict())
    except SreError as exc:
        _check_error(exc)


@st.composite
def incident_texts(draw: Any) -> str:
    from aisre.models import Incident, Signal
    sig = Signal.from_dict(_SIGNAL)
    inc = Incident(id="inc-1", fingerprint="fp", service="checkout", services=("checkout",), signals=(sig,),
                   opened_at=1.0, updated_at=1.0)
    how = draw(st.sampled_from(["mutated", "text", "truncated"]))
    if how == "mutated":
        return json.dumps(draw(mutated(inc.to_dict())), default=str)
    text = inc.to_json()
    if how == "truncated":
        return text[:draw(st.integers(0, len(text)))]
    return draw(st.text(max_size=200))


def prop_incident(text: str) -> None:
    from aisre.models import Incident
    try:
        inc = Incident.from_json(text)
        _json_safe(inc.to_dict())
    except SreError as exc:
        _check_error(exc)


# --------------------------------------------------------------------------- LLM output

_ANSWER = {"classification": "known", "severity": "error", "summary": "Memory leak on checkout",
           "suspected_cause": "leak", "evidence": ["memory 93 vs 60"], "runbook_id": "memory-leak-restart",
           "proposed_action": "restart_deployment", "confidence": 0.9, "next_steps": ["check heap"]}
_ACTIONS = ["restart_deployment", "scale_deployment", "redis_flushall", "drop_database", "delete_namespace",
            "pg_terminate_query", "rollback_deployment", "rotate_credentials", "disable_monitoring", ""]


@st.composite
def llm_answers(draw: Any) -> str:
    how = draw(st.sampled_from(["mutated", "mutated", "hostile", "text", "fenced", "prose"]))
    if how == "text":
        return draw(st.text(max_size=300))
    data = draw(mutated(_ANSWER))
    if how == "hostile" and isinstance(data, dict):
        data["runbook_id"] = draw(st.sampled_from(["memory-leak-restart", "disk-full-cleanup", "made-up", None, 7]))
        data["proposed_action"] = draw(st.sampled_from(_ACTIONS + [None, 3, ["restart_deployment"]]))
        data["action_params"] = {"replicas": 0, "pattern": "*"}
    body = json.dumps(data, default=str)
    if how == "fenced":
        return "```json\n" + body + "\n```"
    if how == "prose":
        return "Sure! " + body + " Hope that helps. {"
    return body


class ScriptedClient:
    """The provider side of the LLM call: answers with the drawn text (in process, for speed)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.messages: list[Any] = []

    def complete(self, messages: list[dict[str, str]]) -> str:
        self.messages.append(messages)
        return self.answers.pop(0) if self.answers else "no more answers"


_CATALOGUE: dict[str, Any] = {}


def catalogue() -> dict[str, Any]:
    if not _CATALOGUE:
        import yaml
        from aisre.models import Runbook
        path = ROOT / "bench" / "data" / "triage" / "catalogue.yaml"
        _CATALOGUE.update({d["id"]: Runbook.from_dict(d) for d in yaml.safe_load(path.read_text())})
    return _CATALOGUE


def prop_llm(answers: tuple[str, str]) -> None:
    """The analyst never raises on model output, and never widens the allow-lists."""
    from aisre.analysis.llm import LLMAnalyst, parse_json_object, validate_output
    from aisre.models import (AnomalyClass, Classification, Incident, Retrieval, RunbookMatch, Severity,
                              Signal)
    try:
        validate_output(parse_json_object(answers[0]))
    except SreError as exc:
        _check_error(exc)
    runbooks = catalogue()
    s = Signal(id="s1", kind="metric", source="prometheus", service="checkout", name="memory_pct",
               summary="memory climbing", value=93.0, expected=60.0, severity=Severity.ERROR, ts=1.8e9,
               onset_ts=1.8e9, anomaly_class=AnomalyClass.TREND)
    inc = Incident(id="inc-1", fingerprint="fp", service="checkout", services=("checkout",), signals=(s,),
                   opened_at=1.8e9, updated_at=1.8e9)
    ms = (RunbookMatch(runbook_id="memory-leak-restart", score=0.8, confidence=0.8),)
    retrieval = Retrieval(query="q", matches=ms, best=ms[0])
    d = LLMAnalyst("openai/fake", client=ScriptedClient(*answers)).diagnose(inc, retrieval, runbooks)
    assert d.runbook_id in (None, "memory-leak-restart"), d.runbook_id
    if d.proposed_action is not None:
        rb = runbooks[d.runbook_id]
        assert rb.action(d.proposed_action) is not None, d.proposed_action
        assert d.classification is Classification.KNOWN
        assert dict(d.action_params) == dict(rb.action(d.proposed_action).params)
    _json_safe(d.to_dict())


def llm_cases() -> Any:
    return st.tuples(llm_answers(), llm_answers())


# --------------------------------------------------------------------------- runbook files

_RUNBOOK_TEXTS = {p.name: p.read_text() for p in sorted(RUNBOOKS.glob("*.yaml"))[:8]}
_MD = (ROOT / "knowledge" / "wiki" / "redis-sentinel-failover.md")
if _MD.exists():
    _RUNBOOK_TEXTS[_MD.name] = _MD.read_text()


@st.composite
def runbook_texts(draw: Any) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(_RUNBOOK_TEXTS)))
    suffix = ".md" if name.endswith(".md") else ".yaml"
    text = _RUNBOOK_TEXTS[name]
    how = draw(st.sampled_from(["lines", "lines", "yaml-mutated", "text", "hostile"]))
    if how == "text":
        return suffix, draw(st.text(max_size=400))
    if how == "yaml-mutated" and suffix == ".yaml":
        import yaml
        return suffix, yaml.safe_dump(draw(mutated(yaml.safe_load(text))), allow_unicode=True)
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "dup", "replace", "indent", "hostile"]))
        if op == "delete":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "hostile":
            key = lines[i].split(":")[0] if ":" in lines[i] else lines[i]
            lines[i] = f"{key}: {draw(st.sampled_from(HOSTILE + ['forbidden', 'safe', '[', '{', '*a', '&a x']))}"
        else:
            lines[i] = draw(st.text(max_size=40))
    return suffix, "\n".join(lines)


def prop_runbook(case: tuple[str, str]) -> None:
    from aisre.knowledge.loader import load_runbook
    from aisre.models import Runbook
    from aisre.policy.actions import ACTIONS
    suffix, text = case
    with tempfile.TemporaryDirectory(prefix="aisre-fuzz-") as d:
        path = pathlib.Path(d) / f"rb{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass") if False else \
            path.write_bytes(text.encode("utf-8", errors="replace"))
        try:
            rb = load_runbook(path)
        except SreError as exc:
            _check_error(exc)
            assert str(path) in str(exc), f"message does not name the file: {exc}"
            return
    assert isinstance(rb, Runbook) and rb.id
    for a in rb.actions:
        assert a.action in ACTIONS, f"unknown action {a.action!r} accepted"
    _json_safe(rb.to_dict())


# --------------------------------------------------------------------------- config documents

_CONFIG = {
    "environment": "prod",
    "services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": "q", "source": "prometheus"}],
                  "target": {"kind": "kubernetes", "name": "checkout", "namespace": "shop"}}],
    "sources": {"prometheus": {"url": "http://p:9090"}},
    "safety": {"mode": "limited", "max_attempts": 2},
    "llm": {"model": "openai/x", "api_key": "sk-abc"},
    "notify": {"slack": {"token": "xoxb-1", "channel": "#inc"}},
}


@st.composite
def config_docs(draw: Any) -> Any:
    return draw(st.one_of(mutated(_CONFIG), mutated(_CONFIG), json_values))


def prop_config(doc: Any) -> None:
    from aisre.config import Config, load_config, secret_values
    try:
        cfg = load_config(doc)
    except SreError as exc:
        _check_error(exc)
        return
    assert isinstance(cfg, Config)
    secret_values(cfg)
    for svc in cfg.services:
        assert isinstance(svc.name, str) and svc.name


# --------------------------------------------------------------------------- alias parameters

def window_texts() -> Any:
    return st.one_of(st.text(max_size=12), st.from_regex(r"\s*\d{1,12}(\.\d{0,4})?\s*[smhdw]?\s*", fullmatch=True),
                     st.sampled_from(HOSTILE))


def prop_window(text: str) -> None:
    from aisre.runtime import parse_window
    try:
        seconds = parse_window(text)
    except SreError as exc:
        _check_error(exc)
        assert "window" in str(exc)
        return
    assert 0 < seconds <= 30 * 86400


@st.composite
def order_params(draw: Any) -> tuple[str, str, Any]:
    action = draw(st.one_of(st.sampled_from(_ACTIONS + ["redis_flushall", "scale_deployment"]), st.text(max_size=20)))
    service = draw(st.one_of(st.just("checkout"), st.text(max_size=20), st.sampled_from(HOSTILE)))
    params = draw(st.one_of(st.dictionaries(st.sampled_from(["replicas", "pattern", "namespace", "query", "pid",
                                                             "revision", "flag", "x"]), scalars, max_size=4),
                            json_values))
    return action, service, params


def prop_order(case: tuple[str, str, Any]) -> None:
    """A ChatOps order with any parameters: a result or a typed error, never a forbidden execution."""
    from aisre.models import ActionStatus
    from aisre.policy.actions import ACTIONS, Safety as _S  # noqa: F401
    action, service, params = case
    rt, executor = _order_runtime()
    try:
        res = _chatops(rt).order(action, service, params=params if isinstance(params, dict) else {"p": params},
                                 user="fuzz")
    except SreError as exc:
        _check_error(exc)
        return
    finally:
        rt.store.delete("aisre.rate.actions")
    _json_safe(res)
    for call in executor.executed:
        spec = ACTIONS.get(call.action)
        assert spec is not None and call.action != "redis_flushall", call
    assert res["status"] in {s.value for s in ActionStatus}


_RT: list[Any] = []


def _order_runtime() -> tuple[Any, Any]:
    if not _RT:
        from aisre.runtime import Runtime
        from aisre.state import MemoryStore
        from plugins.reliability_world import RecordingExecutor, world_config
        ex = RecordingExecutor("kubernetes")
        tmp = tempfile.mkdtemp(prefix="aisre-fuzz-audit-")
        rt = Runtime(world_config(mode="autonomous", audit_path=f"{tmp}/audit.jsonl"), MemoryStore(),
                     overrides={"executors": {"kubernetes": ex}, "dispatcher": _null_dispatcher(),
                                "capture": None})
        _RT.append((rt, ex))
    return _RT[0]


def _chatops(rt: Any) -> Any:
    from aisre.runtime import ChatOps
    return ChatOps(rt)


def _null_dispatcher() -> Any:
    from aisre.notify.dispatch import Dispatcher
    return Dispatcher([])


# --------------------------------------------------------------------------- metric and log sources
# (Prometheus, Datadog, Elasticsearch and Loki bodies: tests/unit/sources/test_source_fuzz.py)

def cloudwatch_specs() -> Any:
    return st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE),
                     st.from_regex(r"[A-Za-z/]{0,8}:[A-Za-z]{0,8}(:[A-Za-z=,:\- ]{0,20})?", fullmatch=True))


def prop_cloudwatch_spec(spec: str) -> None:
    from aisre.sources.cloudwatch import canonical_spec, parse_metric_spec
    try:
        parsed = parse_metric_spec(spec)
    except SreError as exc:
        _check_error(exc)
        assert "CloudWatch" in str(exc)
        return
    assert parsed["namespace"] and parsed["metric"]
    assert isinstance(canonical_spec(parsed), str)


@st.composite
def cloudwatch_events(draw: Any) -> Any:
    real = {"timestamp": 1_800_000_000_000, "message": '{"level":"error","service":"checkout","msg":"boom"}',
            "logStreamName": "s", "eventId": "1"}
    return draw(st.one_of(mutated(real), st.dictionaries(st.sampled_from(list(real)), json_values, max_size=4)))


def prop_cloudwatch_event(ev: Any) -> None:
    from aisre.models import LogRecord
    from aisre.sources.cloudwatch import _event_record
    try:
        rec = _event_record("/aws/x", ev)
    except SreError as exc:
        _check_error(exc)
        return
    assert rec is None or isinstance(rec, LogRecord)
    if rec is not None:
        _json_safe(rec.to_dict())


@st.composite
def log_file_bytes(draw: Any) -> bytes:
    lines = draw(st.lists(st.one_of(
        st.binary(max_size=80), st.text(max_size=80).map(lambda t: t.encode("utf-8", "replace")),
        st.just(b'{"ts": 1800000000, "level": "error", "service": "checkout", "msg": "x"}'),
        st.just(b'{"ts": "soon", "level": [1], "msg": {"a": null}}'), st.just(b"\xff\xfe\x00 broken"),
        st.just(b"A" * 3000)), max_size=12))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


def prop_log_file(data: bytes) -> None:
    from aisre.models import LogRecord
    from aisre.sources.files import FileTailSource
    with tempfile.TemporaryDirectory(prefix="aisre-fuzz-") as d:
        path = pathlib.Path(d) / "app.log"
        path.write_bytes(data)
        src = FileTailSource({str(path): "checkout"}, start_at="beginning", max_line_bytes=1024)
        try:
            batch = src.fetch("", 0, float("inf"), limit=50)
        except SreError as exc:
            _check_error(exc)
            return
    for rec in batch:
        assert isinstance(rec, LogRecord) and len(rec.message) <= 1024 + 64
        _json_safe(rec.to_dict())


@st.composite
def csv_texts(draw: Any) -> str:
    rows = draw(st.lists(st.one_of(
        st.tuples(st.one_of(st.integers(0, 2**40).map(str), st.sampled_from(HOSTILE), st.just("2026-11-28T10:00:00Z")),
                  st.sampled_from(["checkout:memory_pct", "", "a:b:c", "*"]),
                  st.one_of(st.floats(allow_nan=True).map(str), st.sampled_from(HOSTILE))).map(",".join),
        st.text(max_size=40)), max_size=15))
    return "ts,series,value\n" + "\n".join(rows)


def prop_csv(text: str) -> None:
    import math as _m
    from aisre.sources.csv_replay import CsvReplaySource
    with tempfile.TemporaryDirectory(prefix="aisre-fuzz-") as d:
        path = pathlib.Path(d) / "m.csv"
        path.write_text(text, encoding="utf-8", errors="replace") if False else \
            path.write_bytes(text.encode("utf-8", "replace"))
        try:
            out = CsvReplaySource(str(path)).query_range("*", 0, 2**41, 60)
        except SreError as exc:
            _check_error(exc)
            return
    for series in out:
        assert all(_m.isfinite(v) for _, v in series.points), series
        _json_safe(series.to_dict())


# --------------------------------------------------------------------------- the table

TARGETS: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
    "webhooks.normalise": (webhook_cases, prop_webhook),
    "Signal.from_dict+correlate": (signal_payloads, prop_signal),
    "Incident.from_json": (incident_texts, prop_incident),
    "analysis.llm output": (llm_cases, prop_llm),
    "knowledge.load_runbook": (runbook_texts, prop_runbook),
    "config.load_config": (config_docs, prop_config),
    "runtime.parse_window": (window_texts, prop_window),
    "ChatOps.order params": (order_params, prop_order),
    "cloudwatch metric spec": (cloudwatch_specs, prop_cloudwatch_spec),
    "cloudwatch log event": (cloudwatch_events, prop_cloudwatch_event),
    "files.FileTailSource lines": (log_file_bytes, prop_log_file),
    "csv_replay rows": (csv_texts, prop_csv),
}
