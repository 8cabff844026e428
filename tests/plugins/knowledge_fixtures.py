"""Fixtures for the knowledge tests: shipped entries and retrievers built once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "knowledge"


@pytest.fixture(scope="session")
def kb_entries():
    from aisre.knowledge.loader import load_runbooks
    return load_runbooks(KNOWLEDGE_DIR / "runbooks") + load_runbooks(KNOWLEDGE_DIR / "incidents")


@pytest.fixture(scope="session")
def kb_minilm():
    from aisre.knowledge.embeddings import LocalMiniLM
    return LocalMiniLM()


@pytest.fixture(scope="session")
def kb_retriever(kb_entries, kb_minilm):
    """The production configuration: shipped runbooks + incidents, MiniLM vectors in memory."""
    from aisre.knowledge.retriever import Retriever
    return Retriever(kb_entries, embedding=kb_minilm)


@pytest.fixture()
def kb_hashing_retriever(kb_entries):
    from aisre.knowledge.retriever import Retriever
    return Retriever(list(kb_entries), embedding="hashing")
