"""The confidence model's fit: raw-scale weights, constant features, a separable toy problem."""
from __future__ import annotations

import numpy as np

from aisre.knowledge.calibrate import _choose_bar, fit_weights
from aisre.knowledge.retriever import FEATURES, Calibration


def _toy(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, len(FEATURES)))
    y = rng.integers(0, 2, n).astype(float)
    x[:, FEATURES.index("ex_cos")] = 0.35 + 0.25 * y + rng.normal(0, 0.05, n)     # informative, small scale
    x[:, FEATURES.index("bm25_cov")] = rng.uniform(0, 1, n)                        # noise
    x[:, FEATURES.index("oov")] = 0.5                                              # constant
    return x, y


def test_weights_apply_to_raw_features_and_separate_the_classes():
    x, y = _toy()
    weights = fit_weights(x, y)
    cal = Calibration(weights=weights)
    p = np.array([cal.confidence(dict(zip(FEATURES, row))) for row in x])
    assert ((p >= 0.5) == (y > 0)).mean() > 0.97
    assert weights["ex_cos"] > 10 * abs(weights["bm25_cov"])
    assert weights["oov"] == 0.0                       # a constant feature carries no weight


def test_fit_is_deterministic():
    x, y = _toy()
    assert fit_weights(x, y) == fit_weights(x, y)


# ---------------------------------------------------------------- two models: text vs metric evidence

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from aisre.knowledge.calibrate import fit_calibration_grouped, save_calibration  # noqa: E402
from aisre.knowledge.loader import load_runbooks  # noqa: E402
from aisre.knowledge.retriever import Retriever, load_calibration  # noqa: E402

RUNBOOKS = Path(__file__).resolve().parents[3] / "knowledge" / "runbooks"


@pytest.fixture(scope="module")
def entries():
    return load_runbooks(RUNBOOKS)


def _flat(value: float, threshold: float) -> Calibration:
    """A model that gives every candidate the same confidence (bias only)."""
    return Calibration(weights={"bias": float(np.log(value / (1 - value)))}, threshold=threshold, embedding="t")


def test_text_queries_use_the_text_model_and_metric_queries_the_other(entries):
    r = Retriever(entries, embedding="hashing", calibration=_flat(0.3, 0.5), text_calibration=_flat(0.7, 0.5))
    text = r.search("java.lang.OutOfMemoryError: Java heap space, heap climbing for days")
    assert text.matches[0].confidence == pytest.approx(0.7) and text.best is not None
    metric = r.search("java.lang.OutOfMemoryError: Java heap space, heap climbing for days",
                      metrics=["memory_pct:trend"])
    assert metric.matches[0].confidence == pytest.approx(0.3) and metric.best is None


def test_each_model_has_its_own_bar_unless_one_is_forced(entries):
    r = Retriever(entries, embedding="hashing", calibration=_flat(0.6, 0.7), text_calibration=_flat(0.6, 0.5))
    assert r.search("disk full on /var, no space left on device").best is not None          # 0.6 >= 0.5
    assert r.search("disk full on /var", metrics=["disk_pct:trend"]).best is None            # 0.6 < 0.7
    forced = Retriever(entries, embedding="hashing", calibration=_flat(0.6, 0.7), text_calibration=_flat(0.6, 0.5),
                       min_confidence=0.65)
    assert forced.search("disk full on /var, no space left on device").best is None
    assert forced.min_confidence == 0.65


def test_one_explicit_calibration_serves_both_kinds(entries):
    cal = _flat(0.4, 0.5)
    r = Retriever(entries, embedding="hashing", calibration=cal)
    assert r.text_calibration is cal


def test_text_model_is_saved_under_its_own_key_and_falls_back(tmp_path):
    path = tmp_path / "calibration.json"
    save_calibration(Calibration(weights={"bias": -1.0}, threshold=0.6, embedding="emb"), path)
    assert load_calibration("emb", path, kind="text").threshold == 0.6           # no text model yet: the other
    save_calibration(Calibration(weights={"bias": 1.0}, threshold=0.4, embedding="emb"), path, kind="text")
    assert set(json.loads(path.read_text())) == {"emb", "emb:text"}
    assert load_calibration("emb", path, kind="text").threshold == 0.4
    assert load_calibration("emb", path).threshold == 0.6


def test_neighbour_vote_follows_the_closest_labelled_texts(entries):
    labelled = [("checkout pods restarting, exit code 137 OOMKilled", "oom-killed"),
                ("payments container OOMKilled again, limit 512Mi", "oom-killed"),
                ("please add me to the grafana editors group", "none")]
    r = Retriever(entries, embedding="hashing", labelled=labelled)
    feats = {c.entry.id: c.features for c in r.candidates("search pods OOMKilled exit code 137 after the batch import")}
    assert feats["oom-killed"]["lab_vote"] > 0.5
    assert feats["oom-killed"]["lab_none_vote"] < 0.5
    # a labelled text never votes for itself (leave-one-out): only its sibling does
    own = {c.entry.id: c.features for c in r.candidates("payments container OOMKilled again, limit 512Mi")}
    alone = Retriever(entries, embedding="hashing", labelled=labelled[:1] + labelled[2:])
    assert own["oom-killed"]["lab_vote"] == pytest.approx(
        {c.entry.id: c.features for c in alone.candidates("payments container OOMKilled again, limit 512Mi")}
        ["oom-killed"]["lab_vote"])


def test_grouped_fit_leaves_each_set_out_of_its_own_evidence(entries):
    groups = {
        "a": [("java.lang.OutOfMemoryError heap climbing for days", "memory-leak", ()),
              ("no space left on device on /var/log", "disk-full", ()),
              ("please review my pull request", "none", ())],
        "b": [("heap usage grows every hour until OutOfMemoryError", "memory-leak", ()),
              ("filesystem / is 99% full on build-agent-3", "disk-full", ()),
              ("lunch at noon?", "none", ())],
    }
    seen: list[list[str]] = []

    def make(evidence):
        seen.append(sorted(t for t, _ in evidence))
        return Retriever(entries, embedding="hashing", labelled=evidence)

    cal = fit_calibration_grouped(make, groups, note="toy")
    assert sorted(seen) == sorted([sorted(t for t, _, _ in groups["b"]), sorted(t for t, _, _ in groups["a"])])
    assert 0.3 <= cal.threshold <= 0.8 and cal.fitted_on == "toy"
    assert set(cal.weights) == {"bias", *FEATURES}


def test_grouped_fit_chooses_the_bar_only_on_the_given_sets(entries):
    """Weights come from every set; the bar only from ``bar_groups`` (the sets no runbook edit has seen)."""
    groups = {
        "tuned": [("java.lang.OutOfMemoryError heap climbing for days", "memory-leak", ()),
                  ("please review my pull request", "none", ())],
        "untouched": [("filesystem / is 99% full on build-agent-3", "disk-full", ()),
                      ("lunch at noon?", "none", ())],
    }
    searched: dict[str, int] = {}

    class Spy(Retriever):
        def search(self, text, *args, **kwargs):
            searched[self.view] = searched.get(self.view, 0) + 1
            return super().search(text, *args, **kwargs)

    def make(evidence):
        r = Spy(entries, embedding="hashing", labelled=evidence)
        r.view = "untouched" if any(t.startswith("java") for t, _ in evidence) else "tuned"   # the set left out
        return r

    fit_calibration_grouped(make, groups, bar_groups=["untouched"])
    assert searched == {"untouched": 2}
    with pytest.raises(ValueError, match="no labelled texts"):
        fit_calibration_grouped(make, groups, bar_groups=["absent"])


@pytest.mark.parametrize("content", ["{not json", "[]", '{"emb:text": {"weights": "oops"}}', '{"emb": 5}',
                                     '{"emb": {"weights": {"bias": NaN}}}',
                                     '{"emb": {"weights": {"bias": 1}, "threshold": 3}}'])
def test_a_broken_calibration_file_gives_the_defaults_for_both_models(tmp_path, content):
    path = tmp_path / "calibration.json"
    path.write_text(content)
    for kind in ("incident", "text"):
        cal = load_calibration("emb", path, kind=kind)
        assert cal.fitted_on == "defaults" and 0 < cal.threshold < 1


def test_the_text_bar_meets_the_none_precision_target_when_a_bar_can():
    """Accuracy alone would reject the covered texts with the near misses (bar 0.8); the target keeps only bars
    whose rejections are really ``none`` and takes the most accurate of those."""
    tops = ([(0.42, "disk-full", "disk-full")] * 10 + [(0.1, "dns-failure", "none")] * 20
            + [(0.45, "disk-full", "none")] * 12)
    assert _choose_bar(tops) == 0.8
    assert _choose_bar(tops, none_precision=0.95) == 0.4
    assert _choose_bar(tops, none_precision=0.5) == 0.8         # 0.8 rejects 32 "none" of 42: precision 0.76


def test_without_a_bar_meeting_the_target_accuracy_decides():
    tops = ([(0.2, "disk-full", "disk-full")] * 10 + [(0.1, "dns-failure", "none")] * 5
            + [(0.55, "disk-full", "none")] * 3)
    assert _choose_bar(tops, none_precision=0.95) == _choose_bar(tops) == 0.8
