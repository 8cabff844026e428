"""Rendered reports, postmortem and weekly report match tests/golden/notify/* byte for byte."""
from __future__ import annotations

import pathlib

import pytest

from plugins.notify_samples import golden_outputs

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "golden" / "notify"
OUTPUTS = golden_outputs()


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_matches_golden(name):
    path = GOLDEN / name
    assert path.exists(), f"missing golden file {name}: run python tests/golden/notify/regen.py"
    assert OUTPUTS[name] == path.read_text(encoding="utf-8"), \
        f"{name} differs from its golden file; if intended, run python tests/golden/notify/regen.py and review"


def test_every_golden_file_is_produced():
    on_disk = {p.name for p in GOLDEN.iterdir() if p.suffix in (".txt", ".md", ".html", ".json")} - {"README.md"}
    assert on_disk == set(OUTPUTS)
