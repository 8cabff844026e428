"""Masking rules as data: variable masks for template mining and the redactor for log samples.

The rules live in ``aisre/detect/data/masking.yaml`` (see the comments there). Two consumers:

* :class:`Masker` turns a log line into its masked form for the template miner: the combined
  ``parse_masks`` regex replaces URLs, e-mail addresses, UUIDs, IPs, hex, paths … by ``<*>``, then
  every piece of a token (split on ``token_delimiters``) that still contains a digit becomes ``<*>``.
  Masks never match whitespace, so a line keeps its token count.
* :func:`redact` removes secrets and personal data (passwords in URLs, bearer tokens, JWTs, AWS
  keys, vendor tokens, ``password=…`` pairs, e-mail addresses) from a log line before it is put in
  a signal, a prompt or a notification. The "brain" area keeps its own, wider analysis redactor.

Contract: both are pure functions of their input, linear in its length (no nested quantifiers in
the data), never raise on any ``str`` (non-str input is coerced with ``str()``), and bound their
input with ``max_chars`` (longer text is cut and marked with ``…[truncated]``).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aisre.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"
MASKING_FILE = DATA_DIR / "masking.yaml"
WILDCARD = "<*>"
TRUNCATED = "…[truncated]"
DEFAULT_REDACT_MAX_CHARS = 4096


@dataclass(frozen=True)
class RedactRule:
    name: str
    pattern: re.Pattern[str]
    replace: str


@dataclass(frozen=True)
class MaskingRules:
    """The parsed ``masking.yaml``: compiled parse masks, token delimiters, redaction rules."""
    parse_masks: tuple[tuple[str, str, tuple[str, ...]], ...]   # (name, pattern, requires) in order
    token_delimiters: str
    redact: tuple[RedactRule, ...]
    variable_after: frozenset[str] = frozenset()   # nouns that introduce a value ("user <*>")


def _compile(name: str, pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid regex for {name!r}: {exc}", path=where) from None


def load_masking(path: str | Path | None = None) -> MaskingRules:
    """Load and compile the masking rules (default: the packaged ``masking.yaml``).

    Raises :class:`aisre.errors.ConfigError` when the file is unreadable or a rule is invalid.
    """
    p = Path(path) if path else MASKING_FILE
    try:
        data: Any = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read masking rules: {exc}", path=str(p)) from None
    if not isinstance(data, dict):
        raise ConfigError("masking rules must be a mapping", path=str(p))
    masks = []
    for i, rule in enumerate(data.get("parse_masks") or ()):
        if not isinstance(rule, dict) or not rule.get("name") or not rule.get("pattern"):
            raise ConfigError("parse mask needs name and pattern", path=f"{p}:parse_masks[{i}]")
        _compile(rule["name"], rule["pattern"], f"{p}:parse_masks[{i}]")
        requires = rule.get("requires") or []
        if not isinstance(requires, list) or not all(isinstance(r, str) and r for r in requires):
            raise ConfigError("requires must be a list of non-empty strings", path=f"{p}:parse_masks[{i}]")
        masks.append((str(rule["name"]), str(rule["pattern"]), tuple(requires)))
    redact_rules = []
    for i, rule in enumerate(data.get("redact") or ()):
        if not isinstance(rule, dict) or not rule.get("name") or not rule.get("pattern"):
            raise ConfigError("redact rule needs name and pattern", path=f"{p}:redact[{i}]")
        redact_rules.append(RedactRule(str(rule["name"]),
                                       _compile(rule["name"], rule["pattern"], f"{p}:redact[{i}]"),
                                       str(rule.get("replace", "[REDACTED]"))))
    delims = data.get("token_delimiters")
    if not isinstance(delims, str) or not delims:
        raise ConfigError("token_delimiters must be a non-empty string", path=f"{p}:token_delimiters")
    after = data.get("variable_after") or []
    if not isinstance(after, list) or not all(isinstance(w, str) for w in after):
        raise ConfigError("variable_after must be a list of words", path=f"{p}:variable_after")
    return MaskingRules(tuple(masks), delims, tuple(redact_rules), frozenset(w.lower() for w in after))


@functools.lru_cache(maxsize=1)
def default_rules() -> MaskingRules:
    return load_masking()


class Masker:
    """Line → masked line (variables replaced by ``<*>``), whitespace and token count preserved."""

    def __init__(self, rules: MaskingRules | None = None) -> None:
        self.rules = rules or default_rules()
        self._gated = tuple((i, req) for i, (_, _, req) in enumerate(self.rules.parse_masks) if req)
        self._combined: dict[int, re.Pattern[str] | None] = {}     # bit set of passed gates -> regex
        # a piece of a token (between delimiters) that contains a digit; tried only at piece starts
        cls = re.escape(self.rules.token_delimiters.replace(" ", "")) + r"\s"
        self._digit_piece = re.compile(rf"(?<![^{cls}])[^{cls}]*\d[^{cls}]*")
        self._has_digit = re.compile(r"\d")
        # "<*>" pieces glued to each other by '-', '_', '.', ':' or '/' collapse into one
        self._glued = re.compile(r"<\*>(?:[\-_.:/#@,+]?<\*>)+")

    def _regex_for(self, line: str) -> re.Pattern[str] | None:
        """The alternation of the rules whose ``requires`` gate the line passes (compiled once per set)."""
        active = 0
        for i, req in self._gated:
            for r in req:
                if r in line:
                    active |= 1 << i
                    break
        rx = self._combined.get(active, False)
        if rx is False:
            pats = [pat for i, (_, pat, req) in enumerate(self.rules.parse_masks) if not req or active >> i & 1]
            rx = re.compile("|".join(f"(?:{pat})" for pat in pats)) if pats else None
            self._combined[active] = rx
        return rx  # type: ignore[return-value]

    def mask(self, line: str) -> str:
        rx = self._regex_for(line)
        if rx is not None:
            line = rx.sub(WILDCARD, line)
        if self._has_digit.search(line):
            line = self._digit_piece.sub(WILDCARD, line)
        if "<*>" in line:
            line = self._glued.sub(WILDCARD, line)
        return line


@functools.lru_cache(maxsize=8)
def shared_masker(rules: MaskingRules | None = None) -> "Masker":
    """One :class:`Masker` per rule set, shared so its compiled regexes are reused."""
    return Masker(rules)


def truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters plus a visible marker."""
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + TRUNCATED


def redact(text: Any, *, max_chars: int = DEFAULT_REDACT_MAX_CHARS, rules: MaskingRules | None = None) -> str:
    """Remove secrets and personal data from one piece of log text (see module docstring).

    Control characters other than tab and newline are replaced by U+FFFD so samples cannot carry
    terminal escapes. Never raises.
    """
    if not isinstance(text, str):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", errors="replace")
        else:
            text = str(text)
    text = truncate(text, max_chars)
    for rule in (rules or default_rules()).redact:
        text = rule.pattern.sub(rule.replace, text)
    return _CONTROL.sub("\ufffd", text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
