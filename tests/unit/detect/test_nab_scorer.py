"""The NAB scorer reproduces NAB's published scoreboard from the published detector outputs."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _scorer():
    spec = importlib.util.spec_from_file_location("nab_scorer", ROOT / "bench" / "nab_scorer.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nab_scorer", mod)
    spec.loader.exec_module(mod)
    return mod


nab = _scorer()
DATA = nab.data_root(ROOT)
needs_data = pytest.mark.skipif(not (DATA / "labels" / "combined_windows.json").exists(),
                                reason=f"NAB data not found at {DATA} (set AISRE_SHARED_DATA)")


@pytest.fixture(scope="module")
def corpus():
    return nab.load_corpus(DATA)


@needs_data
@pytest.mark.parametrize("detector, expected", [
    ("numenta", {"standard": 70.1, "reward_low_FP_rate": 63.1, "reward_low_FN_rate": 74.3}),
    ("windowedGaussian", {"standard": 39.6, "reward_low_FP_rate": 20.9, "reward_low_FN_rate": 47.4}),
])
def test_reproduces_published_scoreboard(corpus, detector, expected):
    results = nab.score_all(corpus, nab.load_published_scores(detector, corpus))
    for profile, want in expected.items():
        assert results[profile].normalized == pytest.approx(want, abs=0.2), profile


@needs_data
def test_null_and_perfect_bounds(corpus):
    assert corpus.n_windows == 116
    cost = nab.load_profiles(DATA)["standard"]
    null = nab.score_profile(corpus, {n: np.zeros(corpus.layouts[n].n) for n in corpus.names}, "standard", cost)
    assert null.normalized == pytest.approx(0.0)
    # a detector firing exactly at the first point of every window, nowhere else
    perfect = {}
    for n in corpus.names:
        lay = corpus.layouts[n]
        s = np.zeros(lay.n)
        for wid in np.unique(lay.window_id[lay.window_id >= 0]):
            s[np.flatnonzero(lay.window_id == wid)[0]] = 1.0
        perfect[n] = s
    res = nab.score_profile(corpus, perfect, "standard", cost)
    assert res.normalized == pytest.approx(100.0, abs=1e-6)
    assert (res.tp, res.fp, res.fn) == (116, 0, 0)


def test_sigmoid_anchors():
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(nab.scaled_sigmoid(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert float(nab.scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(nab.scaled_sigmoid(3.0)) == -1.0


def test_tiny_synthetic_file_rules(tmp_path):
    """One window; an early detection, a late FP after the window and one before it."""
    import json
    root = tmp_path / "nab"
    (root / "data" / "x").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "config").mkdir()
    ts = [f"2020-01-01 00:{m // 60:02d}:{m % 60:02d}" for m in range(200)]
    (root / "data" / "x" / "f.csv").write_text("timestamp,value\n" + "\n".join(f"{t},1" for t in ts))
    (root / "labels" / "combined_windows.json").write_text(json.dumps({"x/f.csv": [[ts[100] + ".000000", ts[119] + ".000000"]]}))
    corpus = nab.load_corpus(root)
    cost = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}
    s = np.zeros(200)
    s[100] = 1.0                     # first point of window: full credit
    s[50] = 0.9                      # FP before any window: -0.11
    res = nab.score_profile(corpus, {"x/f.csv": s}, "standard", cost)
    assert res.threshold == 1.0 and res.raw_score == pytest.approx(1.0)
    ths, tot, _, _ = nab.sweep(corpus, {"x/f.csv": s}, cost)
    assert list(ths) == [1.1, 1.0, 0.9, 0.0]
    assert tot[2] == pytest.approx(1.0 - 0.11)
    # probation: a detection in the first 15 % costs nothing
    s2 = np.zeros(200); s2[10] = 1.0
    ths2, tot2, _, _ = nab.sweep(corpus, {"x/f.csv": s2}, cost)
    assert list(ths2) == [1.1, 0.0] and tot2[0] == pytest.approx(-1.0)


@needs_data
def test_nab_pipeline_on_the_tiny_corpus_detects_and_beats_null():
    spec = importlib.util.spec_from_file_location("nab_bench", ROOT / "bench" / "nab.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    tiny = nab.load_corpus(DATA, labels="combined_windows_tiny.json")
    pipe = bench.NAB_PIPELINES[bench.NAB_DEFAULT]
    scores = {n: bench.run_file(tiny.values[n], tiny.timestamps[n], pipe) for n in tiny.names}
    for s in scores.values():
        assert ((s >= 0) & (s <= 1)).all()
    res = nab.score_profile(tiny, scores, "standard", nab.load_profiles(DATA)["standard"])
    assert res.tp >= 2 and res.normalized > 0
