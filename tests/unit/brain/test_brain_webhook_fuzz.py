"""Any JSON a sender can post gives a result or a ValidationError - never another exception."""
import json
import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisre.errors import ValidationError
from aisre.sources.webhooks import KINDS, normalise

FIX = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
SEEDS = {k: [json.loads(p.read_text()) for p in sorted((FIX / k).glob("*.json"))] for k in KINDS}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                  st.dictionaries(st.text(max_size=12), c, max_size=4)), max_leaves=12)


def mutate(doc, path_choices, new):
    """Replace one field (chosen by index) anywhere in the document with a random value."""
    paths = []

    def walk(node, trail):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append(trail + [k])
                walk(v, trail + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                paths.append(trail + [i])
                walk(v, trail + [i])

    walk(doc, [])
    if not paths:
        return new
    trail = paths[path_choices % len(paths)]
    out = json.loads(json.dumps(doc))
    node = out
    for k in trail[:-1]:
        node = node[k]
    node[trail[-1]] = new
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), which=st.integers(0, 10), where=st.integers(0, 10_000), new=values)
def test_mutated_vendor_payloads_never_crash(kind, which, where, new):
    seeds = SEEDS[kind]
    doc = mutate(seeds[which % len(seeds)], where, new)
    try:
        res = normalise(kind, doc, {"x-github-event": "deployment_status"}, now=1.8e9, verify_sns=False)
    except ValidationError:
        return
    for s in res.signals:
        assert s.service and s.name and isinstance(s.ts, float)
    for c in res.changes:
        assert c.service and c.id


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(KINDS), body=values)
def test_arbitrary_json_never_crashes(kind, body):
    try:
        normalise(kind, json.dumps(body), now=1.8e9, verify_sns=False)
    except ValidationError:
        pass
