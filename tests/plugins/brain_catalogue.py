"""Runbook catalogue for the brain tests (bench/data/triage/catalogue.yaml, Runbook dicts)."""
from __future__ import annotations

import pathlib

import pytest
import yaml

from aisre.models import Runbook

CATALOGUE = pathlib.Path(__file__).resolve().parents[2] / "bench" / "data" / "triage" / "catalogue.yaml"


def load_catalogue() -> dict[str, Runbook]:
    with open(CATALOGUE, encoding="utf-8") as fh:
        return {d["id"]: Runbook.from_dict(d) for d in yaml.safe_load(fh)}


@pytest.fixture(scope="session")
def brain_runbooks() -> dict[str, Runbook]:
    return load_catalogue()
