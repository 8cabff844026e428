"""NAB (Numenta Anomaly Benchmark v1.1) scorer, written from NAB's documented rules.

Rules implemented (NAB README / whitepaper and the behaviour of its sweeper):

* Each data file has labelled anomaly *windows* (``labels/combined_windows.json``, timestamps that
  exist in the file). A point is a *detection* when its anomaly score is >= the threshold.
* The first ``min(floor(0.15 * n), 0.15 * 5000)`` points of a file are probationary: not scored.
* Inside a window only the earliest detection counts. At index ``i`` of a window ``[l, r]``
  (width ``w = r - l + 1``) it earns ``tpWeight * S(-(r - i + 1) / w) / S(-1)`` where
  ``S(x) = 2 * sigmoid(-5x) - 1`` (``S = -1`` for ``x >= 3``). A window with no detection costs
  ``-fnWeight``.
* Every detection outside windows is a false positive worth ``fpWeight * S(x)`` (negative):
  before the first window ``x = 3`` (full cost), after a window ``x = (i - r_prev) / (w_prev - 1)``,
  so false positives just after a window cost less.
* One threshold per profile is chosen for the whole corpus (the one with the best total), and the
  total is normalised: ``100 * (score - null) / (perfect - null)`` with ``null`` the score of a
  constant detector and ``perfect = tpWeight * number_of_windows``.

The sweep over thresholds is vectorised: every point contributes a score *event* at its anomaly
score (a false positive's cost, or the gain when a window's best detection improves), and the
corpus total at threshold ``t`` is the cumulative sum of events with score >= ``t``.

Data root: ``$AISRE_SHARED_DATA/nab`` or ``<repo parent>/shared/data/nab``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

PROBATION_PERCENT = 0.15
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def data_root(repo_root: str | Path | None = None) -> Path:
    """Directory holding NAB's ``data/``, ``labels/``, ``config/`` and ``results/``."""
    env = os.environ.get("AISRE_SHARED_DATA")
    if env:
        return Path(env) / "nab"
    root = Path(repo_root) if repo_root else Path(__file__).resolve().parent.parent
    return root.parent / "shared" / "data" / "nab"


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """NAB's S(x) = 2*sigmoid(-5x) - 1, clamped to -1 for x >= 3."""
    x = np.asarray(x, dtype=float)
    out = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x >= 3.0, -1.0, out)


MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(n: int) -> float:
    return min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000)


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """Per-file scoring geometry, independent of the detector's scores and of the profile.

    ``window_id[i]`` is the corpus-wide window index of point ``i`` (-1 outside windows),
    ``tp_pos[i]`` the relative position used for a detection in a window, ``fp_sig[i]`` the
    sigmoid factor (<= 0) of a false positive, ``scored[i]`` False during probation.
    """
    name: str
    n: int
    window_id: np.ndarray
    tp_sig: np.ndarray
    fp_sig: np.ndarray
    scored: np.ndarray
    n_windows: int


def _layout(name: str, timestamps: np.ndarray, windows: list[tuple[np.datetime64, np.datetime64]],
            first_window_id: int) -> FileLayout:
    n = len(timestamps)
    idx = np.arange(n)
    window_id = np.full(n, -1, dtype=np.int64)
    tp_sig = np.zeros(n)
    fp_sig = np.full(n, -1.0)                       # before any window: full cost
    prob = probation_length(n)
    scored = idx >= prob
    bounds = []
    for k, (t1, t2) in enumerate(windows):
        left = int(np.searchsorted(timestamps, t1, side="left"))
        right = int(np.searchsorted(timestamps, t2, side="left"))
        if left >= n or timestamps[left] != t1 or right >= n or timestamps[right] != t2:
            raise ValueError(f"window {t1}..{t2} of {name} does not match the file's timestamps")
        bounds.append((left, right))
        width = right - left + 1
        sl = slice(left, right + 1)
        window_id[sl] = first_window_id + k
        tp_sig[sl] = scaled_sigmoid(-(right - idx[sl] + 1) / width) / MAX_TP
    for k, (left, right) in enumerate(bounds):
        width = right - left + 1
        end = bounds[k + 1][0] if k + 1 < len(bounds) else n
        after = idx[right + 1:end]
        if len(after):
            fp_sig[right + 1:end] = scaled_sigmoid(np.abs(right - after) / float(width - 1))
    # windows whose points are all probationary do not take part (NAB never creates their entry)
    live = np.unique(window_id[scored & (window_id >= 0)])
    dead = set(range(first_window_id, first_window_id + len(windows))) - set(live.tolist())
    if dead:
        window_id[np.isin(window_id, list(dead))] = -2
    return FileLayout(name, n, window_id, tp_sig, fp_sig, scored, len(live))


@dataclasses.dataclass(frozen=True)
class Corpus:
    """NAB data files (timestamps, values) and their scoring layout."""
    root: Path
    names: tuple[str, ...]
    timestamps: Mapping[str, np.ndarray]
    values: Mapping[str, np.ndarray]
    layouts: Mapping[str, FileLayout]

    @property
    def n_windows(self) -> int:
        return sum(lay.n_windows for lay in self.layouts.values())

    @property
    def n_points(self) -> int:
        return sum(lay.n for lay in self.layouts.values())


def load_corpus(root: str | Path | None = None, labels: str = "combined_windows.json") -> Corpus:
    """Read NAB's data files and windows (raises FileNotFoundError when the data is absent)."""
    root = Path(root) if root else data_root()
    windows = json.loads((root / "labels" / labels).read_text())
    names, stamps, values, layouts = [], {}, {}, {}
    next_id = 0
    for name in sorted(windows):
        df = pd.read_csv(root / "data" / name)
        ts = pd.to_datetime(df["timestamp"]).to_numpy(dtype="datetime64[ns]")
        wins = [(np.datetime64(pd.Timestamp(a).to_datetime64(), "ns"),
                 np.datetime64(pd.Timestamp(b).to_datetime64(), "ns")) for a, b in windows[name]]
        lay = _layout(name, ts, wins, next_id)
        next_id += len(wins)
        names.append(name)
        stamps[name] = ts
        values[name] = df["value"].to_numpy(dtype=float)
        layouts[name] = lay
    return Corpus(root, tuple(names), stamps, values, layouts)


def load_profiles(root: str | Path | None = None) -> dict[str, dict[str, float]]:
    root = Path(root) if root else data_root()
    raw = json.loads((root / "config" / "profiles.json").read_text())
    return {name: dict(p["CostMatrix"]) for name, p in raw.items()}


def load_published_scores(detector: str, corpus: Corpus) -> dict[str, np.ndarray]:
    """Published NAB outputs ``results/<detector>/<dir>/<detector>_<file>`` -> anomaly_score arrays."""
    out = {}
    for name in corpus.names:
        d, f = os.path.split(name)
        df = pd.read_csv(corpus.root / "results" / detector / d / f"{detector}_{f}")
        out[name] = df["anomaly_score"].to_numpy(dtype=float)
    return out


@dataclasses.dataclass(frozen=True)
class ProfileResult:
    profile: str
    threshold: float
    raw_score: float
    null_score: float
    perfect_score: float
    normalized: float
    tp: int
    fp: int
    fn: int


def _events(corpus: Corpus, scores: Mapping[str, np.ndarray], cost: Mapping[str, float]):
    """(anomaly score, score change) events for one profile, over the whole corpus."""
    ev_s, ev_v, ev_tp, ev_fp = [], [], [], []
    fn_w, tp_w, fp_w = cost["fnWeight"], cost["tpWeight"], cost["fpWeight"]
    for name in corpus.names:
        lay = corpus.layouts[name]
        s = np.asarray(scores[name], dtype=float)
        if len(s) != lay.n:
            raise ValueError(f"{name}: {len(s)} scores for {lay.n} points")
        s = np.where(np.isfinite(s), s, -np.inf)
        out = lay.scored & (lay.window_id == -1)
        ev_s.append(s[out]); ev_v.append(fp_w * lay.fp_sig[out])
        ev_tp.append(np.zeros(out.sum(), bool)); ev_fp.append(np.ones(out.sum(), bool))
        inside = lay.scored & (lay.window_id >= 0)
        for wid in np.unique(lay.window_id[inside]):
            m = inside & (lay.window_id == wid)
            ws, wv = s[m], tp_w * lay.tp_sig[m]
            order = np.argsort(-ws, kind="stable")
            ws, wv = ws[order], wv[order]
            best = np.maximum.accumulate(wv)
            gain = np.diff(best, prepend=-fn_w)    # first detection: from -fn to its value
            ev_s.append(ws); ev_v.append(gain)
            first = np.zeros(len(ws), bool); first[0] = True
            ev_tp.append(first); ev_fp.append(np.zeros(len(ws), bool))
    return (np.concatenate(ev_s), np.concatenate(ev_v), np.concatenate(ev_tp), np.concatenate(ev_fp))


def sweep(corpus: Corpus, scores: Mapping[str, np.ndarray], cost: Mapping[str, float]):
    """Corpus total for every candidate threshold: (thresholds desc, totals, tp counts, fp counts).

    The first candidate (1.1, or above the highest score) detects nothing.
    """
    s, v, tp, fp = _events(corpus, scores, cost)
    order = np.argsort(-s, kind="stable")
    s, v, tp, fp = s[order], v[order], tp[order], fp[order]
    base = -cost["fnWeight"] * corpus.n_windows
    total = base + np.cumsum(v)
    tps, fps = np.cumsum(tp), np.cumsum(fp)
    # value at a threshold t = after the last event with score >= t
    last = np.r_[s[1:] != s[:-1], True]
    ths, tot, ntp, nfp = s[last], total[last], tps[last], fps[last]
    keep = np.isfinite(ths)
    top = max(1.1, float(ths[keep][0]) + 1e-9) if keep.any() else 1.1
    return (np.r_[top, ths[keep]], np.r_[base, tot[keep]], np.r_[0, ntp[keep]], np.r_[0, nfp[keep]])


def score_profile(corpus: Corpus, scores: Mapping[str, np.ndarray], profile: str,
                  cost: Mapping[str, float]) -> ProfileResult:
    """Optimise the threshold over the corpus for one profile and normalise the best total."""
    ths, tot, ntp, nfp = sweep(corpus, scores, cost)
    best = int(np.argmax(tot))                       # first (highest threshold) among ties, like NAB
    null_scores = {n: np.full(corpus.layouts[n].n, 0.5) for n in corpus.names}
    _, null_tot, _, _ = sweep(corpus, null_scores, cost)
    null = float(np.max(null_tot))
    perfect = cost["tpWeight"] * corpus.n_windows
    norm = 100.0 * (tot[best] - null) / (perfect - null)
    return ProfileResult(profile, float(ths[best]), float(tot[best]), null, perfect, float(norm),
                         int(ntp[best]), int(nfp[best]), int(corpus.n_windows - ntp[best]))


def score_all(corpus: Corpus, scores: Mapping[str, np.ndarray],
              profiles: Mapping[str, Mapping[str, float]] | None = None,
              names: Iterable[str] = PROFILES) -> dict[str, ProfileResult]:
    profiles = profiles or load_profiles(corpus.root)
    return {p: score_profile(corpus, scores, p, profiles[p]) for p in names}


if __name__ == "__main__":  # pragma: no cover - manual check against the published outputs
    import sys
    corpus = load_corpus()
    for det in sys.argv[1:] or ["numenta", "windowedGaussian"]:
        res = score_all(corpus, load_published_scores(det, corpus))
        print(det, " ".join(f"{p}={r.normalized:.2f}@{r.threshold:.4f}" for p, r in res.items()))
