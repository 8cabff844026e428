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
def kb_labelled():
    from aisre.knowledge.loader import load_labelled
    return load_labelled(KNOWLEDGE_DIR)


@pytest.fixture(scope="session")
def kb_minilm():
    from aisre.knowledge.embeddings import LocalMiniLM
    return LocalMiniLM()


@pytest.fixture(scope="session")
def kb_retriever(kb_entries, kb_minilm, kb_labelled):
    """The production configuration: shipped runbooks + incidents + labelled texts, MiniLM vectors in memory."""
    from aisre.knowledge.retriever import Retriever
    return Retriever(kb_entries, embedding=kb_minilm, labelled=kb_labelled)


@pytest.fixture(scope="session")
def kb_shipped_retriever(kb_entries, kb_minilm, kb_labelled):
    """What ``build_retriever`` builds by default: MiniLM, the hashing model as second opinion and the
    labelled-text classifier as third (text without metric evidence is decided by the three)."""
    from aisre.knowledge.retriever import Retriever
    return Retriever(kb_entries, embedding=kb_minilm, labelled=kb_labelled, second_opinion="hashing",
                     classifier=True)


@pytest.fixture()
def kb_hashing_retriever(kb_entries, kb_labelled):
    from aisre.knowledge.retriever import Retriever
    return Retriever(list(kb_entries), embedding="hashing", labelled=kb_labelled)
