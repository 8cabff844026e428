"""aisre.analysis: redaction, incident context, the offline analyst and the LLM analyst."""
from aisre.analysis.base import Analyst
from aisre.analysis.offline import OfflineAnalyst

__all__ = ["Analyst", "OfflineAnalyst"]
