"""The on-disk vector cache: a fresh process reuses vectors; a bad file is a miss, never an error."""
from __future__ import annotations

import numpy as np
import pytest

from aisre.knowledge import store
from aisre.knowledge.vector_cache import DiskVectorCache


class CountingEmbedding:
    def __init__(self, name: str = "test_counting_ef") -> None:
        self._name = name
        self.calls: list[int] = []

    def name(self) -> str:
        return self._name

    def __call__(self, texts):
        self.calls.append(len(texts))
        return [np.full(4, float(len(t)), dtype=np.float32) for t in texts]


@pytest.fixture()
def fresh_process(monkeypatch, tmp_path):
    """An empty in-process cache and a private cache directory, as a new st2 action process would have."""
    monkeypatch.setenv("AISRE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AISRE_VECTOR_CACHE", raising=False)

    def reset():
        monkeypatch.setattr(store, "_VEC_CACHE", {})
        monkeypatch.setattr(store, "_DISK_LOADED", set())
    reset()
    return reset


TEXTS = [f"example text number {i}" for i in range(12)]


def test_a_new_process_reuses_the_vectors_written_by_the_last_one(fresh_process):
    first = CountingEmbedding()
    a = store._embed_cached(first, TEXTS)
    assert first.calls == [12]
    fresh_process()                                    # a new process: nothing in memory
    second = CountingEmbedding()
    b = store._embed_cached(second, TEXTS + ["one new text"])
    assert second.calls == [1]                         # only the new text is embedded
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_the_cache_can_be_turned_off(fresh_process, monkeypatch):
    monkeypatch.setenv("AISRE_VECTOR_CACHE", "0")
    store._embed_cached(CountingEmbedding(), TEXTS)
    fresh_process()
    again = CountingEmbedding()
    store._embed_cached(again, TEXTS)
    assert again.calls == [12]


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04truncated"])
def test_a_corrupt_file_is_a_miss_with_a_warning(tmp_path, caplog, content):
    cache = DiskVectorCache("emb", directory=tmp_path)
    cache.path.write_bytes(content)
    assert cache.load() == {}
    assert "unreadable" in caplog.text


def test_a_file_of_another_embedding_is_not_used(tmp_path):
    DiskVectorCache("emb-a", directory=tmp_path).save({"k" * 64: np.ones(3, dtype=np.float32)})
    other = DiskVectorCache("emb-b", directory=tmp_path)
    other.path.write_bytes(DiskVectorCache("emb-a", directory=tmp_path).path.read_bytes())
    assert other.load() == {}
    assert DiskVectorCache("emb-a", directory=tmp_path).load().keys() == {"k" * 64}


def test_a_repeated_text_is_embedded_once(fresh_process):
    ef = CountingEmbedding()
    out = store._embed_cached(ef, ["same text", "other text", "same text"])
    assert ef.calls == [2] and np.array_equal(out[0], out[2])


def test_an_unwritable_cache_location_warns_and_leaves_no_temp_file(tmp_path, caplog):
    """Vectors and the classifier are still returned when their cache cannot be written."""
    from aisre.knowledge.classifier import cache_key, train
    from aisre.knowledge.vector_cache import DiskVectorCache, save_npz
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    DiskVectorCache("emb", blocker).save({"k": np.ones(3, dtype=np.float32)})
    x = np.random.default_rng(1).normal(size=(120, 3))
    labels = ["a" if v[0] > 0 else "none" if v[1] > 0 else "b" for v in x]
    assert train(x, labels, cache_key(["t"] * 120, labels, ["e"]), blocker) is not None
    assert sum("not written" in r.getMessage() for r in caplog.records) == 2
    target = tmp_path / "ok" / "x.npz"
    target.mkdir(parents=True)                                   # the final rename fails: nothing left behind
    with pytest.raises(OSError):
        save_npz(target, a=np.ones(2))
    assert [p.name for p in target.parent.iterdir()] == ["x.npz"] and target.is_dir()
