"""Hypothesis fuzzing of every parser of outside input (CI size; ``bench/fuzz.py`` runs 10,000+ per parser).

Property for each target (see ``tests/plugins/reliability_fuzz.py``): the parser returns its typed
result with its invariants kept, or raises an :class:`aisre.errors.SreError` whose message says what
was wrong. Nothing else escapes. ``AISRE_FUZZ_EXAMPLES`` sets the examples per parser (default 100).
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from plugins.reliability_fuzz import TARGETS

#: deterministic in CI (derandomize); bench/fuzz.py explores with fresh randomness
EXAMPLES = int(os.environ.get("AISRE_FUZZ_EXAMPLES", "100"))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_never_raises_anything_but_sre_errors(name):
    strategy, prop = TARGETS[name]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(strategy())
    def run(case):
        prop(case)

    run()


def test_every_webhook_kind_has_real_format_fixtures_to_mutate():
    from aisre.sources.webhooks import KINDS
    from plugins.reliability_fuzz import _FIXTURES
    assert set(KINDS) <= set(_FIXTURES), f"kinds without fixtures: {set(KINDS) - set(_FIXTURES)}"
