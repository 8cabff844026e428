"""bench/retrieval_llm.py: recorded LLM answers replay through the real analyst and its safety rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aisre.knowledge.loader import load_runbooks
from aisre.knowledge.retriever import Retriever
from plugins._bench import load_bench

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bench():
    return load_bench("retrieval_llm")


@pytest.fixture(scope="module")
def retriever():
    return Retriever(load_runbooks(ROOT / "knowledge" / "runbooks"), embedding="hashing")


TEXT = "Warning BackOff kubelet Back-off restarting failed container api in pod api-7d9f (CrashLoopBackOff), 41 restarts"


def answer(runbook_id, classification="known"):
    return json.dumps({"classification": classification, "severity": "error", "summary": "s",
                       "runbook_id": runbook_id, "proposed_action": None})


def recorded(bench, retriever, text=TEXT):
    rec = bench.RecordingClient()
    bench.analyse(retriever, "t", 0, text, rec)
    return rec.messages


def test_replayed_answer_gives_its_runbook_and_the_prompt_matches(bench, retriever):
    messages = recorded(bench, retriever)
    retrieved = [m.runbook_id for m in retriever.search(TEXT, k=5).matches]
    assert "crash-loop" in retrieved
    client = bench.ReplayClient(answer("crash-loop"), bench.digest(messages))
    diagnosis, _ = bench.analyse(retriever, "t", 0, TEXT, client)
    assert client.matched is True
    assert bench.identified(diagnosis) == "crash-loop"


def test_a_runbook_that_was_not_retrieved_is_refused(bench, retriever):
    retrieved = {m.runbook_id for m in retriever.search(TEXT, k=5).matches}
    outsider = next(r.id for r in load_runbooks(ROOT / "knowledge" / "runbooks") if r.id not in retrieved)
    client = bench.ReplayClient(answer(outsider), "")
    diagnosis, _ = bench.analyse(retriever, "t", 0, TEXT, client)
    assert bench.identified(diagnosis) != outsider


def test_a_changed_prompt_is_noticed(bench, retriever):
    messages = recorded(bench, retriever)
    client = bench.ReplayClient(answer("crash-loop"), bench.digest(messages))
    bench.analyse(retriever, "t", 1, TEXT, client)          # another incident id: another prompt
    assert client.matched is False


def test_prompts_are_stable_between_runs(bench, retriever):
    assert bench.digest(recorded(bench, retriever)) == bench.digest(recorded(bench, retriever))


def test_transient_without_runbook_counts_as_transient_glitch_and_unknown_as_none(bench, retriever):
    client = bench.ReplayClient(answer(None, "transient"), "")
    diagnosis, _ = bench.analyse(retriever, "t", 0, TEXT, client)
    assert bench.identified(diagnosis) == "transient-glitch"
    client = bench.ReplayClient(answer(None, "unknown_critical"), "")
    diagnosis, _ = bench.analyse(retriever, "t", 0, TEXT, client)
    assert bench.identified(diagnosis) == "none"


def test_unparseable_answer_falls_back_to_the_offline_analyst(bench, retriever):
    client = bench.ReplayClient("not json at all", "")
    diagnosis, _ = bench.analyse(retriever, "t", 0, TEXT, client)
    assert diagnosis.analyst.startswith("llm-fallback:invalid_output")
