"""Metadata lint over the whole pack (StackStorm schemas and traps, see docs/architecture.md)."""
import pytest
import yaml

import packlint
from aisre.config import validate_config


@pytest.mark.parametrize("check", packlint.ALL, ids=lambda f: f.__name__)
def test_pack_lint_is_clean(check):
    problems = check()
    assert problems == [], "\n".join(problems)


def test_example_config_validates_against_the_schema():
    with open(packlint.ROOT / "aisre.yaml.example", encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    validate_config(doc)


def test_every_secret_in_the_schema_is_flagged():
    from aisre.config import secret_paths
    paths = secret_paths()
    for needle in ("token", "api_key", "app_key", "password", "secret_access_key", "routing_key", "dsn"):
        for path in [p for p in _all_paths(packlint.load(packlint.ROOT / "config.schema.yaml")) if p.split(".")[-1].endswith(needle)]:
            assert path in paths, f"{path} holds a credential but is not secret: true"


def _all_paths(schema, prefix=""):
    for name, node in schema.items():
        if not isinstance(node, dict):
            continue
        yield prefix + name
        if isinstance(node.get("properties"), dict):
            yield from _all_paths(node["properties"], prefix + name + ".")
        items = node.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            yield from _all_paths(items["properties"], prefix + name + "[].")


def test_linter_catches_the_classic_traps(tmp_path, monkeypatch):
    assert packlint.check_expression("<% ctx(a) %> {{ ctx(b) }}")  # mixed YAQL and Jinja
    assert packlint.check_expression("<% ctx(a %>")                 # YAQL syntax
    assert packlint.check_expression("{{ ctx( }}")                   # Jinja syntax
    assert not packlint.check_expression('<% result().result.verdict in list("act", "ask") %>')
    problems = []
    packlint.check_param_schema("x", "p", {"type": ["string", "null"], "required": "yes", "bogus": 1}, problems)
    assert len(problems) == 3
