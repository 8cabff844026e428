"""Typed configuration, validated once against the pack's ``config.schema.yaml``.

The same schema serves StackStorm (which validates ``/opt/stackstorm/configs/aisre.yaml``)
and the standalone command (``aisre --config aisre.yaml``). :func:`load_config` validates,
fills defaults and returns a frozen :class:`Config`; :func:`secret_values` lists every
configured secret so redaction can strip them from logs, prompts, payloads and the audit log.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any, Mapping

import yaml

from aisre.errors import ConfigError

PACK_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA_PATH = os.path.join(PACK_ROOT, "config.schema.yaml")
DEFAULT_KNOWLEDGE_DIR = os.path.join(PACK_ROOT, "knowledge")


_SCHEMA_CACHE: dict[tuple[str, float], dict[str, Any]] = {}


def work_dir(*parts: str) -> str:
    """Where aisre writes scratch files (charts, postmortem drafts): ``$AISRE_WORK_DIR`` or the system
    temporary directory; created on demand."""
    import tempfile
    path = os.path.join(os.environ.get("AISRE_WORK_DIR") or os.path.join(tempfile.gettempdir(), "aisre"), *parts)
    os.makedirs(path, exist_ok=True)
    return path


def load_schema(path: str = SCHEMA_PATH) -> dict[str, Any]:
    """The pack's config schema (a fresh copy; parsed once per file version, keyed by path and mtime)."""
    try:
        stamp = (path, os.stat(path).st_mtime)
        if stamp not in _SCHEMA_CACHE:
            with open(path, encoding="utf-8") as fh:
                _SCHEMA_CACHE[stamp] = yaml.safe_load(fh) or {}
        return copy.deepcopy(_SCHEMA_CACHE[stamp])
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config schema: {exc}", path=path) from None


def to_json_schema(st2_schema: Mapping[str, Any]) -> dict[str, Any]:
    """Turn StackStorm's attribute map (draft-3 boolean ``required``) into one draft-4 object schema."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        out: dict[str, Any] = {}
        required: list[str] = []
        for k, v in node.items():
            if k in ("secret", "immutable", "position"):
                continue
            if k == "properties" and isinstance(v, Mapping):
                props = {}
                for pk, pv in v.items():
                    props[pk] = convert(pv)
                    if isinstance(pv, Mapping) and pv.get("required") is True:
                        required.append(pk)
                out["properties"] = props
            elif k == "required" and isinstance(v, bool):
                continue
            else:
                out[k] = convert(v)
        if required:
            out["required"] = required
        return out

    return convert({"type": "object", "properties": dict(st2_schema)})


def _fill_defaults(schema: Mapping[str, Any], data: Any) -> Any:
    if not isinstance(schema, Mapping):
        return data
    if schema.get("type") == "object" and isinstance(data, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in data and isinstance(sub, Mapping) and "default" in sub:
                data[name] = copy.deepcopy(sub["default"])
            if name in data:
                data[name] = _fill_defaults(sub, data[name])
    elif schema.get("type") == "array" and isinstance(data, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            data[:] = [_fill_defaults(items, d) for d in data]
    return data


def validate_config(data: Mapping[str, Any], schema_path: str = SCHEMA_PATH) -> dict[str, Any]:
    """Validate ``data`` against the pack schema and return a copy with defaults filled in."""
    import jsonschema

    schema = to_json_schema(load_schema(schema_path))
    doc = copy.deepcopy(dict(data or {}))
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"invalid config at {where}: {err.message}{more}", path=where)
    return _fill_defaults(schema, doc)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MetricSpec:
    name: str
    query: str
    source: str = "prometheus"
    detector: str = "default"
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    capacity: float | None = None
    direction: str = "up"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetSpec:
    kind: str = "kubernetes"
    name: str = ""
    namespace: str = "default"
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    name: str
    owner: str = ""
    tier: int = 2
    depends_on: tuple[str, ...] = ()
    dashboard_url: str = ""
    log_search_url: str = ""
    metrics: tuple[MetricSpec, ...] = ()
    logs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    target: TargetSpec = dataclasses.field(default_factory=TargetSpec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SafetyConfig:
    mode: str = "shadow"
    max_attempts: int = 2
    allow_list: tuple[str, ...] = ("restart_deployment", "scale_deployment", "rollback_deployment")
    max_actions_per_window: int = 5
    rate_window_minutes: float = 60
    lease_ttl_s: int = 900
    approval_ttl_minutes: int = 30
    max_scale_factor: float = 2.0
    max_replicas: int = 50
    peak_hours: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    emergency_caution_auto: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration. Sections other than services and safety stay as validated dicts."""
    environment: str = "dev"
    services: tuple[ServiceSpec, ...] = ()
    sources: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    detection: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    llm: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    knowledge: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    notify: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    targets: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    safety: SafetyConfig = dataclasses.field(default_factory=SafetyConfig)
    audit: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def knowledge_dir(self) -> str:
        return self.knowledge.get("runbooks_dir") or DEFAULT_KNOWLEDGE_DIR


def _service(d: Mapping[str, Any]) -> ServiceSpec:
    return ServiceSpec(
        name=d["name"], owner=d.get("owner", ""), tier=d.get("tier", 2),
        depends_on=tuple(d.get("depends_on", ())),
        dashboard_url=d.get("dashboard_url", ""), log_search_url=d.get("log_search_url", ""),
        metrics=tuple(MetricSpec(**m) for m in d.get("metrics", ())),
        logs=dict(d.get("logs", {})),
        target=TargetSpec(**d["target"]) if d.get("target") else TargetSpec(name=d["name"]),
    )


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced by the override."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(override)


def apply_environment(data: Mapping[str, Any], environment: str | None = None) -> dict[str, Any]:
    """Deep-merge ``environments[<environment>]`` over the base document (the selected install's view)."""
    doc = dict(data)
    envs = doc.get("environments") or {}
    name = environment or doc.get("environment")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"environment must be a string, got {type(name).__name__}", path="environment")
    if not isinstance(envs, Mapping):
        raise ConfigError("environments must be a mapping of environment name to overrides", path="environments")
    if name and name in envs:
        override = envs[name]
        if not isinstance(override, Mapping):
            raise ConfigError(f"environments.{name} must be a mapping", path=f"environments.{name}")
        if "environments" in override or "environment" in override:
            raise ConfigError(f"environments.{name} may not set environment(s)", path=f"environments.{name}")
        doc = deep_merge(doc, override)
    elif envs and name and name not in envs:
        known = ", ".join(sorted(envs))
        raise ConfigError(f"environment {name!r} has no entry under environments (known: {known})", path="environment")
    doc["environments"] = dict(envs)
    return doc


def load_config(data: Mapping[str, Any] | None = None, *, path: str | None = None) -> Config:
    """Build a validated :class:`Config` from a dict (st2 pack config) or a YAML file."""
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}", path=path) from None
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
            raise ConfigError(f"config file is not valid YAML: {exc}", path=path) from None
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError("config must be a mapping at the top level")
    doc = validate_config(apply_environment(data or {}))
    names = [s["name"] for s in doc.get("services", [])]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"duplicate service names: {', '.join(dupes)}", path="services")
    safety = dict(doc.get("safety", {}))
    if "allow_list" in safety:
        safety["allow_list"] = tuple(safety["allow_list"])
    return Config(
        environment=doc.get("environment", "dev"),
        services=tuple(_service(s) for s in doc.get("services", [])),
        sources=doc.get("sources", {}), detection=doc.get("detection", {}), llm=doc.get("llm", {}),
        knowledge=doc.get("knowledge", {}), notify=doc.get("notify", {}), targets=doc.get("targets", {}),
        safety=SafetyConfig(**safety), audit=doc.get("audit", {}), raw=doc,
    )


def secret_paths(schema: Mapping[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Dotted paths of every ``secret: true`` attribute (``[]`` marks array items)."""
    schema = load_schema() if schema is None else schema
    out: list[str] = []
    for name, node in schema.items():
        if not isinstance(node, Mapping):
            continue
        path = f"{prefix}{name}"
        if node.get("secret"):
            out.append(path)
        if isinstance(node.get("properties"), Mapping):
            out.extend(secret_paths(node["properties"], path + "."))
        items = node.get("items")
        if isinstance(items, Mapping) and isinstance(items.get("properties"), Mapping):
            out.extend(secret_paths(items["properties"], path + "[]."))
    return out


def secret_values(config: Config | Mapping[str, Any]) -> list[str]:
    """Every configured secret value (non-empty strings), for redaction."""
    doc = config.raw if isinstance(config, Config) else config
    values: list[str] = []

    def walk(node: Any, parts: list[str]) -> None:
        if not parts:
            if isinstance(node, str) and node:
                values.append(node)
            return
        head, rest = parts[0], parts[1:]
        if head.endswith("[]"):
            seq = node.get(head[:-2]) if isinstance(node, Mapping) else None
            for item in seq or []:
                walk(item, rest)
        elif isinstance(node, Mapping) and head in node:
            walk(node[head], rest)

    for path in secret_paths():
        walk(doc, path.split("."))
    return sorted(set(values), key=len, reverse=True)
