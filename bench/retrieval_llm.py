"""Runbook identification through the LLM analyst on the held-out blind sets, from recorded answers.

Usage (from the repository root)::

    PYTHONPATH=lib python bench/retrieval_llm.py --record DIR   # write every triage prompt to DIR/<set>/<n>.txt
    PYTHONPATH=lib python bench/retrieval_llm.py                # replay bench/data/llm_answers/*.yaml, score

Each held-out text (``bench/data/blind-test-*.yaml``, the sets ``bench/retrieval.py`` scores) becomes an
incident with one signal: an alert whose summary is the text. The shipped retriever ranks runbooks for it
(the same search ``bench/retrieval.py`` scores) and the real :class:`~aisre.analysis.LLMAnalyst` builds its
triage prompt from that ranking - the prompt production sends when ``llm.model`` is configured.

The answers in ``bench/data/llm_answers/`` were produced once by a language model reading exactly those
prompts (each file's header names the model and how), and are stored with the sha256 of the prompt they
answer. Replay feeds each answer back through ``LLMAnalyst.diagnose`` - the same parsing, schema check and
safety rules as production (a runbook that was not retrieved is refused, the offline rules can only make it
more cautious) - and scores the runbook it ends up with: the runbook id when there is one, ``transient-glitch``
for a transient classification without one, else ``none``. A prompt that no longer hashes to the recorded
one (the retriever or the prompt template changed since the recording) is counted and reported; its answer
is still replayed, and the analyst's rules reject it if its runbook is no longer among the retrieved ones.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402

from aisre.analysis import LLMAnalyst  # noqa: E402
from aisre.knowledge import build_retriever  # noqa: E402
from aisre.models import Classification, Incident, Severity, Signal  # noqa: E402
from retrieval import load_queries  # noqa: E402

ANSWERS = ROOT / "bench" / "data" / "llm_answers"
RESULTS = ROOT / "bench" / "results" / "retrieval_llm.md"
T0 = 1_764_806_400.0                                  # a fixed onset (2025-12-04T00:00:00Z): stable prompts


def text_incident(name: str, n: int, text: str) -> Incident:
    """One alert signal whose summary is ``text`` (what a forwarded alert or a chat message looks like)."""
    sig = Signal(id=f"{name}-{n}", kind="alert", source="chat", service="", name="", summary=text,
                 severity=Severity.ERROR, ts=T0, onset_ts=T0)
    return Incident(id=f"inc-{name}-{n}", fingerprint=f"{name}-{n}", service="", opened_at=T0, updated_at=T0,
                    signals=(sig,))


def prompt_text(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def digest(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(prompt_text(messages).encode("utf-8")).hexdigest()


class RecordingClient:
    """Captures the prompt and answers with nothing usable (the analyst then falls back; ignored here)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []

    def complete(self, messages: list[dict[str, str]]) -> str:
        if not self.messages:
            self.messages = list(messages)
        return "{}"


class ReplayClient:
    """Answers with the recorded text; notes whether the first prompt still hashes to the recorded one."""

    def __init__(self, answer: str, sha256: str) -> None:
        self.answer, self.sha256 = answer, sha256
        self.matched: bool | None = None

    def complete(self, messages: list[dict[str, str]]) -> str:
        if self.matched is None:
            self.matched = digest(messages) == self.sha256
        return self.answer


def identified(diagnosis: Any) -> str:
    if diagnosis.runbook_id:
        return str(diagnosis.runbook_id)
    return "transient-glitch" if diagnosis.classification is Classification.TRANSIENT else "none"


def analyse(retriever: Any, name: str, n: int, text: str, client: Any) -> tuple[Any, Any]:
    incident = text_incident(name, n, text)
    retrieval = retriever.search(text, k=5)
    runbooks = {m.runbook_id: rb for m in retrieval.matches if (rb := retriever.get(m.runbook_id)) is not None}
    return LLMAnalyst("recorded", client=client).diagnose(incident, retrieval, runbooks), retrieval


def record(out: Path) -> int:
    retriever = build_retriever(None)
    _, held = load_queries()
    for name, data in held.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for n, (text, _, _) in enumerate(data):
            client = RecordingClient()
            analyse(retriever, name, n, text, client)
            (out / name / f"{n}.txt").write_text(prompt_text(client.messages), encoding="utf-8")
            (out / name / f"{n}.sha256").write_text(digest(client.messages) + "\n", encoding="utf-8")
        print(f"{name}: {len(data)} prompts in {out / name}")
    return 0


def load_answers(name: str) -> tuple[str, dict[int, dict[str, str]]]:
    """(the model that answered, {n: {answer, sha256}}) for one held-out set; ("", {}) when none recorded."""
    path = ANSWERS / f"{name}.yaml"
    if not path.exists():
        return "", {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    answers = {int(a["n"]): {"answer": str(a["answer"]), "sha256": str(a["sha256"])} for a in doc.get("answers", [])}
    return str(doc.get("model") or ""), answers


def score(rows: list[tuple[str, str]]) -> dict[str, float]:
    n = len(rows)
    pred_none = sum(1 for _, got in rows if got == "none")
    true_none = sum(1 for want, _ in rows if want == "none")
    both = sum(1 for want, got in rows if want == got == "none")
    return {"n": n, "top1": sum(1 for want, got in rows if want == got) / max(1, n),
            "none_precision": both / pred_none if pred_none else 1.0,
            "none_recall": both / true_none if true_none else 1.0}


def replay() -> int:
    retriever = build_retriever(None)
    _, held = load_queries()
    lines = ["| set | n | answered | prompt unchanged | retriever top-1 | retriever none P / R | "
             "LLM analyst top-1 | LLM analyst none P / R |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    misses: list[str] = []
    pooled_r: list[tuple[str, str]] = []
    pooled_l: list[tuple[str, str]] = []
    models: set[str] = set()
    for name, data in held.items():
        model, answers = load_answers(name)
        if not answers:
            print(f"{name}: no recorded answers in {ANSWERS}; skipped")
            continue
        models.add(model)
        rows_r, rows_l, same = [], [], 0
        for n, (text, want, _) in enumerate(data):
            rec = answers.get(n)
            client = ReplayClient(rec["answer"], rec["sha256"]) if rec else ReplayClient("", "")
            diagnosis, retrieval = analyse(retriever, name, n, text, client)
            same += bool(client.matched)
            got_r = retrieval.best.runbook_id if retrieval.best else "none"
            got_l = identified(diagnosis) if rec else got_r
            rows_r.append((want, got_r))
            rows_l.append((want, got_l))
            if got_l != want:
                misses.append(f"[{name} #{n}] {want} -> {got_l} (retriever: {got_r}): {text[:90]}")
        r, m = score(rows_r), score(rows_l)
        lines.append(f"| `{name}` | {len(data)} | {len(answers)} | {same} | {r['top1']:.3f} | "
                     f"{r['none_precision']:.3f} / {r['none_recall']:.3f} | {m['top1']:.3f} | "
                     f"{m['none_precision']:.3f} / {m['none_recall']:.3f} |")
        pooled_r += rows_r
        pooled_l += rows_l
    if pooled_l:
        r, m = score(pooled_r), score(pooled_l)
        lines.append(f"| all | {len(pooled_l)} | | | {r['top1']:.3f} | {r['none_precision']:.3f} / "
                     f"{r['none_recall']:.3f} | **{m['top1']:.3f}** | **{m['none_precision']:.3f} / "
                     f"{m['none_recall']:.3f}** |")
    text = "\n".join([
        "## Runbook identification through the LLM analyst (`bench/retrieval_llm.py`)", "",
        "The held-out blind texts as one-signal incidents; the shipped retriever's top 5 go into the real "
        "LLMAnalyst triage prompt; recorded answers are replayed through the analyst's parsing and safety rules. "
        "Identification = the analyst's runbook (`transient-glitch` for a transient classification without one), "
        f"else none. Answers recorded from: {', '.join(sorted(m for m in models if m)) or 'n/a'}.", "", *lines, "",
        "Misses:", "", *([f"- {x}" for x in misses] or ["- none"]), "",
        "Reproduce: `PYTHONPATH=lib .venv/bin/python bench/retrieval_llm.py` (replay; `--record DIR` writes the "
        "prompts for a new recording).", ""])
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", type=Path, help="write the prompts to this directory instead of replaying")
    args = ap.parse_args(argv)
    return record(args.record) if args.record else replay()


if __name__ == "__main__":
    raise SystemExit(main())
