"""context_novelty(provisional=N): early scoring on provisional bins while the warm-up runs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aisre.detect import detector_from_state, make_detector
from aisre.errors import ValidationError


def run(det, v):
    out = []
    for x in v:
        out.append(det.score_one(x))
        det.learn_one(x)
    return np.asarray(out)


def test_provisional_scores_early_and_matches_the_plain_detector_after_warmup():
    rng = np.random.default_rng(0)
    v = 50 + rng.normal(0, 1, 600)
    v[200] = 90                                          # a spike inside the 300-point warm-up
    plain = run(make_detector("context_novelty", warmup=300), v.tolist())
    early = run(make_detector("context_novelty", warmup=300, provisional=150), v.tolist())
    assert plain[200] == 0.0 and early[200] > 10         # only the provisional detector sees it
    assert (early[:150] == 0).all()
    assert np.array_equal(early[300:], plain[300:])      # identical once the warm-up is over


def test_provisional_state_round_trip_mid_warmup():
    rng = np.random.default_rng(1)
    v = (50 + rng.normal(0, 1, 500)).tolist()
    a = make_detector("context_novelty", warmup=300, provisional=100)
    run(a, v[:220])
    b = detector_from_state(json.loads(json.dumps(a.to_state())))
    assert np.array_equal(run(a, v[220:]), run(b, v[220:]))


@pytest.mark.parametrize("bad", [5, 300, 400, -1, 1.5])
def test_provisional_must_be_zero_or_inside_the_warmup(bad):
    with pytest.raises(ValidationError):
        make_detector("context_novelty", warmup=300, provisional=bad)
