"""Property tests: whatever the input, escaped text cannot carry markup into its format."""
from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from aisre.notify import escape

TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list("<>&@|*_`[](){}#!\x1b\x07\n\r\t")),
               max_size=300)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_mrkdwn_has_no_control_brackets(s):
    out = escape.mrkdwn(s)
    assert "<" not in out and ">" not in out
    assert not re.search(r"&(?!amp;|lt;|gt;)", out)
    assert not re.search(r"@(here|channel|everyone)\b", out, re.I)
    assert "\x1b" not in out and "\n" not in out


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_markdown_has_no_raw_html_or_links(s):
    out = escape.markdown(s)
    assert "<" not in out
    assert not re.search(r"(?<!\\)\[", out) and not re.search(r"(?<!\\)\|", out)
    assert "\x1b" not in out


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(min_value=0, max_value=400))
def test_truncate_bounds_and_marks(s, limit):
    out = escape.truncate(s, limit)
    assert len(out) <= limit
    if len(s) > limit and limit > len(escape.TRUNCATION_MARK):
        assert out.endswith(escape.TRUNCATION_MARK)


@given(st.text(max_size=100))
def test_safe_url_only_http(s):
    out = escape.safe_url(s)
    assert out == "" or out.split(":", 1)[0].lower() in ("http", "https")


def test_safe_url_examples():
    assert escape.safe_url("https://grafana.example.com/d/x?a=1") == "https://grafana.example.com/d/x?a=1"
    for bad in ("javascript:alert(1)", "data:text/html,x", "https://a b", "//evil.example", "ftp://x", "http://"):
        assert escape.safe_url(bad) == "", bad


def test_clean_of_a_huge_input_is_bounded_and_marked():
    out = escape.clean("a" * 5_000_000, 500)
    assert len(out) == 500 and out.endswith(escape.TRUNCATION_MARK)
    spaced = escape.clean(" " * 100_000 + "tail", 50)
    assert spaced == escape.TRUNCATION_MARK or spaced.endswith(escape.TRUNCATION_MARK)
