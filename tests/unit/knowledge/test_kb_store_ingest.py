"""Stores, offline embeddings and ingestion: idempotent by content hash, never touches the network."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from aisre.errors import ConfigError
from aisre.knowledge import embeddings as emb
from aisre.knowledge.embeddings import HashingEmbedding, assemble_model_dir
from aisre.knowledge.ingest import ingest, ingest_cli, kb_ingest, kb_search, retrieval_to_dict
from aisre.knowledge.retriever import Retriever, build_retriever
from aisre.knowledge.store import ChromaStore, MemoryKnowledgeStore, StoreDoc, open_store

KNOWLEDGE = Path(__file__).resolve().parents[3] / "knowledge"


def _copy_knowledge(tmp_path: Path) -> Path:
    dst = tmp_path / "kb"
    shutil.copytree(KNOWLEDGE, dst)
    return dst


def test_hashing_embedding_is_normalised_and_lexical():
    ef = HashingEmbedding(dim=256)
    a, b, c = ef(["disk full on host", "host disk is full", "certificate expired"])
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ b) > float(a @ c)
    assert not np.any(ef([""])[0])                  # empty text -> zero vector, no NaN
    with pytest.raises(ConfigError):
        HashingEmbedding(dim=2)


def test_minilm_is_semantic(kb_minilm):
    q, near, far = kb_minilm(["the disk is full", "No space left on device", "TLS certificate expired"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_model_files_are_verified(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="sha256"):
        assemble_model_dir(bad, cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match="not found"):
        assemble_model_dir(tmp_path / "missing.onnx", cache_dir=tmp_path / "cache")
    tok = tmp_path / "tok"
    tok.mkdir()
    with pytest.raises(ConfigError, match="tokenizer file config.json missing"):
        assemble_model_dir(emb.default_model_path(), tokenizer_dir=tok, cache_dir=tmp_path / "cache")


def test_auto_embedding_falls_back_to_hashing_when_model_missing(monkeypatch, kb_entries, tmp_path):
    monkeypatch.setenv("AISRE_MINILM_ONNX", str(tmp_path / "absent.onnx"))
    r = Retriever(kb_entries, embedding="auto")
    assert r.embedding_name == "aisre_hashing"
    with pytest.raises(ConfigError):
        Retriever(kb_entries, embedding="minilm")


def test_memory_store_protocol():
    store = MemoryKnowledgeStore()
    store.runbooks.upsert([StoreDoc("a", "disk full", {"kind": "runbook", "content_hash": "1"}),
                           StoreDoc("b", "certificate expired", {"kind": "runbook", "content_hash": "2"})])
    assert store.runbooks.count() == 2
    assert store.runbooks.query("disk is full", k=1)[0].id == "a"
    assert store.runbooks.query("disk", k=5, where={"content_hash": "2"})[0].id == "b"
    assert store.runbooks.hashes() == {"a": "1", "b": "2"}
    store.runbooks.delete(["a"])
    assert [d.id for d in store.runbooks.get()] == ["b"]
    assert store.incidents.query("anything") == []


def test_ingest_is_idempotent_and_tracks_changes(tmp_path):
    kb = _copy_knowledge(tmp_path)
    store = MemoryKnowledgeStore()
    seen: list[tuple[int, int, str]] = []
    first = ingest(kb, store, progress=lambda done, total, eid: seen.append((done, total, eid)))
    n = len(first.added)
    assert n >= 28 and not first.updated and not first.errors
    assert seen[-1][0] == seen[-1][1] == n
    assert store.runbooks.count() + store.incidents.count() == n
    second = ingest(kb, store)
    assert (len(second.added), len(second.updated), len(second.unchanged)) == (0, 0, n)
    assert store.runbooks.count() + store.incidents.count() == n
    # change one runbook, break another, remove a third
    p = kb / "runbooks" / "disk-full.yaml"
    p.write_text(p.read_text().replace("Disk full - ", "Disk full (edited) - "))
    (kb / "runbooks" / "broken.yaml").write_text("id: broken\ntitle: x\n  bad: [indent\n")
    (kb / "runbooks" / "dns-failure.yaml").unlink()
    third = ingest(kb, store, prune=True)
    assert third.updated == ("disk-full",) and not third.added
    assert third.removed == ("dns-failure",)
    assert len(third.errors) == 1 and "broken.yaml" in third.errors[0].message
    assert "invalid YAML" in third.errors[0].message
    assert store.runbooks.get(["disk-full"])[0].entry().title.startswith("Disk full (edited)")


def _block_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else kwargs}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_chroma_ingest_and_query_make_no_network_call(tmp_path, monkeypatch, kb_minilm):
    _block_network(monkeypatch)
    store = ChromaStore(path=str(tmp_path / "chroma"), embedding=kb_minilm)
    report = ingest(KNOWLEDGE, store)
    assert report.ok and len(report.added) >= 28
    r = Retriever(None, store=store)
    res = r.search("java.lang.OutOfMemoryError: Java heap space")
    assert res.best is not None and res.best.runbook_id == "memory-leak"
    assert r.search("Kafka: Shrinking ISR for partition payments-3").best is None


def test_chroma_persists_and_reingest_is_a_noop(tmp_path):
    path = str(tmp_path / "chroma")
    store = ChromaStore(path=path, embedding=HashingEmbedding())
    first = ingest(KNOWLEDGE / "runbooks", store)
    reopened = ChromaStore(path=path, embedding=HashingEmbedding())
    assert reopened.runbooks.count() == len(first.added) == 25
    again = ingest(KNOWLEDGE / "runbooks", reopened)
    assert not again.added and not again.updated and len(again.unchanged) == 25
    doc = reopened.runbooks.get(["memory-leak"])[0]
    assert doc.entry().action("restart_deployment").max_attempts == 2
    hit = reopened.runbooks.query("disk full no space left", k=1)[0]
    assert hit.id == "disk-full" and -1.0 <= hit.similarity <= 1.0


def test_open_store_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="chroma_url"):
        open_store({"chroma_url": "ftp://nowhere"}, embedding=HashingEmbedding())
    s = open_store({"store_dir": str(tmp_path / "s"), "embedding": "hashing"})
    assert s.runbooks.count() == 0


def test_build_retriever_and_kb_commands(tmp_path):
    cfg = {"knowledge": {"runbooks_dir": str(KNOWLEDGE / "runbooks"), "embedding": "hashing",
                         "min_confidence": 0.5}}
    r = build_retriever(cfg)
    assert r.embedding_name == "aisre_hashing" and len(r.entries) == 25
    res = kb_search("FATAL: sorry, too many clients already", retriever=r)
    out = retrieval_to_dict(res)
    assert out["best"] == "db-connection-exhaustion" and out["matches"][0]["reasons"]
    store_cfg = {"knowledge": {"store_dir": str(tmp_path / "st"), "embedding": "hashing"}}
    rep = kb_ingest(KNOWLEDGE / "runbooks", store_cfg)
    assert len(rep.added) == 25
    assert kb_ingest(KNOWLEDGE / "runbooks", store_cfg).summary().startswith("added 0, updated 0, unchanged 25")


def test_ingest_cli_reports_progress_and_errors(tmp_path):
    import io

    kb = _copy_knowledge(tmp_path)
    (kb / "runbooks" / "bad.yaml").write_text("id: bad\ntitle: Bad one\nsymptoms: {}\nactions: [{action: nuke, safety: safe}]\n")
    out = io.StringIO()
    cfg = {"knowledge": {"embedding": "hashing"}}
    rep = ingest_cli(cfg, kb, store_dir=str(tmp_path / "store"), out=out)
    assert len(rep["added"]) >= 28 and rep["summary"].startswith(f"added {len(rep['added'])}")
    assert len(rep["errors"]) == 1 and "bad.yaml" in rep["errors"][0]["path"]
    assert "$.actions[0].action" in rep["errors"][0]["message"]
    assert out.getvalue().count("\n") == len(rep["added"]) and "memory-leak" in out.getvalue()
    again = ingest_cli(cfg, kb, store_dir=str(tmp_path / "store"))
    assert not again["added"] and len(again["unchanged"]) == len(rep["added"])


def test_chroma_light_vector_query_needs_no_count(tmp_path):
    """The retriever's hot path: ids and similarities only; k beyond the collection size or an empty one is fine."""
    ef = HashingEmbedding()
    store = ChromaStore(path=str(tmp_path / "chroma"), embedding=ef)
    store.runbooks.upsert([StoreDoc("disk", "disk full no space left on device", {"kind": "runbook"}),
                           StoreDoc("dns", "dns lookups fail nxdomain", {"kind": "runbook"})])
    vec = ef(["no space left on device"])[0]
    light = store.runbooks.query_vector(vec, 15, light=True)
    assert [h.id for h in light] == ["disk", "dns"]
    assert light[0].similarity > light[1].similarity and light[0].metadata == {} and light[0].text == ""
    full = store.runbooks.query_vector(vec, 15)
    assert full[0].metadata["kind"] == "runbook" and "no space" in full[0].text
    assert [round(h.similarity, 6) for h in full] == [round(h.similarity, 6) for h in light]
    assert store.incidents.query_vector(vec, 15, light=True) == []
