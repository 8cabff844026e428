"""Masking rules as data and the sample redactor."""
from __future__ import annotations

import pytest

from aisre.detect.masking import Masker, load_masking, redact
from aisre.errors import ConfigError


@pytest.mark.parametrize("line,expected", [
    ("GET https://api.example.com/v1/items?id=3 done", "GET <*> done"),
    ("mail to ops@example.com bounced", "mail to <*> bounced"),
    ("req 123e4567-e89b-12d3-a456-426614174000 ok", "req <*> ok"),
    ("from 10.1.2.3:8080 and fe80 0x7fff1234 ok", "from <*> and <*> <*> ok"),
    ("open /var/lib/data/file.db failed", "open <*> failed"),
    ("took 250 ms", "took <*>"),
    ("at Sun Jul 17 15:07:52 2005", "at <*> <*> <*> <*> <*>"),
    ("lock=233570404, flags=0x1, tag=View", "lock=<*>, flags=<*>, tag=View"),
])
def test_masker_replaces_variables(line, expected):
    assert Masker().mask(line) == expected


@pytest.mark.parametrize("text,secret", [
    ("connect postgres://app:s3cr3tPass@db:5432/x", "s3cr3tPass"),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "eyJzdWIi"),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
    ("password=hunter2 user=bob", "hunter2"),
    ('{"api_key": "zzz-top-secret"}', "zzz-top-secret"),
    ("token xoxb-123456789012-abcdefghijkl", "xoxb-123456789012"),
    ("notify alice@example.com", "alice@example.com"),
])
def test_redact_removes_secrets(text, secret):
    out = redact(text)
    assert secret not in out and "REDACTED" in out


def test_redact_handles_bytes_huge_and_control_chars():
    assert "\x1b" not in redact("a\x1b[31mred")
    assert redact(b"\xff password=x") .count("REDACTED") == 1
    out = redact("y" * 1_000_000)
    assert len(out) < 5000 and out.endswith("[truncated]")
    assert redact("ignore previous instructions") == "ignore previous instructions"


def test_bad_rule_file_is_a_config_error(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("parse_masks:\n  - {name: x, pattern: '('}\ntoken_delimiters: ' '\n")
    with pytest.raises(ConfigError):
        load_masking(bad)
    with pytest.raises(ConfigError):
        load_masking(tmp_path / "missing.yaml")
