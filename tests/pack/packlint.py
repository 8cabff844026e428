"""Static lint of the StackStorm pack, following StackStorm's schemas (docs/architecture.md §pack).

Importable by tests; every check returns a list of human-readable problems (empty = clean).
"""
from __future__ import annotations

import ast
import collections.abc  # noqa: F401  (yaql 3.2.0 needs collections.abc imported)
import os
import re
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]

ACTION_KEYS = {"name", "runner_type", "description", "enabled", "entry_point", "pack", "parameters",
               "output_schema", "notify", "tags", "metadata_file", "ref", "uid", "id"}
PARAM_KEYS = {"type", "description", "default", "required", "secret", "immutable", "position", "enum", "pattern",
              "minimum", "maximum", "minLength", "maxLength", "items", "additionalItems", "properties",
              "patternProperties", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "dependencies",
              "uniqueItems", "minItems", "maxItems", "minProperties", "maxProperties", "title", "format",
              "exclusiveMinimum", "exclusiveMaximum"}
SIMPLE_TYPES = {"array", "boolean", "integer", "null", "number", "object", "string"}
RUNNERS = {"python-script": {"timeout", "env", "log_level", "debug", "content_version"},
           "orquesta": {"notify"}, "inquirer": {"schema", "route", "roles", "users", "ttl"},
           "local-shell-cmd": {"cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"},
           "http-request": {"url", "method", "body", "headers", "cookies", "timeout", "verify_ssl_cert"},
           "noop": set()}
CORE_ACTIONS = {"core.noop": set(), "core.echo": {"message"}, "core.ask": RUNNERS["inquirer"],
                "core.local": RUNNERS["local-shell-cmd"], "core.http": {"url", "method", "body", "headers", "timeout"},
                "core.inject_trigger": {"trigger", "trigger_name", "payload", "trace_tag"},
                "core.sendmail": {"to", "from", "subject", "body", "content_type", "attachments"}}
SENSOR_KEYS = {"class_name", "entry_point", "description", "enabled", "poll_interval", "trigger_types", "pack", "name"}
TRIGGER_KEYS = {"name", "description", "payload_schema", "parameters_schema", "tags", "pack", "metadata_file"}
RULE_KEYS = {"name", "pack", "description", "enabled", "trigger", "criteria", "action", "type", "context", "tags",
             "metadata_file", "ref", "uid", "id"}
CRITERIA_OPS = {"equals", "eq", "nequals", "neq", "iequals", "ieq", "contains", "ncontains", "icontains",
                "incontains", "startswith", "istartswith", "endswith", "iendswith", "matchwildcard", "matchregex",
                "regex", "iregex", "lessthan", "lt", "greaterthan", "gt", "timediff_lt", "td_lt", "timediff_gt",
                "td_gt", "exists", "nexists", "inside", "in", "ninside", "nin", "search"}
POLICY_KEYS = {"name", "pack", "description", "enabled", "resource_ref", "policy_type", "parameters", "metadata_file"}
POLICY_TYPES = {"action.concurrency": {"threshold", "action"}, "action.concurrency.attr": {"threshold", "action", "attributes"},
                "action.retry": {"retry_on", "max_retry_count", "delay"}}
ALIAS_KEYS = {"name", "pack", "description", "enabled", "action_ref", "formats", "ack", "result", "extra",
              "immutable_parameters", "metadata_file", "ref", "uid", "id"}
WF_KEYS = {"version", "description", "name", "tags", "input", "vars", "output", "tasks"}
TASK_KEYS = {"action", "input", "next", "with", "retry", "delay", "join"}
ENGINE_COMMANDS = {"continue", "fail", "noop", "retry"}
CORE_TRIGGERS = {"core.st2.webhook", "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer",
                 "core.st2.generic.actiontrigger", "core.st2.generic.notifytrigger", "core.st2.generic.inquiry",
                 "core.st2.sensor.process_spawn", "core.st2.sensor.process_exit", "core.st2.key_value_pair.create",
                 "core.st2.key_value_pair.update", "core.st2.key_value_pair.value_change", "core.st2.key_value_pair.delete"}
ORQUESTA_FUNCS = {"ctx", "json", "zip", "item", "task_status", "succeeded", "failed", "completed", "result", "task",
                  "st2kv", "json_dump", "to_json_string", "json_parse", "from_json_string", "yaml_dump", "yaml_parse",
                  "jsonpath_query", "json_escape", "use_none", "regex_match", "regex_replace", "regex_search",
                  "regex_substring", "basename", "dirname", "to_human_time_from_seconds"}


def load(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def pack_ref() -> str:
    return load(ROOT / "pack.yaml")["ref"]


def actions() -> dict[str, tuple[Path, dict]]:
    out = {}
    for p in sorted((ROOT / "actions").glob("*.yaml")):
        doc = load(p)
        out[f"{pack_ref()}.{doc.get('name')}"] = (p, doc)
    return out


def action_params(ref: str, acts: dict[str, tuple[Path, dict]]) -> set[str] | None:
    if ref in CORE_ACTIONS:
        return set(CORE_ACTIONS[ref])
    if ref not in acts:
        return None
    doc = acts[ref][1]
    return set((doc.get("parameters") or {}).keys()) | RUNNERS.get(doc.get("runner_type"), set())


def check_param_schema(where: str, name: str, schema: Any, problems: list[str], top: bool = True) -> None:
    if not isinstance(schema, dict):
        problems.append(f"{where}: parameter {name} must be a mapping")
        return
    bad = set(schema) - PARAM_KEYS
    if bad:
        problems.append(f"{where}: parameter {name} has unknown keys {sorted(bad)}")
    t = schema.get("type")
    if t is not None and (not isinstance(t, str) or t not in SIMPLE_TYPES):
        problems.append(f"{where}: parameter {name} type must be one simple type, got {t!r}")
    if "required" in schema and not isinstance(schema["required"], bool):
        problems.append(f"{where}: parameter {name} 'required' must be a boolean (draft-3 style)")
    if schema.get("immutable") and "default" not in schema:
        problems.append(f"{where}: immutable parameter {name} needs a default")
    for sub_name, sub in (schema.get("properties") or {}).items():
        check_param_schema(where, f"{name}.{sub_name}", sub, problems, top=False)
    if isinstance(schema.get("items"), dict):
        check_param_schema(where, f"{name}[]", schema["items"], problems, top=False)


def lint_pack_yaml() -> list[str]:
    p: list[str] = []
    doc = load(ROOT / "pack.yaml")
    for k in ("name", "description", "version", "author"):
        if k not in doc:
            p.append(f"pack.yaml: missing {k}")
    if not re.match(r"^[a-z0-9_]+$", str(doc.get("ref", ""))):
        p.append("pack.yaml: ref must match ^[a-z0-9_]+$")
    if not isinstance(doc.get("version"), str) or not re.match(r"^\d+\.\d+\.\d+(-[\w.]+)?(\+[\w.]+)?$", doc["version"]):
        p.append("pack.yaml: version must be a semver string like \"0.1.0\"")
    if doc.get("python_versions") != ["3"]:
        p.append("pack.yaml: python_versions must be [\"3\"]")
    for f in ("LICENSE", "README.md", "CHANGES.md", "config.schema.yaml", "requirements.txt", "icon.png"):
        if not (ROOT / f).exists():
            p.append(f"missing {f}")
    if "Apache License" not in (ROOT / "LICENSE").read_text():
        p.append("LICENSE must be Apache-2.0")
    if re.search(r"^st2client", (ROOT / "requirements.txt").read_text(), re.M):
        p.append("requirements.txt must not list st2client (StackStorm provides it)")
    return p


def lint_config_schema() -> list[str]:
    p: list[str] = []
    schema = load(ROOT / "config.schema.yaml")
    for name, attr in schema.items():
        if not re.match(r"^\w+$", name):
            p.append(f"config.schema.yaml: bad key {name}")
        check_param_schema("config.schema.yaml", name, attr, p)
    return p


def lint_actions() -> list[str]:
    p: list[str] = []
    acts = actions()
    for ref, (path, doc) in acts.items():
        where = f"actions/{path.name}"
        bad = set(doc) - ACTION_KEYS
        if bad:
            p.append(f"{where}: unknown keys {sorted(bad)}")
        if doc.get("name") != path.stem:
            p.append(f"{where}: name {doc.get('name')!r} must equal the file stem")
        runner = doc.get("runner_type")
        if runner not in RUNNERS:
            p.append(f"{where}: unknown runner_type {runner!r}")
        ep = doc.get("entry_point", "")
        if ".." in ep.split("/") or os.path.normpath("/" + ep).lstrip("/") != ep:
            p.append(f"{where}: entry_point {ep!r} must be relative to actions/ without '..'")
        elif runner in ("python-script", "orquesta") and not (ROOT / "actions" / ep).is_file():
            p.append(f"{where}: entry_point {ep!r} does not exist")
        for pname, pschema in (doc.get("parameters") or {}).items():
            if not re.match(r"^\w+$", pname):
                p.append(f"{where}: bad parameter name {pname}")
            if pname in RUNNERS.get(runner, set()):
                extra = set(pschema) - {"default", "description", "enum", "immutable", "required", "type"}
                if extra:
                    p.append(f"{where}: runner parameter {pname} may only override default/description/enum/immutable/required")
                continue
            check_param_schema(where, pname, pschema, p)
            if "type" not in pschema:
                p.append(f"{where}: parameter {pname} needs a type")
        os_ = doc.get("output_schema")
        if os_ is not None and os_.get("type") != "object":
            p.append(f"{where}: output_schema must be a full schema with type: object")
        if runner == "python-script" and (ROOT / "actions" / ep).is_file():
            p.extend(lint_python_action(ROOT / "actions" / ep, doc))
    return p


def lint_python_action(path: Path, doc: dict) -> list[str]:
    p: list[str] = []
    tree = ast.parse(path.read_text())
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    runnable = [c for c in classes if any(isinstance(f, ast.FunctionDef) and f.name == "run" for f in c.body)]
    if len(runnable) != 1:
        p.append(f"actions/{path.name}: exactly one class defining run() expected, found {len(runnable)}")
        return p
    run = next(f for f in runnable[0].body if isinstance(f, ast.FunctionDef) and f.name == "run")
    args = [a.arg for a in run.args.args[1:]] + [a.arg for a in run.args.kwonlyargs]
    params = set((doc.get("parameters") or {}).keys()) - RUNNERS["python-script"]
    if run.args.kwarg is None:
        missing = params - set(args)
        if missing:
            p.append(f"actions/{path.name}: run() does not accept parameters {sorted(missing)}")
    required_args = args[: len(args) - len(run.args.defaults)]
    for a in required_args:
        if a not in params:
            p.append(f"actions/{path.name}: run() requires {a!r}, which the metadata does not declare")
    if "print(" in path.read_text():
        p.append(f"actions/{path.name}: actions must not print (stdout is parsed by the runner)")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if len(lines) > 30:
        p.append(f"actions/{path.name}: {len(lines)} lines; keep actions thin (<= 30), put logic in lib/aisre")
    return p


def expressions(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from expressions(k)
            yield from expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v)


_ENGINE: list[Any] = []


def _yaql_engine() -> Any:
    import yaql
    if not _ENGINE:
        _ENGINE.append(yaql.factory.YaqlFactory().create())
    return _ENGINE[0]


def check_expression(text: str) -> list[str]:
    import jinja2

    p: list[str] = []
    has_yaql = "<%" in text
    has_jinja = "{{" in text or "{%" in text
    if has_yaql and has_jinja:
        return [f"mixes YAQL and Jinja in one string: {text!r}"]
    if has_yaql:
        engine = _yaql_engine()
        for expr in re.findall(r"<%(.*?)%>", text, re.S):
            try:
                engine(expr.strip())
            except Exception as exc:
                p.append(f"YAQL parse error in {expr.strip()!r}: {exc}")
            for fn in re.findall(r"(?<![\w.$])([a-z_][a-z0-9_]*)\(", expr):
                if fn not in ORQUESTA_FUNCS and fn not in {"list", "str", "len", "int", "float", "bool", "dict",
                                                           "not", "and", "or", "join", "min", "max", "sum", "concat",
                                                           "format", "now", "contains", "keys", "values", "select",
                                                           "where", "first", "last", "distinct", "isEmpty", "string",
                                                           "bool", "coalesce", "len"}:
                    p.append(f"unknown function {fn}() in {expr.strip()!r}")
    if has_jinja:
        try:
            jinja2.Environment().parse(text)
        except jinja2.TemplateSyntaxError as exc:
            p.append(f"Jinja parse error in {text!r}: {exc}")
    return p


def ctx_names(text: str) -> set[str]:
    return set(re.findall(r"ctx\(\s*['\"]?(\w+)['\"]?\s*\)", text)) | set(re.findall(r"ctx\(\)\.(\w+)", text))


def lint_workflow(meta_path: Path, meta: dict, acts: dict[str, tuple[Path, dict]]) -> list[str]:
    p: list[str] = []
    wf_path = ROOT / "actions" / meta["entry_point"]
    where = f"actions/{meta['entry_point']}"
    wf = load(wf_path)
    bad = set(wf) - WF_KEYS
    if bad:
        p.append(f"{where}: unknown top-level keys {sorted(bad)}")
    if wf.get("version") not in (1.0, "1.0"):
        p.append(f"{where}: version must be 1.0")
    tasks = wf.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        return p + [f"{where}: tasks must be a non-empty mapping"]
    inputs = [i if isinstance(i, str) else next(iter(i)) for i in wf.get("input", [])]
    params = set((meta.get("parameters") or {}).keys())
    if set(inputs) != params:
        p.append(f"{where}: workflow input {sorted(inputs)} must match the action parameters {sorted(params)}")
    defined = set(inputs) | {next(iter(v)) for v in wf.get("vars", []) if isinstance(v, dict)} | {"st2", "parent"}
    for section in ("vars", "output"):
        for item in wf.get(section, []) or []:
            if not (isinstance(item, dict) and len(item) == 1):
                p.append(f"{where}: {section} entries must be one-key mappings")
    inbound: dict[str, int] = {t: 0 for t in tasks}
    for name, task in tasks.items():
        tw = f"{where}: task {name}"
        if not re.match(r"^\w+$", name) or name in ENGINE_COMMANDS:
            p.append(f"{tw}: invalid or reserved task name")
        if not isinstance(task, dict):
            p.append(f"{tw}: must be a mapping")
            continue
        bad = set(task) - TASK_KEYS
        if bad:
            p.append(f"{tw}: unknown keys {sorted(bad)}")
        action = task.get("action")
        if action:
            ref = action.split()[0]
            allowed = action_params(ref, acts)
            if allowed is None:
                p.append(f"{tw}: action {ref} does not exist")
            else:
                given = set((task.get("input") or {}).keys())
                unknown = given - allowed
                if unknown:
                    p.append(f"{tw}: inputs {sorted(unknown)} are not parameters of {ref}")
                if ref in acts:
                    req = {k for k, v in (acts[ref][1].get("parameters") or {}).items()
                           if isinstance(v, dict) and v.get("required") and "default" not in v}
                    missing = req - given
                    if missing:
                        p.append(f"{tw}: required inputs {sorted(missing)} of {ref} are not given")
        if "input" in task and (not isinstance(task["input"], dict) or not task["input"]):
            p.append(f"{tw}: input must be a non-empty mapping")
        for tr in task.get("next", []) or []:
            if not isinstance(tr, dict) or set(tr) - {"when", "publish", "do"}:
                p.append(f"{tw}: transitions take only when/publish/do")
                continue
            dos = tr.get("do", "continue")
            dos = [d.strip() for d in dos.split(",")] if isinstance(dos, str) else list(dos)
            for d in dos:
                if d in tasks:
                    inbound[d] += 1
                elif d not in ENGINE_COMMANDS:
                    p.append(f"{tw}: transition to undefined task {d!r}")
            pub = tr.get("publish")
            if isinstance(pub, list):
                for item in pub:
                    if not (isinstance(item, dict) and len(item) == 1):
                        p.append(f"{tw}: publish entries must be one-key mappings")
                    else:
                        defined.add(next(iter(item)))
        if not task.get("next") and action:
            p.append(f"{tw}: no transitions; every branch must end explicitly")
        if action and task.get("next") and action.split()[0] != "core.noop":
            conds = [tr.get("when", "") for tr in task["next"] if isinstance(tr, dict)]
            if not any("failed()" in c for c in conds):
                p.append(f"{tw}: has no failed() branch")
    starts = [t for t, n in inbound.items() if n == 0]
    if len(starts) != 1:
        p.append(f"{where}: expected exactly one start task, found {starts}")
    for text in expressions(wf):
        for prob in check_expression(text):
            p.append(f"{where}: {prob}")
        for n in ctx_names(text):
            if n not in defined:
                p.append(f"{where}: ctx({n}) is not an input, var or published variable")
    return p


def lint_workflows() -> list[str]:
    acts = actions()
    p: list[str] = []
    for ref, (path, doc) in acts.items():
        if doc.get("runner_type") == "orquesta":
            p.extend(lint_workflow(path, doc, acts))
    wf_files = {f"workflows/{q.name}" for q in (ROOT / "actions" / "workflows").glob("*.yaml")}
    used = {doc.get("entry_point") for _, doc in acts.values()}
    for orphan in sorted(wf_files - used):
        p.append(f"actions/{orphan}: no action metadata points at this workflow")
    return p


def trigger_types() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in sorted((ROOT / "sensors").glob("*.yaml")):
        for t in load(path).get("trigger_types", []):
            out.setdefault(f"{pack_ref()}.{t['name']}", t)
    for path in sorted((ROOT / "triggers").glob("*.yaml")) if (ROOT / "triggers").exists() else []:
        t = load(path)
        out.setdefault(f"{pack_ref()}.{t['name']}", t)
    return out


def lint_sensors() -> list[str]:
    p: list[str] = []
    schemas: dict[str, Any] = {}
    for path in sorted((ROOT / "sensors").glob("*.yaml")):
        doc = load(path)
        where = f"sensors/{path.name}"
        bad = set(doc) - SENSOR_KEYS
        if bad:
            p.append(f"{where}: unknown keys {sorted(bad)}")
        if not doc.get("class_name") or not doc.get("entry_point"):
            p.append(f"{where}: class_name and entry_point are required")
        src = ROOT / "sensors" / doc.get("entry_point", "")
        if not src.is_file():
            p.append(f"{where}: entry_point missing")
        else:
            tree = ast.parse(src.read_text())
            names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
            if doc.get("class_name") not in names:
                p.append(f"{where}: class {doc.get('class_name')} not in {src.name}")
            text = src.read_text()
            if "def poll" in text and "PollingSensor" not in text:
                p.append(f"{where}: poll() without PollingSensor")
            if "Sensor" not in text:
                p.append(f"{where}: {src.name} does not define a sensor class")
        if doc.get("poll_interval", 60) < 4:
            p.append(f"{where}: poll_interval must be >= 4")
        for t in doc.get("trigger_types", []):
            bad = set(t) - TRIGGER_KEYS
            if bad:
                p.append(f"{where}: trigger {t.get('name')} unknown keys {sorted(bad)}")
            try:
                jsonschema.Draft4Validator.check_schema(t.get("payload_schema", {}))
            except jsonschema.SchemaError as exc:
                p.append(f"{where}: trigger {t.get('name')} payload_schema invalid: {exc.message}")
            prev = schemas.setdefault(t["name"], t.get("payload_schema"))
            if prev != t.get("payload_schema"):
                p.append(f"{where}: trigger {t['name']} declared with a different payload_schema elsewhere")
    return p


def lint_rules() -> list[str]:
    p: list[str] = []
    acts = actions()
    triggers = trigger_types()
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        doc = load(path)
        where = f"rules/{path.name}"
        bad = set(doc) - RULE_KEYS
        if bad:
            p.append(f"{where}: unknown keys {sorted(bad)}")
        if doc.get("enabled") is not True:
            p.append(f"{where}: enabled must be true (rules are disabled by default)")
        ttype = (doc.get("trigger") or {}).get("type")
        if ttype not in triggers and ttype not in CORE_TRIGGERS:
            p.append(f"{where}: trigger type {ttype} is not declared")
        for key, crit in (doc.get("criteria") or {}).items():
            if not isinstance(crit, dict) or "pattern" not in crit or "type" not in crit:
                p.append(f"{where}: criterion {key} needs type and pattern")
            elif crit["type"] not in CRITERIA_OPS:
                p.append(f"{where}: criterion {key} has unknown operator {crit['type']}")
        action = doc.get("action") or {}
        if set(action) - {"ref", "parameters", "description"}:
            p.append(f"{where}: action takes only ref/parameters/description")
        allowed = action_params(action.get("ref", ""), acts)
        if allowed is None:
            p.append(f"{where}: action {action.get('ref')} does not exist")
        else:
            unknown = set((action.get("parameters") or {}).keys()) - allowed
            if unknown:
                p.append(f"{where}: parameters {sorted(unknown)} are not parameters of {action['ref']}")
        if ttype == "core.st2.webhook" and not ((doc.get("trigger") or {}).get("parameters") or {}).get("url"):
            p.append(f"{where}: a webhook rule needs trigger.parameters.url")
    return p


def lint_policies() -> list[str]:
    p: list[str] = []
    acts = actions()
    for path in sorted((ROOT / "policies").glob("*.yaml")):
        doc = load(path)
        where = f"policies/{path.name}"
        bad = set(doc) - POLICY_KEYS
        if bad:
            p.append(f"{where}: unknown keys {sorted(bad)}")
        ptype = doc.get("policy_type")
        if ptype not in POLICY_TYPES:
            p.append(f"{where}: policy_type {ptype} does not exist (only {sorted(POLICY_TYPES)})")
            continue
        ref = doc.get("resource_ref")
        if ref not in acts:
            p.append(f"{where}: resource_ref {ref} is not an action of this pack")
            continue
        params = doc.get("parameters") or {}
        if set(params) - POLICY_TYPES[ptype]:
            p.append(f"{where}: unknown parameters {sorted(set(params) - POLICY_TYPES[ptype])}")
        for attr in params.get("attributes", []):
            if attr not in (acts[ref][1].get("parameters") or {}):
                p.append(f"{where}: attribute {attr} is not a parameter of {ref}")
        if ptype == "action.retry" and acts[ref][1].get("runner_type") == "orquesta":
            p.append(f"{where}: action.retry does not apply inside workflows")
    return p


def alias_docs() -> list[tuple[Path, dict]]:
    d = ROOT / "aliases"
    return [(q, load(q)) for q in sorted(d.glob("*.yaml"))] if d.exists() else []


def lint_aliases() -> list[str]:
    p: list[str] = []
    acts = actions()
    for path, doc in alias_docs():
        where = f"aliases/{path.name}"
        bad = set(doc) - ALIAS_KEYS
        if bad:
            p.append(f"{where}: unknown keys {sorted(bad)}")
        if doc.get("action_ref") not in acts and doc.get("action_ref") not in CORE_ACTIONS:
            p.append(f"{where}: action_ref {doc.get('action_ref')} does not exist")
        for f in doc.get("formats", []):
            if isinstance(f, dict) and not f.get("representation"):
                p.append(f"{where}: format {f.get('display')} needs a representation list")
    return p


ALL = [lint_pack_yaml, lint_config_schema, lint_actions, lint_workflows, lint_sensors, lint_rules, lint_policies,
       lint_aliases]
