"""Render the prompt templates in ``analysis/prompts/`` (Jinja2, partials prefixed ``_``).

StrictUndefined: a missing variable is a bug, not an empty string. Autoescape is off (this is
text for a model, not HTML); untrusted text is fenced by :mod:`aisre.analysis.context` instead.
"""
from __future__ import annotations

import functools
import json
import os
from typing import Any

import jinja2

PROMPTS_DIR = os.path.join(os.path.dirname(__file__), "prompts")


@functools.lru_cache(maxsize=4)
def environment(path: str = PROMPTS_DIR) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(path), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["tojson_compact"] = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"))
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, sort_keys=True, indent=2)
    return env


def render(name: str, **variables: Any) -> str:
    return environment().get_template(name).render(**variables).strip() + "\n"
