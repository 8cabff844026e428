"""Known fatal log signatures (data: ``aisre/detect/data/signatures.yaml``) → runbook ids.

``match_signature(text)`` returns the first :class:`Signature` whose regex matches the text (one
log line or a whole assembled event, stack trace included), or ``None``. Matching is bounded:
only the first ``MAX_MATCH_CHARS`` characters are searched, and every pattern in the data file is
linear-time, so a hostile 1 MB line costs milliseconds.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aisre.errors import ConfigError
from aisre.models import Severity

SIGNATURES_FILE = Path(__file__).resolve().parent / "data" / "signatures.yaml"
MAX_MATCH_CHARS = 16_384


@dataclass(frozen=True)
class Signature:
    id: str
    pattern: re.Pattern[str]
    runbook_id: str
    severity: Severity
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "pattern": self.pattern.pattern, "runbook_id": self.runbook_id,
                "severity": self.severity.value, "description": self.description}


def load_signatures(path: str | Path | None = None) -> tuple[Signature, ...]:
    """Load and compile the signature file (default: the packaged one).

    Raises :class:`aisre.errors.ConfigError` naming the entry when a field is missing, a regex
    does not compile, a severity is unknown or an id repeats.
    """
    p = Path(path) if path else SIGNATURES_FILE
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read signatures: {exc}", path=str(p)) from None
    entries = data.get("signatures") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("signatures file needs a 'signatures' list", path=str(p))
    out: list[Signature] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        where = f"{p}:signatures[{i}]"
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e.get(k)
                                              for k in ("id", "pattern", "runbook_id")):
            raise ConfigError("signature needs id, pattern and runbook_id", path=where)
        if e["id"] in seen:
            raise ConfigError(f"duplicate signature id {e['id']!r}", path=where)
        seen.add(e["id"])
        try:
            rx = re.compile(e["pattern"], re.IGNORECASE)
            sev = Severity(str(e.get("severity", "error")))
        except re.error as exc:
            raise ConfigError(f"invalid regex in signature {e['id']!r}: {exc}", path=where) from None
        except ValueError:
            raise ConfigError(f"unknown severity {e.get('severity')!r}", path=where) from None
        out.append(Signature(e["id"], rx, e["runbook_id"], sev, str(e.get("description", ""))))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def default_signatures() -> tuple[Signature, ...]:
    return load_signatures()


def match_signature(text: Any, signatures: tuple[Signature, ...] | None = None) -> Signature | None:
    """The first known signature found in ``text`` (str or bytes), or ``None``. Never raises."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    text = text[:MAX_MATCH_CHARS]
    for sig in signatures if signatures is not None else default_signatures():
        if sig.pattern.search(text):
            return sig
    return None
