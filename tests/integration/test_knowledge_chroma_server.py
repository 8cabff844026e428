"""ChromaStore against a real Chroma server through HttpClient (knowledge.chroma_url)."""
from __future__ import annotations

from pathlib import Path

import pytest

from aisre.errors import SourceDown
from aisre.knowledge.embeddings import HashingEmbedding
from aisre.knowledge.ingest import ingest
from aisre.knowledge.retriever import Retriever
from aisre.knowledge.store import ChromaStore, open_store
from plugins._servers import free_port

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


def test_http_store_ingest_search_and_reingest(chroma_server):
    store = open_store({"chroma_url": chroma_server, "chroma_token": "not-checked-by-this-server",
                        "embedding": "hashing"})
    first = ingest(KNOWLEDGE, store)
    assert first.ok and len(first.added) >= 28
    again = ChromaStore(url=chroma_server, embedding=HashingEmbedding())
    second = ingest(KNOWLEDGE, again)
    assert not second.added and not second.updated
    r = Retriever(None, store=again)                       # entries rebuilt from the server alone
    assert len(r.entries) == len(first.added)
    res = r.search("FATAL: sorry, too many clients already")
    assert res.best is not None and res.best.runbook_id == "db-connection-exhaustion"
    assert r.search("printer in the office is jammed again").best is None


def test_unreachable_server_is_a_typed_error():
    with pytest.raises(SourceDown) as ei:
        store = ChromaStore(url=f"http://127.0.0.1:{free_port()}", embedding=HashingEmbedding())
        store.runbooks.count()
    assert ei.value.integration == "chroma"
