"""The MiniLM runtime model: a dynamically quantized copy built once, checked, and a safe fallback."""
from __future__ import annotations

import builtins
import hashlib
import json
import logging
import sys

import numpy as np
import pytest

from aisre.knowledge import embeddings as emb
from aisre.knowledge.store import _embed_cached

TEXTS = ["No space left on device while writing WAL", "OOMKilled exit code 137", "please review my PR"]


@pytest.fixture()
def onnx_dir(tmp_path):
    """A fresh model folder (verified source model + tokenizer files), with no quantized copy yet."""
    return emb.assemble_model_dir(cache_dir=tmp_path / "cache") / "onnx"


def test_quantized_copy_is_built_once_checked_and_reused(onnx_dir, caplog):
    caplog.set_level(logging.INFO)
    path, variant = emb.runtime_model(onnx_dir)
    assert (path.name, variant) == ("model-dq8.onnx", "dq8")
    marker = json.loads(path.with_suffix(".ok").read_text())
    assert emb.MIN_PROBE_COSINE <= marker["min_probe_cosine"] <= 1.0
    assert marker["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not [r for r in caplog.records if "/onnxruntime/quantization/" in r.pathname.replace("\\", "/")]
    stamp = path.stat().st_mtime_ns
    assert emb.runtime_model(onnx_dir) == (path, "dq8")           # a second process reuses the checked copy
    assert path.stat().st_mtime_ns == stamp


def test_quantized_vectors_stay_close_to_the_source_model(onnx_dir):
    tok = emb.minilm_tokenizer(onnx_dir / "tokenizer.json")
    path, _ = emb.runtime_model(onnx_dir)
    exact = emb.mean_pooled(emb.onnx_session(onnx_dir / "model.onnx"), tok, TEXTS)
    fast = emb.mean_pooled(emb.onnx_session(path), tok, TEXTS)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(exact * fast, axis=1))) > 0.97
    # and the meaning survives: the disk text is nearer its paraphrase than the pull request
    q, near, far = emb.mean_pooled(emb.onnx_session(path), tok, ["disk is full", TEXTS[0], TEXTS[2]])
    assert float(q @ near) > float(q @ far) + 0.1


def test_without_the_quantizer_the_source_model_runs(onnx_dir, monkeypatch, caplog):
    real_import = builtins.__import__

    def no_quantizer(name, *args, **kwargs):
        if name.startswith("onnxruntime.quantization"):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "onnxruntime.quantization", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_quantizer)
    with caplog.at_level(logging.WARNING, logger="aisre.knowledge.embeddings"):
        path, variant = emb.runtime_model(onnx_dir)
    assert (path.name, variant) == ("model.onnx", "")
    assert "pip install onnx" in caplog.text
    assert not (onnx_dir / "model-dq8.ok").exists()


def test_a_drifting_copy_is_discarded(onnx_dir, monkeypatch, caplog):
    monkeypatch.setattr(emb, "MIN_PROBE_COSINE", 1.01)              # no copy can pass
    with caplog.at_level(logging.WARNING, logger="aisre.knowledge.embeddings"):
        path, variant = emb.runtime_model(onnx_dir)
    assert (path.name, variant) == ("model.onnx", "")
    assert "drift" in caplog.text
    assert not (onnx_dir / "model-dq8.onnx").exists() and not (onnx_dir / "model-dq8.ok").exists()


def test_a_half_built_copy_without_its_check_is_rebuilt(onnx_dir):
    (onnx_dir / "model-dq8.onnx").write_bytes(b"truncated")          # a crash before the check was written
    path, variant = emb.runtime_model(onnx_dir)
    assert variant == "dq8" and path.stat().st_size > 1_000_000


def test_a_copy_changed_after_its_check_is_rebuilt(onnx_dir):
    path, _ = emb.runtime_model(onnx_dir)
    good = path.read_bytes()
    path.write_bytes(good[:1000])                                        # truncated or swapped behind our back
    assert emb.runtime_model(onnx_dir) == (path, "dq8")
    assert path.read_bytes() == good                                     # the build is deterministic


def test_exact_mode_and_vector_cache_keys(onnx_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("AISRE_MINILM_EXACT", "1")
    assert emb.runtime_model(onnx_dir) == (onnx_dir / "model.onnx", "")
    exact = emb.LocalMiniLM(cache_dir=str(tmp_path / "exact-cache"))
    monkeypatch.delenv("AISRE_MINILM_EXACT")
    fast = emb.LocalMiniLM(cache_dir=str(tmp_path / "fast-cache"))
    # both are the same chroma embedding function (same name), but their vectors are cached apart
    assert exact.name() == fast.name() == "aisre_minilm_int8"
    assert (exact.cache_name(), fast.cache_name()) == ("aisre_minilm_int8-1", "aisre_minilm_int8-dq8-1")
    a, b = _embed_cached(exact, TEXTS[:1])[0], _embed_cached(fast, TEXTS[:1])[0]
    assert not np.array_equal(a, b) and float(a @ b) > 0.97


def test_a_vector_depends_on_its_text_alone_not_on_what_it_was_embedded_with():
    """The quantized copy scales activations per run: batching made a text's vector depend on its batch
    mates, so a fresh cache and a warm one disagreed. Every text now runs alone."""
    ef = emb.LocalMiniLM()
    long_mate = "kernel: " + " ".join(f"segfault at {i:x} ip 00007f error 4 in libc.so.6" for i in range(40))
    alone = np.array(ef([TEXTS[0]]))[0]
    with_mates = np.array(ef([long_mate, TEXTS[0], TEXTS[2]]))[1]
    assert np.array_equal(alone, with_mates)
    assert np.array_equal(np.array(ef(TEXTS[::-1]))[::-1], np.array(ef(TEXTS)))
