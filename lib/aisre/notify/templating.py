"""Jinja2 environment for the report, postmortem and weekly templates in ``notify/templates/``.

``*.html.j2`` templates autoescape; the others get explicit filters: ``md`` (Markdown-escape
untrusted text), ``code`` (text inside a fenced block), ``url`` (only http(s) survives).
Undefined names raise, so a template typo fails the golden tests instead of printing ''.
"""
from __future__ import annotations

import functools
import os
from typing import Any

import jinja2

from aisre.notify import escape

TEMPLATES_DIR = os.path.join(os.path.dirname(__file__), "templates")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = escape.markdown
    env.filters["code"] = escape.code_md
    env.filters["url"] = escape.safe_url
    env.filters["mdurl"] = escape.md_url
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context``."""
    return environment().get_template(name).render(**context)
