"""Secrets never leak: redaction corpus over both redactors, and the configured secrets kept out of logs,
prompts (the fake LLM records what it was sent), trigger payloads, reports and the audit log."""
from __future__ import annotations

import json
import logging
import pathlib

import pytest
import yaml

from aisre.analysis.redact import Redactor
from aisre.config import load_config, secret_values
from aisre.detect.masking import redact as mask_redact
from aisre.state import MemoryStore
from plugins.reliability_world import (SECRETS, ListNotifier, RecordingExecutor, T0, make_runtime, memory_signal,
                                       run_workflow, world_config)

CORPUS = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "reliability" /
                         "secrets_corpus.yaml").read_text())


def test_corpus_is_broad():
    assert len(CORPUS) >= 25 and len({c["kind"] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c["kind"] for c in CORPUS])
def test_analysis_redactor_removes_every_secret_shape(case):
    out = Redactor().redact(case["text"])
    assert case["secret"] not in out, out
    assert "[" in out                      # the mask says something was there


@pytest.mark.parametrize("case", CORPUS, ids=[c["kind"] for c in CORPUS])
def test_log_masking_redacts_every_secret_shape(case):
    out = mask_redact(case["text"])
    assert case["secret"] not in out, out


def test_configured_secrets_are_redacted_verbatim_and_url_encoded():
    cfg = load_config(world_config(llm=True))
    values = secret_values(cfg)
    assert set(SECRETS.values()) <= set(values)
    red = Redactor(secrets=values)
    for s in SECRETS.values():
        text = f"weird log: {s} and url-encoded {s.replace('-', '%2D')}"
        assert s not in red.redact(text)


def leaky_signal():
    """A signal whose text carries every configured secret and a corpus of shaped secrets."""
    sig = memory_signal()
    sig["summary"] += " token " + SECRETS["slack"]
    sig["samples"] = [f"ERROR auth failed key={SECRETS['llm_key']} pd={SECRETS['pd']}",
                      *[c["text"] for c in CORPUS[:10]]]
    sig["labels"] = {"dsn": f"postgresql://app:{SECRETS['jira']}@db/x"}
    return sig


def all_secret_strings():
    return list(SECRETS.values()) + [c["secret"] for c in CORPUS[:10]]


def test_secrets_reach_no_prompt_log_report_page_or_audit_line(fake_llm, tmp_path, caplog):
    from aisre.analysis import build_analyst
    from aisre.notify.report import render_report
    def echo(request):          # a model that repeats everything it was shown back into every field
        seen = "\n".join(m["content"] for m in request["messages"])[-3000:]
        return json.dumps({"classification": "known", "severity": "error", "summary": seen[-500:],
                           "suspected_cause": seen[-700:], "evidence": [seen[-400:]], "runbook_id": "memory-leak",
                           "proposed_action": "restart_deployment", "confidence": 0.9, "next_steps": [seen[-300:]]})
    fake_llm.script(echo)
    cfg = world_config(llm=True, audit_path=str(tmp_path / "audit.jsonl"))
    cfg["llm"]["api_base"] = fake_llm.url + "/v1"
    analyst = build_analyst(load_config(cfg))
    pager = ListNotifier("slack")
    rt = make_runtime(MemoryStore(), audit_path=str(tmp_path / "audit.jsonl"), executor=RecordingExecutor(),
                      notifiers=[pager], analyst=analyst)
    caplog.set_level(logging.DEBUG)
    out = run_workflow(rt, leaky_signal())
    rt.escalate(out["incident_id"], "test escalation")
    inc = rt.incident(out["incident_id"])
    surfaces = {
        "prompt": json.dumps(fake_llm.requests),
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "audit": (tmp_path / "audit.jsonl").read_text(),
        "report": render_report(inc, "markdown", environment="prod"),
        "notifications": json.dumps([n.to_dict() for n in pager.sent], default=str),
        "diagnosis": json.dumps(inc.diagnosis.to_dict()),
    }
    assert fake_llm.requests, "the LLM was called"
    for where, text in surfaces.items():
        for s in all_secret_strings():
            assert s not in text, f"secret {s[:8]}... leaked into the {where}"


def test_webhook_trigger_payload_is_redacted():
    from aisre.sources.webhooks import normalise
    body = json.loads((pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "webhooks" / "alertmanager" /
                       "firing.json").read_text())
    alert = body["alerts"][0]
    alert.setdefault("annotations", {})["description"] = "db down: postgresql://app:S3cr3tPgPass@db:5432 " + \
        "token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp"
    alert["annotations"]["summary"] = "key AKIAIOSFODNN7EXAMPLE leaked"
    out = json.dumps(normalise("alertmanager", body).to_dict())
    for s in ("S3cr3tPgPass", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "AKIAIOSFODNN7EXAMPLE"):
        assert s not in out, s


def test_sensor_trigger_payload_is_redacted():
    """Log lines become trigger payloads through the log watcher: samples are masked."""
    from aisre.detect.logwatch import LogWatcher
    from aisre.models import LogRecord
    lines = [LogRecord(ts=T0 + i, service="checkout", level="ERROR",
                       message=f"java.lang.OutOfMemoryError: Java heap space user=a password=Tr0ub4dor3 "
                               f"dsn=postgresql://app:S3cr3tPgPass@db/x key AKIAIOSFODNN7EXAMPLE")
             for i in range(30)]
    signals = LogWatcher(service="checkout").observe(lines, T0 + 60)
    assert signals, "a fatal signature must signal"
    payload = json.dumps([s.to_dict() for s in signals])
    for s in ("Tr0ub4dor3", "S3cr3tPgPass", "AKIAIOSFODNN7EXAMPLE"):
        assert s not in payload, s
