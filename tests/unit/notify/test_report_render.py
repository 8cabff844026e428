"""render_report: content of every format, escaping of hostile text, caps on huge incidents."""
from __future__ import annotations

import dataclasses
import re

import pytest

from aisre.errors import ValidationError
from aisre.models import Incident, IncidentStatus
from aisre.notify.report import FORMATS, build_report, render_report, summary_line
from plugins.notify_samples import HOSTILE, LINKS, checkout_incident, hostile_incident, huge_incident


def test_summary_names_service_symptom_and_onset():
    assert summary_line(checkout_incident()) == (
        "Service checkout is experiencing a rising memory_pct trend (97.2 now) since 01:15 UTC.")
    resolved = summary_line(checkout_incident(IncidentStatus.RESOLVED))
    assert resolved.startswith("Service checkout experienced") and "resolved at 01:55 UTC" in resolved


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_string_formats_carry_every_section(fmt):
    out = render_report(checkout_incident(), fmt, links=LINKS, chart_url="https://charts.example.com/c.png")
    assert isinstance(out, str)
    for needle in ("inc-20261128-0115-checkout", "production", "8% of users",            # id, env, impact
                   "97.2", "61.0", "55.0–67.0",                                          # value vs expected, band
                   "82%", "grows without bound",                                         # diagnosis
                   "restart", "verify FAILED",                                           # actions + outcome
                   "v2.13.2 → v2.14.0", "compare/v2.13.2...v2.14.0",                     # change + diff link
                   "frontend", "OutOfMemoryError", "Java heap space",                    # factors, log lines
                   "Roll back checkout to v2.13.2", "grafana.example.com/d/checkout",    # next steps, links
                   "01:28:00"):                                                          # timeline
        assert needle in out.replace("\\", ""), (fmt, needle)


def test_text_has_no_control_characters_from_hostile_input():
    out = render_report(hostile_incident(), "text")
    assert "\x1b" not in out and "\x07" not in out
    assert "RED" in out  # the words survive, the escape sequences do not


def test_markdown_neutralises_html_links_and_mentions():
    full = render_report(hostile_incident(), "markdown")
    out = re.sub(r"```.*?```", "", full, flags=re.S)   # fenced log lines are literal text
    assert "<script>" not in out and "&lt;script" in out
    assert "[phish|" not in out and "\\[phish" in out          # no live link/wiki markup
    assert "![img](" not in out                                 # no image injection
    assert "@here" not in out and "@\u2060here" in out          # mention broken with a word joiner
    assert "javascript:" not in out                             # unsafe diff URL dropped
    # every table row still has exactly 3 cells: hostile pipes are escaped
    for line in out.splitlines():
        if line.startswith("| 20"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 4, line


def test_html_escapes_everything():
    out = render_report(hostile_incident(), "html")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="javascript:' not in out


def test_unknown_format_and_wrong_type_are_validation_errors():
    with pytest.raises(ValidationError):
        render_report(checkout_incident(), "pdf")
    with pytest.raises(ValidationError):
        render_report({"id": "x"}, "text")  # type: ignore[arg-type]


def test_huge_incident_is_capped_and_says_so():
    r = build_report(huge_incident())
    assert len(r.factors) == 15 and r.omitted["factors"] == 84
    assert len(r.log_lines) == 10 and all(len(l.text) <= 500 for l in r.log_lines)
    assert r.omitted["timeline"] == 60
    text = render_report(huge_incident(), "text")
    assert "omitted for length" in text
    assert len(text) < 40_000


def test_minimal_incident_renders_in_every_format():
    bare = Incident(id="i1", fingerprint="f", service="svc")
    for fmt in FORMATS:
        out = render_report(bare, fmt)
        assert out
    assert "Service svc is experiencing an incident." in render_report(bare, "text")


def test_non_finite_values_do_not_break_rendering():
    inc = checkout_incident()
    sig = dataclasses.replace(inc.signals[0], value=float("nan"), expected=float("inf"))
    out = render_report(dataclasses.replace(inc, signals=(sig, *inc.signals[1:])), "markdown")
    assert "nan" not in out.lower().replace("nanoseconds", "")
