"""The confidence model's fit: raw-scale weights, constant features, a separable toy problem."""
from __future__ import annotations

import numpy as np

from aisre.knowledge.calibrate import fit_weights
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
