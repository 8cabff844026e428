"""aisre.knowledge - runbook schema and loader, offline embeddings, Chroma store, hybrid retrieval, learning."""
from aisre.knowledge.loader import LoadError, load_runbook, load_runbooks, scan_runbooks

__all__ = ["LoadError", "load_runbook", "load_runbooks", "scan_runbooks"]
