"""aisre.knowledge - runbook schema and loader, offline embeddings, Chroma store, hybrid retrieval, learning.

>>> from aisre.knowledge import Retriever, load_runbooks          # doctest: +SKIP
>>> r = Retriever(load_runbooks("knowledge"))                     # doctest: +SKIP
>>> r.search("java.lang.OutOfMemoryError: Java heap space").best  # doctest: +SKIP
"""
from aisre.knowledge.embeddings import HashingEmbedding, LocalMiniLM, make_embedding
from aisre.knowledge.ingest import IngestReport, ingest, ingest_cli, kb_ingest, kb_search, retrieval_to_dict
from aisre.knowledge.learning import (RunbookHealth, UnmatchedReport, incident_entry, record_incident,
                                      runbook_health, unmatched_report)
from aisre.knowledge.loader import LoadError, load_runbook, load_runbooks, scan_runbooks
from aisre.knowledge.retriever import Calibration, Retriever, build_retriever, incident_query
from aisre.knowledge.store import (ChromaStore, Hit, MemoryKnowledgeStore, StoreDoc, VectorCollection,
                                   open_store)

__all__ = [
    "Calibration", "ChromaStore", "HashingEmbedding", "Hit", "IngestReport", "LoadError", "LocalMiniLM",
    "MemoryKnowledgeStore", "Retriever", "RunbookHealth", "StoreDoc", "UnmatchedReport", "VectorCollection",
    "build_retriever", "incident_entry", "incident_query", "ingest", "ingest_cli", "kb_ingest", "kb_search", "load_runbook", "load_runbooks",
    "make_embedding", "open_store", "record_incident", "retrieval_to_dict", "runbook_health", "scan_runbooks",
    "unmatched_report",
]
