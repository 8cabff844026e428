"""Neutralise untrusted text (alert titles, log lines, LLM prose) for each output format.

Every renderer passes outside text through exactly one function here. Contracts:

* :func:`clean` - any text: drops ANSI escape sequences and control characters (keeps ``\\n`` and
  ``\\t`` when ``multiline``), collapses to one line otherwise, and truncates with a visible marker.
* :func:`mrkdwn` - Slack mrkdwn: escapes ``& < >`` (so ``<!channel>`` and ``<http://x|y>`` become
  inert text) and breaks broadcast mentions (``@here``, ``@channel``, ``@everyone``).
* :func:`markdown` - CommonMark/GFM: escapes HTML, backslash-escapes markup characters, breaks
  mentions. :func:`code_md` is for text inside a fenced block.
* :func:`html` - HTML text and attribute values.
* :func:`safe_url` - only ``http``/``https`` URLs survive; anything else (``javascript:``) is ''.

Truncation is always marked with :data:`TRUNCATION_MARK` so a reader knows text is missing.
"""
from __future__ import annotations

import html as _html
import re
from urllib.parse import urlsplit

TRUNCATION_MARK = "… [truncated]"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?=(here|channel|everyone|all)\b)", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~>])")
_WORD_JOINER = "\u2060"


def truncate(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """``text`` cut to at most ``limit`` characters, ending with ``mark`` when anything was cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(mark):
        return mark[:limit]
    return text[: limit - len(mark)].rstrip() + mark


def clean(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """Plain, printable text: no ANSI/control characters; one line unless ``multiline``."""
    s = "" if text is None else str(text)
    cut = limit is not None and len(s) > 8 * limit + 64
    if cut:  # cleaning is linear in the input: never clean megabytes to keep a few hundred characters
        s = s[: 8 * limit + 64]
    s = _ANSI.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        s = " ".join(s.split())
    else:
        s = s.replace("\t", "    ")
    s = _CONTROL.sub("", s)
    if limit is not None:
        if cut and len(s) <= limit - len(TRUNCATION_MARK):
            s = s.rstrip() + TRUNCATION_MARK
        s = truncate(s, limit)
    return s


def _break_mentions(s: str) -> str:
    return _MENTION.sub("@" + _WORD_JOINER, s)


def mrkdwn(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """Slack mrkdwn-safe text. ``limit`` applies to the escaped result."""
    s = clean(text, multiline=multiline)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _break_mentions(s)
    return truncate(s, limit) if limit is not None else s


def plain_slack(text: object, limit: int | None = None) -> str:
    """Text for a Slack ``plain_text`` object (headers): no angle-bracket commands, no broadcast mentions."""
    s = _break_mentions(clean(text).replace("<", "\u2039").replace(">", "\u203a"))
    return truncate(s, limit) if limit is not None else s


def code_mrkdwn(text: object, limit: int | None = None) -> str:
    """Text for a Slack code span/block: mrkdwn escaping plus no backticks that could close it."""
    return mrkdwn(str(text).replace("`", "\u02cb"), limit)


def markdown(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """CommonMark/GFM-safe inline text (no raw HTML, no emphasis/link/table markup, no mentions)."""
    s = clean(text, limit, multiline=multiline)
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return _break_mentions(s)


def code_md(text: object, limit: int | None = None) -> str:
    """Text for a fenced code block: a backtick run cannot close the fence."""
    return clean(text, limit).replace("`", "\u02cb")


def html(text: object, limit: int | None = None, *, multiline: bool = False) -> str:
    """HTML-escaped text, safe in element content and quoted attributes."""
    return _html.escape(clean(text, limit, multiline=multiline), quote=True)


def safe_url(url: object) -> str:
    """The URL if it is absolute http(s) without whitespace or control characters, else ''."""
    s = "" if url is None else str(url).strip()
    if not s or _CONTROL.search(s) or any(c.isspace() for c in s) or len(s) > 2000:
        return ""
    try:
        parts = urlsplit(s)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return s


def md_url(url: object) -> str:
    """A :func:`safe_url` usable inside Markdown ``(...)`` link targets."""
    u = safe_url(url)
    return u.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def mrkdwn_url(url: object) -> str:
    """A :func:`safe_url` usable inside a Slack ``<url|text>`` link."""
    u = safe_url(url)
    return u.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
