"""Alias format normalisation (formats are strings or {display, representation})."""
from __future__ import annotations


def normalise_alias_format_string(alias_format):
    if isinstance(alias_format, str):
        return alias_format, [alias_format]
    if isinstance(alias_format, dict):
        display = alias_format.get("display")
        representation = alias_format.get("representation") or []
        if isinstance(representation, str):
            representation = [representation]
        return display, list(representation)
    raise TypeError(f"alias format must be a string or a dict, not {type(alias_format).__name__}")
