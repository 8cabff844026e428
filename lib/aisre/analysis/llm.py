"""The LLM analyst: litellm behind a small client, output validated, repaired once, else offline.

Flow of :meth:`LLMAnalyst.diagnose` (at most ``max_steps`` model calls, never more than two):

1. build the redacted, capped :class:`~aisre.analysis.context.IncidentContext`;
2. render ``prompts/triage.j2`` (safety rules, context, the JSON schema) and call the model;
3. parse the JSON object and validate it against :data:`DIAGNOSIS_SCHEMA`; on failure send the
   validation error back once (``prompts/repair.j2``);
4. enforce the allow-lists: ``runbook_id`` must be a retrieved runbook present in the catalogue
   (else None and the incident is escalated as unknown), ``proposed_action`` must be one of
   that runbook's actions (else None); action params always come from the runbook, never the model;
5. never go below the offline analyst's ``unknown_critical`` (an escalation floor: the result
   stays unknown_critical and no action is proposed; the model's runbook stays as a hint);
6. a timeout, a provider error or output still invalid after the repair -> the offline
   analyst's diagnosis with ``analyst="llm-fallback:<reason>"``.

Nothing the model says can widen what is allowed: the guardrails downstream re-check again.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any, Callable, Mapping

from aisre.analysis.context import IncidentContext, build_context
from aisre.analysis.offline import OfflineAnalyst
from aisre.analysis.redact import Redactor
from aisre.analysis.templates import render
from aisre.errors import AuthError, IntegrationError, RateLimited, SourceDown, Timeout, ValidationError
from aisre.models import Classification, Diagnosis, Incident, Retrieval, Runbook, Severity

DIAGNOSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["classification", "severity", "summary", "runbook_id", "proposed_action"],
    "properties": {
        "classification": {"enum": [c.value for c in Classification]},
        "severity": {"enum": [s.value for s in Severity]},
        "summary": {"type": "string", "minLength": 1, "maxLength": 600},
        "suspected_cause": {"type": "string", "maxLength": 800},
        "evidence": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 500}},
        "runbook_id": {"type": ["string", "null"], "maxLength": 200},
        "proposed_action": {"type": ["string", "null"], "maxLength": 200},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "next_steps": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 400}},
        "impact": {"type": "string", "maxLength": 400},
    },
}

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class CompletionClient:
    """One chat completion through litellm; provider trouble becomes an :class:`IntegrationError`.

    ``litellm`` is imported lazily (4-5 s, 200 MB) with the offline cost map forced on.
    Retries are off: one attempt per call, the analyst decides what happens next.
    """

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 timeout_s: float = 30, temperature: float = 0.0, json_mode: bool = True) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.json_mode = json_mode

    def complete(self, messages: list[dict[str, str]]) -> str:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm  # noqa: PLC0415 - heavy, optional until an LLM is configured

        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "timeout": self.timeout_s,
                                  "temperature": self.temperature, "max_retries": 0, "num_retries": 0,
                                  "drop_params": True}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        kwargs["api_key"] = self.api_key or ("none" if self.api_base else None)
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            resp = litellm.completion(**kwargs)
        except Exception as exc:  # vendor exception zoo, mapped once here
            raise _map_error(exc, self.model) from None
        try:
            content = resp.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            raise SourceDown("LLM answer has no message content", integration="llm", operation="completion",
                             target=self.model) from None
        return content or ""


def _map_error(exc: Exception, model: str) -> IntegrationError:
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    msg = f"LLM call failed: {name}: {str(exc)[:300]}"
    kw = {"integration": "llm", "operation": "completion", "target": model}
    if "Timeout" in name or "timed out" in str(exc).lower():
        return Timeout(msg, **kw)
    if name in ("AuthenticationError", "PermissionDeniedError") or status in (401, 403):
        return AuthError(msg, status=status, **kw)
    if name == "RateLimitError" or status == 429:
        return RateLimited(msg, status=status, **kw)
    if isinstance(status, int) and status < 500:
        return IntegrationError(msg, status=status, **kw)
    return SourceDown(msg, status=status if isinstance(status, int) else None, **kw)


def _loads(text: str) -> Any:
    """``json.loads`` where absurd nesting (a hostile or broken answer) is a ValueError too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model answer (tolerates code fences and prose around one object)."""
    body = _FENCE.sub("", (text or "").strip())
    try:
        value = _loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise ValidationError("the answer contains no JSON object", what="llm-output") from None
        try:
            value = _loads(body[start:end + 1])
        except ValueError as exc:
            raise ValidationError(f"the answer is not valid JSON: {exc}", what="llm-output") from None
    if not isinstance(value, dict):
        raise ValidationError("the answer must be a JSON object", what="llm-output")
    return value


def validate_output(data: Mapping[str, Any]) -> None:
    """Schema check; raises :class:`ValidationError` naming the first problem and its path."""
    import jsonschema

    errors = sorted(jsonschema.Draft7Validator(DIAGNOSIS_SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "(top level)"
        raise ValidationError(f"{where}: {e.message}", what="llm-output", path=where)


class LLMAnalyst:
    """Diagnose through an LLM (any litellm model, incl. a local OpenAI-compatible server)."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 timeout_s: float = 30, max_steps: int = 3, fallback: OfflineAnalyst | None = None,
                 redactor: Redactor | None = None, max_context_chars: int = 24000, temperature: float = 0.0,
                 client: Any | None = None, json_mode: bool = True) -> None:
        self.model = model
        self.name = f"llm:{model}"
        self.max_steps = max(1, int(max_steps))
        self.fallback = fallback or OfflineAnalyst()
        self.redactor = redactor or Redactor(secrets=[api_key] if api_key else ())
        self.max_context_chars = max_context_chars
        self.client = client or CompletionClient(model, api_base=api_base, api_key=api_key, timeout_s=timeout_s,
                                                 temperature=temperature, json_mode=json_mode)
        self.last_messages: list[dict[str, str]] = []   # for audit/debug: what the model saw (redacted)

    def diagnose(self, incident: Incident, retrieval: Retrieval, runbooks: Mapping[str, Runbook], *,
                 context: IncidentContext | None = None) -> Diagnosis:
        """Never raises for model or provider trouble; see the module docstring for the rules."""
        ctx = context or build_context(incident, retrieval=retrieval, runbooks=runbooks,
                                       max_chars=self.max_context_chars, redactor=self.redactor)
        offline = self.fallback.diagnose(incident, retrieval, runbooks, context=ctx)
        messages = [
            {"role": "system", "content": render("_safety.j2")},
            {"role": "user", "content": render("triage.j2", ctx=ctx, schema=DIAGNOSIS_SCHEMA)},
        ]
        self.last_messages = messages
        steps = min(self.max_steps, 2)
        error: ValidationError | None = None
        for step in range(steps):
            try:
                answer = self.client.complete(messages)
            except Timeout:
                return self._fallback(offline, "timeout")
            except RateLimited:
                return self._fallback(offline, "rate_limited")
            except AuthError:
                return self._fallback(offline, "auth")
            except IntegrationError:
                return self._fallback(offline, "provider_error")
            try:
                data = parse_json_object(answer)
                validate_output(data)
            except ValidationError as exc:
                error = exc
                if step + 1 < steps:
                    messages = [*messages, {"role": "assistant", "content": self.redactor.redact(answer)[:4000]},
                                {"role": "user", "content": render("repair.j2", error=exc.message)}]
                    self.last_messages = messages
                continue
            return self._enforce(data, ctx, runbooks, offline, repaired=step > 0, incident=incident)
        return self._fallback(offline, "invalid_output", detail=error.message if error else "")

    # ------------------------------------------------------------------ rules on the model's answer

    def _enforce(self, data: Mapping[str, Any], ctx: IncidentContext, runbooks: Mapping[str, Runbook],
                 offline: Diagnosis, repaired: bool, incident: Incident) -> Diagnosis:
        red = self.redactor.redact
        notes: list[str] = []
        cls = Classification(data["classification"])
        sev = Severity(data["severity"])
        rid = data.get("runbook_id") or None
        action = data.get("proposed_action") or None
        allowed = set(ctx.allowed_runbooks) & set(runbooks)
        if rid is not None and rid not in allowed:
            notes.append(f"model named runbook {red(str(rid))[:80]!r}, which was not retrieved: ignored, escalating")
            rid, action = None, None
            if cls in (Classification.KNOWN, Classification.TRANSIENT):
                cls = Classification.UNKNOWN_CRITICAL
        if cls == Classification.KNOWN and rid is None:
            cls = Classification.UNKNOWN_CRITICAL if sev.rank >= Severity.ERROR.rank else Classification.UNKNOWN_MINOR
            notes.append("model said known without a retrieved runbook: treated as unknown")
        params: dict[str, Any] = {}
        if rid is not None and action is not None:
            rb = runbooks[rid]
            act = rb.action(str(action))
            if act is None:
                notes.append(f"model proposed {red(str(action))[:80]!r}, not an action of runbook {rid}: ignored")
                action = None
            elif not rb.auto_remediate:
                notes.append(f"runbook {rid} is auto_remediate=false: no action proposed")
                action = None
            else:
                blocked = self._evidence_blocks(rb, act, incident, ctx)
                if blocked:
                    notes.append(f"model proposed {act.action} but {blocked}: no action proposed")
                    action = None
                else:
                    params = dict(act.params)
        if cls != Classification.KNOWN:
            action, params = None, {}
        if offline.classification == Classification.UNKNOWN_CRITICAL and cls != Classification.UNKNOWN_CRITICAL:
            notes.append(f"offline rules say unknown_critical ({offline.summary}); escalation kept"
                         + (f", model's {action} kept only as a suggestion for the human" if action else ""))
            cls, action, params = Classification.UNKNOWN_CRITICAL, None, {}
        if cls == Classification.UNKNOWN_CRITICAL and sev.rank < Severity.CRITICAL.rank:
            sev = Severity.CRITICAL
        if repaired:
            notes.append("answer repaired once after a schema error")
        evidence = tuple(red(str(e))[:500] for e in data.get("evidence", ()))[:20]
        return Diagnosis(
            classification=cls, severity=sev, summary=red(str(data["summary"]))[:600],
            suspected_cause=red(str(data.get("suspected_cause", "")))[:800],
            evidence=(*evidence, *notes, *(l for l in offline.evidence if l.startswith("bad-deploy evidence"))),
            runbook_id=rid, proposed_action=str(action) if action else None, action_params=params,
            confidence=float(data.get("confidence", 0.5)),
            next_steps=tuple(red(str(s))[:400] for s in data.get("next_steps", ()))[:10] or offline.next_steps,
            analyst=self.name, impact=red(str(data.get("impact", "")))[:400] or offline.impact)

    def _evidence_blocks(self, rb: Runbook, act: Any, incident: Incident, ctx: IncidentContext) -> str:
        """Why the evidence forbids proposing ``act`` (same rules as the offline analyst), or ''."""
        from aisre.analysis import evidence as ev

        level, _ = ev.symptom_support(rb, incident, ctx.changes, self.fallback.deploy_window_s)
        if level == "none":
            return f"runbook {rb.id} shares no alert, signature, change or metric with the signals"
        for cond in act.preconditions:
            verdict = ev.evaluate_precondition(cond, incident, ctx.changes, self.fallback.deploy_window_s)
            if verdict is False:
                return f"precondition {cond!r} does not hold on the evidence"
            if verdict is None and level != "strong":
                return f"precondition {cond!r} is not in the evidence and the runbook fits on metrics only"
        return ""

    @staticmethod
    def _fallback(offline: Diagnosis, reason: str, detail: str = "") -> Diagnosis:
        note = f"LLM unavailable ({reason}{': ' + detail[:200] if detail else ''}); offline analyst used"
        return dataclasses.replace(offline, analyst=f"llm-fallback:{reason}", evidence=(*offline.evidence, note))


def build_analyst(config: Any, *, client_factory: Callable[..., Any] | None = None) -> OfflineAnalyst | LLMAnalyst:
    """The analyst the config asks for: :class:`LLMAnalyst` when ``llm.model`` is set, else offline.

    ``config`` is an :class:`aisre.config.Config`. Secrets from the whole config feed the redactor.
    """
    from aisre.config import secret_values

    min_conf = float((getattr(config, "knowledge", {}) or {}).get("min_confidence", 0.5))
    offline = OfflineAnalyst(min_confidence=min_conf)
    llm = dict(getattr(config, "llm", {}) or {})
    if not llm.get("model"):
        return offline
    client = client_factory(llm) if client_factory else None
    return LLMAnalyst(llm["model"], api_base=llm.get("api_base"), api_key=llm.get("api_key"),
                      timeout_s=float(llm.get("timeout_s", 30)), max_steps=int(llm.get("max_steps", 3)),
                      fallback=offline, redactor=Redactor(secrets=secret_values(config)),
                      max_context_chars=int(llm.get("max_context_chars", 24000)),
                      temperature=float(llm.get("temperature", 0.0)), client=client)
