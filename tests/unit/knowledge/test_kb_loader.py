"""Runbook schema and loader: every shipped entry validates; bad files fail with file + JSON path."""
from __future__ import annotations

from pathlib import Path

import pytest

from aisre.errors import ValidationError
from aisre.knowledge.loader import load_runbook, load_runbooks, scan_runbooks
from aisre.knowledge.schema import KNOWN_ACTIONS, METRIC_VOCABULARY
from aisre.models import Safety

ROOT = Path(__file__).resolve().parents[3]
KNOWLEDGE = ROOT / "knowledge"

REQUIRED_IDS = {
    "memory-leak", "crash-loop", "bad-deploy", "disk-full", "db-connection-exhaustion", "db-runaway-query",
    "db-primary-failure", "cache-saturation", "queue-backlog", "traffic-spike", "stuck-batch-job",
    "unhealthy-node", "cpu-saturation", "oom-killed", "third-party-outage", "transient-glitch",
    "feature-flag-regression", "certificate-expiry", "dns-failure", "db-slow-queries", "thread-pool-exhaustion",
    "config-regression", "az-network-partition", "unknown-error-surge", "replication-lag",
}
NO_SAFE_FIX = {"unknown-error-surge", "third-party-outage", "az-network-partition", "db-slow-queries",
               "certificate-expiry", "dns-failure"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """\
id: sample
title: Sample runbook
symptoms:
  metrics: [{metric: cpu_pct, condition: "> 90"}]
actions:
  - {action: scale_deployment, params: {factor: 2}, safety: safe}
"""


def test_every_shipped_runbook_validates_and_required_ids_exist():
    runbooks = load_runbooks(KNOWLEDGE / "runbooks")
    ids = {r.id for r in runbooks}
    assert REQUIRED_IDS <= ids
    for rb in runbooks:
        assert rb.content_hash and rb.source_path.endswith(".yaml")
        assert rb.title and rb.description and rb.diagnosis, rb.id
        for m in rb.symptoms.metrics:
            assert m.metric in METRIC_VOCABULARY
        for a in rb.actions:
            assert a.action in KNOWN_ACTIONS and a.safety is not None


def test_whole_knowledge_tree_loads_including_incidents_and_wiki():
    entries = load_runbooks(KNOWLEDGE)
    kinds = {e.kind for e in entries}
    assert kinds == {"runbook", "incident"}
    wiki = [e for e in entries if "wiki" in e.tags]
    assert wiki and all(not e.actions and e.auto_remediate is False for e in wiki)
    inc = next(e for e in entries if e.kind == "incident")
    assert inc.auto_remediate is False and any(t.startswith("runbook:") for t in inc.tags)


def test_memory_leak_contract():
    rb = load_runbook(KNOWLEDGE / "runbooks" / "memory-leak.yaml")
    assert any(m.metric == "memory_pct" and m.anomaly_class.value == "trend" for m in rb.symptoms.metrics)
    assert "OutOfMemoryError" in rb.symptoms.log_signatures
    assert any("GC overhead" in s for s in rb.symptoms.log_signatures)
    act = rb.action("restart_deployment")
    assert act is not None and act.safety is Safety.SAFE and act.max_attempts == 2
    assert "memory_pct > 80" in act.preconditions
    assert act.verify[0].metric == "memory_pct" and act.verify[0].condition == "< 70"
    assert act.verify[0].within_minutes == 5
    assert "open a ticket for the owning team to fix the leak" in rb.escalation.notes.lower()


def test_runbooks_without_safe_fix_never_auto_remediate_safely():
    for rb in load_runbooks(KNOWLEDGE / "runbooks"):
        if rb.id in NO_SAFE_FIX:
            assert rb.auto_remediate is False or all(a.safety is not Safety.SAFE for a in rb.actions), rb.id
            assert rb.escalation.team and rb.diagnosis
    glitch = load_runbook(KNOWLEDGE / "runbooks" / "transient-glitch.yaml")
    assert glitch.actions == ()


def test_content_hash_changes_with_content(tmp_path):
    p = _write(tmp_path, "a.yaml", GOOD)
    h1 = load_runbook(p).content_hash
    assert load_runbook(p).content_hash == h1
    p.write_text(GOOD.replace("Sample runbook", "Sample runbook v2"))
    assert load_runbook(p).content_hash != h1


@pytest.mark.parametrize("text, expected", [
    ("id: x\ntitle: [unclosed\n", "invalid YAML line"),
    ("title: No id here\nsymptoms: {}\n", "'id' is a required property"),
    (GOOD.replace("safety: safe", "safety: risky"), "$.actions[0].safety: 'risky' is not one of"),
    (GOOD.replace("scale_deployment", "rm_rf_everything"), "$.actions[0].action"),
    (GOOD.replace("cpu_pct", "cpu_percent"), "$.symptoms.metrics[0].metric"),
    (GOOD.replace("params: {factor: 2}, ", ""), "$.actions[0]"),
    (GOOD + "colour: blue\n", "Additional properties are not allowed ('colour'"),
    ("- just\n- a list\n", "expected a mapping"),
    ("", "file is empty"),
    (GOOD.replace("{factor: 2}", "{on: 2}"), "is not a string"),
])
def test_schema_errors_name_file_and_path(tmp_path, text, expected):
    p = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ValidationError) as ei:
        load_runbook(p)
    msg = str(ei.value)
    assert str(p) in msg
    assert expected in msg


def test_ssm_commands_come_from_the_catalogue(tmp_path):
    text = GOOD.replace("{action: scale_deployment, params: {factor: 2}, safety: safe}",
                        "{action: ssm_run_command, params: {document: AWS-RunShellScript, commands: ['rm -rf /']},"
                        " safety: safe}")
    with pytest.raises(ValidationError, match=r"commands\[0\]"):
        load_runbook(_write(tmp_path, "ssm.yaml", text))


def test_duplicate_ids_name_both_files(tmp_path):
    _write(tmp_path, "one.yaml", GOOD)
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "two.yaml", GOOD)
    with pytest.raises(ValidationError) as ei:
        load_runbooks(tmp_path)
    msg = str(ei.value)
    assert "duplicate id 'sample'" in msg and "one.yaml" in msg and "two.yaml" in msg
    good, errors = scan_runbooks(tmp_path)
    assert [r.id for r in good] == ["sample"] and len(errors) == 1


def test_markdown_page_without_front_matter(tmp_path):
    p = _write(tmp_path, "Kafka ISR Shrink.md", "# Kafka ISR shrinking\n\n## Symptoms\nUnder-replicated partitions.\n\n"
               "## Mitigation\n- Check broker disk\n- Restart the slow broker\n")
    rb = load_runbook(p)
    assert rb.id == "kafka-isr-shrink" and rb.title == "Kafka ISR shrinking"
    assert "Under-replicated" in rb.description
    assert rb.diagnosis == ("Check broker disk", "Restart the slow broker")
    assert rb.actions == () and rb.auto_remediate is False


def test_markdown_front_matter_actions_are_validated(tmp_path):
    p = _write(tmp_path, "page.md", "---\nid: page\nactions:\n  - {action: drop_database, safety: safe}\n---\n# T\n")
    with pytest.raises(ValidationError, match=r"page.md: \$.actions\[0\].action"):
        load_runbook(p)


def test_incident_requires_resolution(tmp_path):
    p = _write(tmp_path, "inc.yaml", "id: inc-1\nkind: incident\ntitle: Something broke\nsymptoms: {}\n")
    with pytest.raises(ValidationError, match="'resolution' is a required property"):
        load_runbook(p)


def test_missing_directory_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationError, match="no such directory"):
        load_runbooks(tmp_path / "nope")


@pytest.mark.parametrize("content, where", [
    ("queries: {q: x}\n", "$.queries: expected a list"),
    ("queries:\n- {q: '', expect: disk-full}\n", "$.queries[0]: needs a non-empty q and expect"),
    ("queries:\n- {q: disk is full, expect: 3}\n", "$.queries[0]: needs a non-empty q and expect"),
    ("queries: [\n", "line"),
])
def test_a_bad_labelled_file_names_the_file_and_the_item(tmp_path, content, where):
    from aisre.knowledge.loader import load_labelled
    (tmp_path / "labelled").mkdir()
    (tmp_path / "labelled" / "team.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_labelled(tmp_path)
    assert "team.yaml" in str(err.value) and where in str(err.value)


def test_labelled_texts_are_not_entries_and_load_as_pairs(tmp_path):
    from aisre.knowledge.loader import load_labelled, load_runbooks
    (tmp_path / "labelled").mkdir()
    (tmp_path / "labelled" / "team.yaml").write_text(
        "queries:\n- {q: 'disk /var at 99%', expect: disk-full, metrics: [disk_pct:trend]}\n- {q: 'lunch?', expect: none}\n",
        encoding="utf-8")
    (tmp_path / "disk-full.yaml").write_text("id: disk-full\ntitle: Disk full\nsymptoms: {keywords: [disk full]}\n",
                                             encoding="utf-8")
    assert [r.id for r in load_runbooks(tmp_path)] == ["disk-full"]
    assert load_labelled(tmp_path) == [("disk /var at 99%", "disk-full"), ("lunch?", "none")]
    assert load_labelled(tmp_path / "missing") == []
