"""Redaction before anything leaves the process: prompts, payloads, reports, the audit log.

Rules are data (``analysis/data/redact.yaml``: name, regex, replacement). Configured secret
values (``aisre.config.secret_values(config)``) are replaced first, verbatim and also in their
URL-encoded form, so a leaked DSN password is caught even where no pattern would see it.

>>> Redactor(secrets=["hunter22"]).redact("login with hunter22 as bob@example.com")
'login with [SECRET] as [EMAIL]'
"""
from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
from typing import Any, Iterable, Mapping, Sequence

import yaml

from aisre.errors import ConfigError

RULES_PATH = os.path.join(os.path.dirname(__file__), "data", "redact.yaml")
MIN_SECRET_LEN = 4


@dataclasses.dataclass(frozen=True)
class RedactRule:
    name: str
    pattern: re.Pattern[str]
    replace: str


def load_rules(path: str = RULES_PATH) -> tuple[RedactRule, ...]:
    """Compile the rule file; a bad file or regex raises :class:`ConfigError` naming the rule."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read redaction rules: {exc}", path=path) from None
    return rules_from_data(raw, where=path)


def rules_from_data(raw: Sequence[Mapping[str, Any]], where: str = "rules") -> tuple[RedactRule, ...]:
    out = []
    for i, r in enumerate(raw):
        try:
            out.append(RedactRule(str(r["name"]), re.compile(r["pattern"]), str(r.get("replace", "[REDACTED]"))))
        except (KeyError, TypeError, re.error) as exc:
            raise ConfigError(f"bad redaction rule #{i}: {exc}", path=f"{where}[{i}]") from None
    return tuple(out)


_DEFAULT_RULES: tuple[RedactRule, ...] | None = None


def default_rules() -> tuple[RedactRule, ...]:
    global _DEFAULT_RULES
    if _DEFAULT_RULES is None:
        _DEFAULT_RULES = load_rules()
    return _DEFAULT_RULES


_KV_PASSWORD = re.compile(r"(?i)\b(?:password|pwd)\s*=\s*'?([^\s;']+)")


def secret_parts(secret: object) -> list[str]:
    """The secret and the credentials embedded in it (URL password, ``password=`` in a DSN)."""
    if not isinstance(secret, str) or not secret:
        return []
    parts = [secret]
    if "://" in secret:
        try:
            url = urllib.parse.urlsplit(secret)
            if url.password:
                parts.append(urllib.parse.unquote(url.password))
        except ValueError:
            pass
    parts.extend(m.group(1) for m in _KV_PASSWORD.finditer(secret))
    return parts


class Redactor:
    """Replace configured secrets and secret-looking patterns in text (and nested data)."""

    def __init__(self, secrets: Iterable[str] = (), rules: Sequence[RedactRule] | None = None) -> None:
        variants: set[str] = set()
        for s in (p for sec in secrets for p in secret_parts(sec)):
            if len(s) >= MIN_SECRET_LEN:
                variants.update({s, urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s)})
        # longest first so a secret containing another is replaced whole
        ordered = sorted(variants, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self.rules = tuple(default_rules() if rules is None else rules)

    def redact(self, text: str) -> str:
        """``text`` with secrets masked; non-strings are stringified first."""
        if not isinstance(text, str):
            text = str(text)
        if self._secrets is not None:
            text = self._secrets.sub("[SECRET]", text)
        for rule in self.rules:
            text = rule.pattern.sub(rule.replace, text)
        return text

    def redact_data(self, value: Any) -> Any:
        """Redact every string inside dicts / lists / tuples (keys included)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_data(v) for v in value)
        return value
