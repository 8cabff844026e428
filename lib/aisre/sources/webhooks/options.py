"""Options shared by the normalisers (mappings and injectable seams)."""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookOptions:
    now: float
    headers: Mapping[str, str]                       # lower-cased names
    service_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    verify_sns: bool = True
    cert_fetcher: Callable[[str], bytes] | None = None
    github_secret: str | None = None
    raw_body: bytes | None = None                    # exact bytes, for HMAC checks
