"""Load and validate knowledge entries (runbooks, past incidents, wiki pages) into :class:`aisre.models.Runbook`.

Formats
-------
* ``*.yaml`` / ``*.yml`` - one entry per file, ``kind: runbook`` (default) or ``kind: incident``, validated
  against :data:`aisre.knowledge.schema.RUNBOOK_SCHEMA` / :data:`INCIDENT_SCHEMA`.
* ``*.md`` - a wiki page. Optional YAML front matter (between ``---`` lines) may set any runbook field,
  including ``actions`` (validated like YAML runbooks). Without front matter the id is the file name, the
  title the first ``#`` heading; sections under headings such as *Problem*/*Symptoms* become the
  description and keywords, sections such as *Resolution*/*Mitigation*/*Diagnosis* become diagnosis steps.
  A wiki page never gets actions it did not declare.

Every error is a :class:`aisre.errors.ValidationError` whose message starts with ``<file>: <json path>:``.
Each loaded entry carries ``source_path`` and ``content_hash`` (sha256 of the validated document, so
re-ingesting an unchanged file is a no-op).

>>> rb = load_runbook("knowledge/runbooks/memory-leak.yaml")      # doctest: +SKIP
>>> rb.id, rb.action("restart_deployment").safety                # doctest: +SKIP
('memory-leak', <Safety.SAFE: 'safe'>)
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema
import regex
import yaml

from aisre.errors import ValidationError
from aisre.knowledge.schema import INCIDENT_SCHEMA, RUNBOOK_SCHEMA
from aisre.models import Runbook, stable_hash

#: File suffixes :func:`load_runbooks` picks up.
SUFFIXES = (".yaml", ".yml", ".md", ".markdown")
MAX_FILE_BYTES = 1_000_000

_RUNBOOK_VALIDATOR = jsonschema.Draft7Validator(RUNBOOK_SCHEMA)
_INCIDENT_VALIDATOR = jsonschema.Draft7Validator(INCIDENT_SCHEMA)


@dataclasses.dataclass(frozen=True)
class LoadError:
    """A file that could not be loaded, and why (the message names the file and the JSON path)."""
    path: str
    message: str


def _json_path(err: jsonschema.ValidationError) -> str:
    out = "$"
    for part in err.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _best_message(err: jsonschema.ValidationError) -> str:
    # For if/then/anyOf failures the most specific child error is the readable one.
    leaf = jsonschema.exceptions.best_match([err]) if err.context else err
    if leaf is not err and leaf is not None:
        return f"{_json_path(leaf)}: {leaf.message}"
    return f"{_json_path(err)}: {err.message}"


def _check_keys(node: Any, where: str, source: str) -> None:
    """YAML 1.1 reads unquoted on/off/yes/no/1 as booleans or numbers; keys must be strings."""
    if isinstance(node, Mapping):
        for k, v in node.items():
            if not isinstance(k, str):
                raise ValidationError(f"{source}: {where}: key {k!r} is not a string (quote it: YAML reads "
                                      "on/off/yes/no as booleans)", what="runbook", path=source)
            _check_keys(v, f"{where}.{k}", source)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_keys(v, f"{where}[{i}]", source)


def validate_document(data: Any, source: str) -> dict[str, Any]:
    """Validate one parsed entry and return it; raise ValidationError naming ``source`` and the JSON path."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"{source}: $: expected a mapping at the top level, got {type(data).__name__}",
                              what="runbook", path=source)
    _check_keys(data, "$", source)
    kind = data.get("kind", "runbook")
    if kind not in ("runbook", "incident"):
        raise ValidationError(f"{source}: $.kind: {kind!r} is not one of 'runbook', 'incident'",
                              what="runbook", path=source)
    validator = _INCIDENT_VALIDATOR if kind == "incident" else _RUNBOOK_VALIDATOR
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        shown = "; ".join(_best_message(e) for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ValidationError(f"{source}: {shown}{more}", what=kind, path=source)
    for field in ("patterns", "excludes"):
        for i, pattern in enumerate((data.get("symptoms") or {}).get(field) or ()):
            try:
                compile_pattern(pattern)
            except regex.error as exc:
                raise ValidationError(f"{source}: $.symptoms.{field}[{i}]: invalid regular expression {pattern!r}: "
                                      f"{exc}", what=kind, path=source) from None
    return dict(data)


def compile_pattern(pattern: str) -> "regex.Pattern[str]":
    """A runbook symptom pattern: case-insensitive, matched with a time budget by the retriever."""
    return regex.compile(pattern, regex.IGNORECASE)


def _to_runbook(data: Mapping[str, Any], source: str) -> Runbook:
    """Map a validated document onto the Runbook model (incidents become ``kind='incident'`` entries)."""
    body = dict(data)
    content_hash = stable_hash(body, length=16)
    if body.get("kind") == "incident":
        res = body.pop("resolution")
        runbook_id = body.pop("runbook_id", None)
        when = res.get("resolved_at", "")
        who = res.get("resolved_by", "")
        outcome = res.get("outcome", "resolved")
        fix = f"Fix ({outcome}{', ' + str(when) if when else ''}{', by ' + who if who else ''}): {res['summary']}"
        body["diagnosis"] = [fix]
        body["actions"] = res.get("actions", [])
        body["auto_remediate"] = False          # a past incident informs; runbooks drive automation
        tags = list(body.get("tags", []))
        tags.append(f"outcome:{outcome}")
        if runbook_id:
            tags.append(f"runbook:{runbook_id}")
        body["tags"] = tags
    body.setdefault("kind", "runbook")
    body["source_path"] = source
    body["content_hash"] = content_hash
    try:
        return Runbook.from_dict(body, _where=source)
    except ValidationError as exc:  # enum/shape problems the schema let through
        raise ValidationError(f"{source}: {exc.message}", what="runbook", path=source) from None


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(f"{path}: $: file is {size} bytes, limit {MAX_FILE_BYTES}",
                                  what="runbook", path=str(path))
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: $: cannot read file: {exc}", what="runbook", path=str(path)) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(f"{source}: $: invalid YAML{where}: {problem}", what="runbook", path=source) from None
    except (ValueError, OverflowError, RecursionError) as exc:   # e.g. a date like 2026-13-45 in a scalar
        raise ValidationError(f"{source}: $: invalid YAML value: {type(exc).__name__}: {str(exc)[:200]}",
                              what="runbook", path=source) from None


# --------------------------------------------------------------------------- markdown

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
_PROBLEM = re.compile(r"problem|symptom|meaning|overview|description|summary|impact|context|what", re.I)
_STEPS = re.compile(r"resolution|mitigation|fix|remediation|diagnos|steps|procedure|how to|triage|recovery", re.I)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (s or "page")[:80]


def _sections(body: str) -> list[tuple[str, str]]:
    """Split Markdown into (heading, text) pairs; text before the first heading has heading ''."""
    out: list[tuple[str, str]] = []
    last_title, last_end = "", 0
    for m in _HEADING.finditer(body):
        out.append((last_title, body[last_end:m.start()].strip()))
        last_title, last_end = m.group(2).strip(), m.end()
    out.append((last_title, body[last_end:].strip()))
    return [(h, t) for h, t in out if h or t]


def _steps(text: str) -> list[str]:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("```")]
    bullets = [m.group(1) for ln in lines if (m := _BULLET.match(ln))]
    if bullets:
        return bullets
    paras = [p.strip().replace("\n", " ") for p in re.split(r"\n\s*\n", text) if p.strip()]
    return paras


def markdown_document(text: str, source: str) -> dict[str, Any]:
    """Turn a wiki page into a runbook document (before schema validation)."""
    front: dict[str, Any] = {}
    body = text
    m = _FRONT.match(text)
    if m:
        parsed = _parse_yaml(m.group(1), source)
        if parsed is not None and not isinstance(parsed, Mapping):
            raise ValidationError(f"{source}: $: front matter must be a mapping", what="runbook", path=source)
        front = dict(parsed or {})
        body = text[m.end():]
    sections = _sections(body)
    title = front.get("title")
    h1 = next((h for h in (s[0] for s in sections) if h), "")
    if not title:
        first = _HEADING.search(body)
        title = first.group(2).strip() if first else Path(source).stem.replace("-", " ").replace("_", " ")
    problem: list[str] = []
    steps: list[str] = []
    for heading, content in sections:
        if not content:
            continue
        if heading and _STEPS.search(heading) and not _PROBLEM.fullmatch(heading):
            steps.extend(_steps(content))
        elif not heading or heading == h1 or _PROBLEM.search(heading):
            problem.append(re.sub(r"\s+", " ", content))
        else:
            steps.extend(_steps(content))
    doc: dict[str, Any] = {
        "id": front.get("id") or _slug(Path(source).stem),
        "title": str(title)[:200],
        "description": front.get("description") or " ".join(problem)[:4000],
        "symptoms": front.get("symptoms") or {"keywords": []},
        "diagnosis": front.get("diagnosis") or [s[:1000] for s in steps[:40]],
        "tags": list(front.get("tags") or []) + ["wiki"],
    }
    for key in ("kind", "services", "references", "escalation", "actions", "auto_remediate"):
        if key in front:
            doc[key] = front[key]
    if "actions" not in front:
        doc["auto_remediate"] = False            # no actions unless the page declares them
    unknown = set(front) - set(doc) - {"title", "description", "symptoms", "diagnosis", "tags"}
    for key in sorted(unknown):
        doc[key] = front[key]                     # let the schema name the unknown key
    return doc


# --------------------------------------------------------------------------- public API


def load_runbook(path: str | os.PathLike[str]) -> Runbook:
    """Load and validate one YAML or Markdown entry.

    Raises
    ------
    ValidationError
        The message starts with ``<file>: <json path>:`` (bad YAML, missing id, unknown safety, ...).
    """
    p = Path(path)
    source = str(p)
    text = _read_text(p)
    if p.suffix.lower() in (".md", ".markdown"):
        data = markdown_document(text, source)
    else:
        data = _parse_yaml(text, source)
        if data is None:
            raise ValidationError(f"{source}: $: file is empty", what="runbook", path=source)
    return _to_runbook(validate_document(data, source), source)


#: Sub-directory of the knowledge directory holding labelled incident texts (not entries).
LABELLED_DIR = "labelled"
MAX_LABELLED = 20_000


def read_labelled_file(path: str | os.PathLike[str]) -> list[Mapping[str, Any]]:
    """The validated items of one labelled file: ``queries: [{q: "<text>", expect: <runbook id | none>}, ...]``
    (extra keys such as ``metrics`` are kept for the caller). A bad file raises :class:`ValidationError`
    naming it and the item."""
    path = Path(path)
    data = _parse_yaml(_read_text(path), str(path))
    items = data.get("queries") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise ValidationError(f"{path}: $.queries: expected a list of {{q, expect}}", what="labelled", path=str(path))
    for i, item in enumerate(items):
        if not (isinstance(item, Mapping) and isinstance(item.get("q"), str) and item["q"].strip()
                and isinstance(item.get("expect"), str) and item["expect"].strip()):
            raise ValidationError(f"{path}: $.queries[{i}]: needs a non-empty q and expect",
                                  what="labelled", path=str(path))
    return items


def load_labelled(root: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Labelled incident texts under ``<root>/labelled/*.yaml`` as ``(text, runbook id or "none")``.

    A missing directory means none; a bad file raises :class:`ValidationError` (see :func:`read_labelled_file`).
    """
    base = Path(root) / LABELLED_DIR if Path(root).name != LABELLED_DIR else Path(root)
    if not base.is_dir():
        return []
    out: list[tuple[str, str]] = []
    for path in sorted(base.glob("*.y*ml")):
        out += [(item["q"], item["expect"].strip()) for item in read_labelled_file(path)]
        if len(out) > MAX_LABELLED:
            raise ValidationError(f"{base}: more than {MAX_LABELLED} labelled texts", what="labelled",
                                  path=str(base))
    return out


def iter_entry_files(root: str | os.PathLike[str]) -> list[Path]:
    """Every entry file under ``root`` (recursive, sorted, hidden files and directories skipped)."""
    base = Path(root)
    if base.is_file():
        return [base]
    if not base.is_dir():
        raise ValidationError(f"{base}: $: no such directory", what="runbooks", path=str(base))
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != LABELLED_DIR)
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(SUFFIXES) or name.lower() == "readme.md":
                continue
            out.append(Path(dirpath) / name)
    return out


def scan_runbooks(root: str | os.PathLike[str]) -> tuple[list[Runbook], list[LoadError]]:
    """Load every entry under ``root``, collecting per-file errors instead of stopping at the first.

    A duplicate id is an error for the second file (the first one wins).
    """
    runbooks: list[Runbook] = []
    errors: list[LoadError] = []
    seen: dict[str, str] = {}
    for path in iter_entry_files(root):
        try:
            rb = load_runbook(path)
        except ValidationError as exc:
            errors.append(LoadError(str(path), exc.message))
            continue
        if rb.id in seen:
            errors.append(LoadError(str(path), f"{path}: $.id: duplicate id {rb.id!r} (already defined in {seen[rb.id]})"))
            continue
        seen[rb.id] = str(path)
        runbooks.append(rb)
    return runbooks, errors


def load_runbooks(root: str | os.PathLike[str]) -> list[Runbook]:
    """Load every entry under ``root`` (recursive; YAML and Markdown). Any bad file raises.

    Raises
    ------
    ValidationError
        Listing every bad file with its JSON path; duplicate ids name both files.
    """
    runbooks, errors = scan_runbooks(root)
    if errors:
        raise ValidationError("; ".join(e.message for e in errors), what="runbooks", path=str(root),
                              files=len(errors))
    return runbooks


def check_unique(runbooks: Iterable[Runbook]) -> None:
    """Raise ValidationError if two entries share an id."""
    seen: dict[str, str] = {}
    for rb in runbooks:
        if rb.id in seen:
            raise ValidationError(f"{rb.source_path}: $.id: duplicate id {rb.id!r} (already defined in {seen[rb.id]})",
                                  what="runbooks", path=rb.source_path)
        seen[rb.id] = rb.source_path
