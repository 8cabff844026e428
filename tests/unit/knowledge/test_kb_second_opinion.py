"""A second model's opinion on text: the pair's mean confidence ranks and decides; metrics leave it out."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aisre.errors import ConfigError
from aisre.knowledge.calibrate import fit_pair_bar
from aisre.knowledge.loader import load_runbooks
from aisre.knowledge.retriever import Calibration, Retriever, build_retriever
from aisre.models import Runbook

RUNBOOKS = Path(__file__).resolve().parents[3] / "knowledge" / "runbooks"
LEAK = "java.lang.OutOfMemoryError: Java heap space, heap climbing for days"


@pytest.fixture(scope="module")
def entries():
    return load_runbooks(RUNBOOKS)


def _flat(value: float, threshold: float = 0.5) -> Calibration:
    """Every candidate gets the same confidence (bias only)."""
    return Calibration(weights={"bias": float(np.log(value / (1 - value)))}, threshold=threshold, embedding="t")


def _pair(entries, mine: float, theirs: float, bar: float, **kw) -> Retriever:
    second = Retriever(entries, embedding="hashing", text_calibration=_flat(theirs), calibration=_flat(theirs))
    second.embedding_name = "other"                      # a different model, as far as the pair is concerned
    return Retriever(entries, embedding="hashing", text_calibration=_flat(mine), calibration=_flat(mine),
                     second_opinion=second, ensemble_calibration=Calibration(weights={}, threshold=bar), **kw)


def test_the_pair_decides_text_on_the_mean_confidence(entries):
    r = _pair(entries, mine=0.6, theirs=0.2, bar=0.45)
    got = r.search(LEAK)
    assert got.matches[0].confidence == pytest.approx(0.4)          # (0.6 + 0.2) / 2
    assert got.best is None                                          # 0.4 < the pair's bar 0.45
    assert any(x.startswith("second opinion (other): confidence 0.20") for x in got.matches[0].reasons)
    assert _pair(entries, mine=0.6, theirs=0.4, bar=0.45).search(LEAK).best is not None       # mean 0.5


def test_metric_evidence_is_decided_by_the_first_model_alone(entries):
    r = _pair(entries, mine=0.6, theirs=0.2, bar=0.45)
    got = r.search(LEAK, metrics=["memory_pct:trend"])
    assert got.matches[0].confidence == pytest.approx(0.6) and got.best is not None   # own bar 0.5
    assert not any("second opinion" in x for x in got.matches[0].reasons)


def test_the_pair_ranks_by_the_mean_and_counts_an_unseen_runbook_as_zero(entries):
    mine = {"memory-leak": 0.9, "oom-killed": 0.5}
    theirs = {"oom-killed": 0.9, "disk-full": 0.7}

    class Fixed(Retriever):
        table: dict[str, float] = {}

        def scored(self, text, **kw):
            from aisre.models import RunbookMatch
            return {rid: RunbookMatch(runbook_id=rid, score=c, confidence=c, reasons=(f"{rid} {c}",))
                    for rid, c in self.table.items()}

    second = Fixed(entries, embedding="hashing")
    second.table, second.embedding_name = theirs, "other"
    first = Fixed(entries, embedding="hashing", second_opinion=second,
                  ensemble_calibration=Calibration(weights={}, threshold=0.6))
    first.table = mine
    got = first.search("anything at all", k=3)
    assert [(m.runbook_id, m.confidence) for m in got.matches] == [
        ("oom-killed", 0.7), ("memory-leak", 0.45), ("disk-full", 0.35)]
    assert got.best.runbook_id == "oom-killed"                       # 0.7 >= 0.6; by score alone it was memory-leak


def test_an_excluded_look_alike_stays_rejected_by_the_pair(entries):
    # certificate-expiry's authors exclude client secrets: the cap holds in both models, so in the pair too
    text = "the client secret of the deploy service principal expires in 10 days, certificate rotation pending"
    r = _pair(entries, mine=0.99, theirs=0.99, bar=0.3)
    got = r.search(text, k=25)
    cert = next(m for m in got.matches if m.runbook_id == "certificate-expiry")
    assert cert.confidence <= 0.1
    assert got.best is None or got.best.runbook_id != "certificate-expiry"


def test_a_recorded_incident_reaches_both_models(entries):
    r = Retriever(entries, embedding="hashing", second_opinion="minilm")
    inc = Runbook(id="inc-2031", kind="incident", title="ledger-sync stuck on a poisoned message",
                  description="ledger-sync consumer stuck retrying one malformed message for hours")
    r.add([inc])
    assert r.get("inc-2031") is not None and r.second_opinion.get("inc-2031") is not None


def test_the_same_model_twice_is_no_second_opinion(entries):
    assert Retriever(entries, embedding="hashing", second_opinion="hashing").second_opinion is None


def test_config_chooses_the_second_opinion(tmp_path):
    assert build_retriever({"knowledge": {"embedding": "hashing", "second_opinion": "none"}}).second_opinion is None
    with pytest.raises(ConfigError, match="second_opinion"):
        build_retriever({"knowledge": {"embedding": "hashing", "second_opinion": "bm25"}})
    r = build_retriever({"knowledge": {"embedding": "minilm"}})
    assert r.second_opinion is not None and r.ensemble_name == "aisre_minilm_int8+aisre_hashing"
    assert 0.2 <= r.text_bar() <= 0.8                                 # the fitted bar of the shipped pair


def test_the_pair_bar_is_chosen_on_the_given_sets_and_needs_a_pair(entries):
    groups = {"a": [(LEAK, "memory-leak", ()), ("please review my pull request", "none", ())],
              "b": [("filesystem / is 99% full on build-agent-3", "disk-full", ()), ("lunch at noon?", "none", ())]}

    def make(evidence):
        return Retriever(entries, embedding="hashing", labelled=evidence, second_opinion="minilm")

    cal = fit_pair_bar(make, groups, bar_groups=["b"], note="toy")
    assert 0.3 <= cal.threshold <= 0.8 and cal.embedding == "aisre_hashing+aisre_minilm_int8" and not cal.weights
    with pytest.raises(ValueError, match="second opinion"):
        fit_pair_bar(lambda ev: Retriever(entries, embedding="hashing", labelled=ev), groups)
    with pytest.raises(ValueError, match="no labelled texts"):
        fit_pair_bar(make, groups, bar_groups=["absent"])
