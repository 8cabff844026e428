"""aisre.analysis: redaction, incident context, the offline analyst and the LLM analyst.

litellm is imported only when an :class:`LLMAnalyst` makes its first call.
"""
from aisre.analysis.base import Analyst
from aisre.analysis.context import IncidentContext, UntrustedBlock, build_context
from aisre.analysis.llm import DIAGNOSIS_SCHEMA, CompletionClient, LLMAnalyst, build_analyst
from aisre.analysis.offline import OfflineAnalyst
from aisre.analysis.redact import Redactor

__all__ = ["Analyst", "CompletionClient", "DIAGNOSIS_SCHEMA", "IncidentContext", "LLMAnalyst", "OfflineAnalyst",
           "Redactor", "UntrustedBlock", "build_analyst", "build_context"]
