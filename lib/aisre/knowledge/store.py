"""Vector stores for knowledge entries: Chroma (persistent or server) and an in-memory twin for tests.

Both expose two collections - ``runbooks`` and ``incidents`` (Chroma names ``aisre_runbooks`` and
``aisre_incidents``) - behind one small protocol, :class:`VectorCollection`:

``upsert(docs)``, ``query(text, k, where) -> list[Hit]``, ``hashes() -> {id: content_hash}``,
``get(ids) -> list[StoreDoc]``, ``delete(ids)``, ``count()``.

Every document keeps the entry's full JSON in its metadata (``entry``), so a retriever can be rebuilt from
the store alone (e.g. a shared Chroma server) and ingestion can compare content hashes.

No network: the Chroma client is built with ``Settings(anonymized_telemetry=False)`` and an offline
embedding function (:mod:`aisre.knowledge.embeddings`); ``HttpClient`` is used only when
``knowledge.chroma_url`` is configured.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from aisre.errors import ConfigError, IntegrationError, SourceDown
from aisre.models import Runbook, stable_hash

COLLECTIONS = {"runbook": "aisre_runbooks", "incident": "aisre_incidents"}


@dataclasses.dataclass(frozen=True)
class StoreDoc:
    """One entry as stored: ``text`` is what gets embedded; ``metadata`` holds scalars only."""
    id: str
    text: str
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return str(self.metadata.get("content_hash", ""))

    def entry(self) -> Runbook | None:
        raw = self.metadata.get("entry")
        if not raw:
            return None
        return Runbook.from_json(str(raw))


@dataclasses.dataclass(frozen=True)
class Hit:
    """A query result: cosine ``similarity`` in [-1, 1] (1 = identical)."""
    id: str
    similarity: float
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    text: str = ""


class VectorCollection(Protocol):
    def upsert(self, docs: Sequence[StoreDoc]) -> None: ...
    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]: ...
    def hashes(self) -> dict[str, str]: ...
    def get(self, ids: Sequence[str] | None = None) -> list[StoreDoc]: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def count(self) -> int: ...


class KnowledgeStore(Protocol):
    runbooks: VectorCollection
    incidents: VectorCollection

    def collection_for(self, kind: str) -> VectorCollection: ...


def entry_text(rb: Runbook, limit: int = 900) -> str:
    """The text embedded for an entry: title, description, keywords and alert names (bounded).

    Log signatures and diagnosis steps are left out on purpose: signatures are matched exactly by the
    retriever, and shorter texts embed several times faster (MiniLM cost grows with length).
    """
    s = rb.symptoms
    parts = [rb.title + ".", rb.description, ", ".join(s.keywords), " ".join(s.alerts)]
    return " ".join(p for p in parts if p)[:limit]


def to_doc(rb: Runbook) -> StoreDoc:
    linked = next((t.split(":", 1)[1] for t in rb.tags if t.startswith("runbook:")), "")
    meta = {"kind": rb.kind, "title": rb.title, "content_hash": rb.content_hash or stable_hash(rb.to_dict()),
            "source_path": rb.source_path, "services": ",".join(rb.services), "runbook_id": linked,
            "entry": rb.to_json()}
    return StoreDoc(id=rb.id, text=entry_text(rb), metadata=meta)


def _matches(meta: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    if not where:
        return True
    return all(meta.get(k) == v for k, v in where.items())


_VEC_CACHE: dict[tuple[str, str], np.ndarray] = {}
_VEC_CACHE_MAX = 50_000
_DISK_LOADED: set[str] = set()


def cache_name(ef: Any) -> str:
    """The name an embedding's vectors are cached under: ``cache_name()`` when it has variants (MiniLM's
    quantized copy), else ``name()``; "" for an unnamed callable (never cached)."""
    if hasattr(ef, "cache_name"):
        return str(ef.cache_name())
    return str(ef.name()) if hasattr(ef, "name") else ""


def _embed_cached(ef: Callable[[Sequence[str]], Sequence[Any]], texts: list[str]) -> list[np.ndarray]:
    """Embed ``texts``, reusing vectors already computed with the same named embedding - in this process or,
    through :mod:`aisre.knowledge.vector_cache`, by an earlier process of the same user."""
    from aisre.knowledge import vector_cache  # noqa: PLC0415
    name = cache_name(ef)
    if not name:
        return [np.asarray(v, dtype=np.float32) for v in ef(texts)]
    disk = vector_cache.DiskVectorCache(name) if vector_cache.enabled() else None
    if disk is not None and name not in _DISK_LOADED:
        _DISK_LOADED.add(name)
        for key, vec in disk.load().items():
            _VEC_CACHE[(name, key)] = np.asarray(vec, dtype=np.float32)
    keys = [(name, hashlib.sha256(t.encode("utf-8", "replace")).hexdigest()) for t in texts]
    missing = {k: t for k, t in zip(keys, texts) if k not in _VEC_CACHE}     # a repeated text is embedded once
    if missing:
        vecs = ef(list(missing.values()))
        if len(_VEC_CACHE) + len(missing) > _VEC_CACHE_MAX:
            _VEC_CACHE.clear()
        for k, v in zip(missing, vecs):
            _VEC_CACHE[k] = np.asarray(v, dtype=np.float32)
        if disk is not None and len(missing) >= 8:          # not worth a rewrite for a query or two
            disk.save({k: v for (n, k), v in _VEC_CACHE.items() if n == name})
    return [_VEC_CACHE[k] for k in keys]


class MemoryCollection:
    """In-memory :class:`VectorCollection` (exact cosine over a numpy matrix)."""

    def __init__(self, embedding: Callable[[Sequence[str]], Sequence[Any]]) -> None:
        self._ef = embedding
        self._docs: dict[str, StoreDoc] = {}
        self._vecs: dict[str, np.ndarray] = {}
        self._matrix: np.ndarray | None = None
        self._order: list[str] = []

    def upsert(self, docs: Sequence[StoreDoc]) -> None:
        docs = list(docs)
        if not docs:
            return
        vecs = _embed_cached(self._ef, [d.text for d in docs])
        for d, v in zip(docs, vecs):
            self._docs[d.id] = d
            self._vecs[d.id] = np.asarray(v, dtype=np.float32)
        self._matrix = None

    def _index(self) -> tuple[list[str], np.ndarray]:
        if self._matrix is None:
            self._order = list(self._docs)
            self._matrix = (np.stack([self._vecs[i] for i in self._order]) if self._order
                            else np.zeros((0, 1), dtype=np.float32))
        return self._order, self._matrix

    def query_vector(self, vec: np.ndarray, k: int = 5, where: Mapping[str, Any] | None = None, *,
                     light: bool = False) -> list[Hit]:
        order, matrix = self._index()
        if not order:
            return []
        sims = matrix @ np.asarray(vec, dtype=np.float32)
        idx = np.argsort(-sims)
        out: list[Hit] = []
        for i in idx:
            d = self._docs[order[int(i)]]
            if _matches(d.metadata, where):
                out.append(Hit(d.id, float(sims[int(i)]), d.metadata, d.text))
                if len(out) >= k:
                    break
        return out

    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]:
        return self.query_vector(self._ef([text])[0], k, where)

    def hashes(self) -> dict[str, str]:
        return {i: d.content_hash for i, d in self._docs.items()}

    def get(self, ids: Sequence[str] | None = None) -> list[StoreDoc]:
        keys = list(self._docs) if ids is None else [i for i in ids if i in self._docs]
        return [self._docs[i] for i in keys]

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            self._docs.pop(i, None)
            self._vecs.pop(i, None)
        self._matrix = None

    def count(self) -> int:
        return len(self._docs)


class MemoryKnowledgeStore:
    """Two in-memory collections; the default embedding is :class:`HashingEmbedding` (fast, deterministic)."""

    def __init__(self, embedding: Callable[[Sequence[str]], Sequence[Any]] | None = None) -> None:
        if embedding is None:
            from aisre.knowledge.embeddings import HashingEmbedding  # noqa: PLC0415
            embedding = HashingEmbedding()
        self.embedding = embedding
        self.runbooks = MemoryCollection(embedding)
        self.incidents = MemoryCollection(embedding)

    def collection_for(self, kind: str) -> MemoryCollection:
        return self.incidents if kind == "incident" else self.runbooks


class ChromaCollection:
    """A Chroma collection behind :class:`VectorCollection`; Chroma errors become IntegrationError."""

    def __init__(self, collection: Any) -> None:
        self._c = collection

    def _call(self, op: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (ConfigError, IntegrationError):
            raise
        except Exception as exc:  # chroma raises many types (ValueError, httpx errors, its own)
            raise SourceDown(f"chroma {op} failed: {type(exc).__name__}: {exc}", integration="chroma",
                             operation=op, target=getattr(self._c, "name", "")) from None

    def upsert(self, docs: Sequence[StoreDoc]) -> None:
        docs = list(docs)
        if not docs:
            return
        self._call("upsert", lambda: self._c.upsert(
            ids=[d.id for d in docs], documents=[d.text for d in docs],
            metadatas=[{k: v for k, v in d.metadata.items() if isinstance(v, (str, int, float, bool))}
                       for d in docs]))

    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]:
        n = self.count()
        if n == 0:
            return []
        kw: dict[str, Any] = {"query_texts": [text], "n_results": max(1, min(k, n)),
                              "include": ["metadatas", "distances", "documents"]}
        if where:
            kw["where"] = dict(where) if len(where) == 1 else {"$and": [{k2: v} for k2, v in where.items()]}
        res = self._call("query", lambda: self._c.query(**kw))
        out = []
        for i, dist, meta, doc in zip(res["ids"][0], res["distances"][0], res["metadatas"][0], res["documents"][0]):
            out.append(Hit(i, 1.0 - float(dist), dict(meta or {}), doc or ""))
        return out

    def query_vector(self, vec: Any, k: int = 5, where: Mapping[str, Any] | None = None, *,
                     light: bool = False) -> list[Hit]:
        """Like :meth:`query` with a precomputed embedding (the retriever embeds the query once).

        ``light``: ids and similarities only (no metadata or documents: the retriever's hot path). Chroma
        returns fewer hits when the collection holds fewer than ``k`` (none when empty), so no count first.
        """
        kw: dict[str, Any] = {"query_embeddings": [np.asarray(vec, dtype=np.float32).tolist()],
                              "n_results": max(1, int(k)),
                              "include": ["distances"] if light else ["metadatas", "distances", "documents"]}
        if where:
            kw["where"] = dict(where) if len(where) == 1 else {"$and": [{k2: v} for k2, v in where.items()]}
        res = self._call("query", lambda: self._c.query(**kw))
        ids = res["ids"][0] if res.get("ids") else []
        metas = (res.get("metadatas") or [None])[0] or [None] * len(ids)
        docs = (res.get("documents") or [None])[0] or [None] * len(ids)
        return [Hit(i, 1.0 - float(dist), dict(meta or {}), doc or "") for i, dist, meta, doc in
                zip(ids, res["distances"][0], metas, docs)]

    def hashes(self) -> dict[str, str]:
        res = self._call("get", lambda: self._c.get(include=["metadatas"]))
        return {i: str((m or {}).get("content_hash", "")) for i, m in zip(res["ids"], res["metadatas"])}

    def get(self, ids: Sequence[str] | None = None) -> list[StoreDoc]:
        kw: dict[str, Any] = {"include": ["metadatas", "documents"]}
        if ids is not None:
            if not ids:
                return []
            kw["ids"] = list(ids)
        res = self._call("get", lambda: self._c.get(**kw))
        return [StoreDoc(i, d or "", dict(m or {})) for i, d, m in zip(res["ids"], res["documents"], res["metadatas"])]

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._call("delete", lambda: self._c.delete(ids=list(ids)))

    def count(self) -> int:
        return int(self._call("count", self._c.count))


class ChromaStore:
    """Chroma-backed knowledge store.

    Parameters
    ----------
    path:
        Directory for ``PersistentClient`` (used when ``url`` is empty).
    url:
        Chroma server URL (``http://host:8000``); uses ``HttpClient``.
    token:
        Optional bearer token for the server (never logged).
    embedding:
        An embedding function; default :func:`aisre.knowledge.embeddings.LocalMiniLM`.
    """

    def __init__(self, path: str | None = None, *, url: str | None = None, token: str | None = None,
                 embedding: Any = None, client: Any = None) -> None:
        try:
            import chromadb  # noqa: PLC0415
            from chromadb.config import Settings  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover
            raise ConfigError(f"chromadb is not importable: {exc}", path="knowledge") from None
        if embedding is None:
            from aisre.knowledge.embeddings import LocalMiniLM  # noqa: PLC0415
            embedding = LocalMiniLM()
        self.embedding = embedding
        settings = Settings(anonymized_telemetry=False)
        if client is not None:
            self._client = client
        elif url:
            from urllib.parse import urlparse  # noqa: PLC0415
            u = urlparse(url)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ConfigError(f"knowledge.chroma_url must be http(s)://host[:port], got {url!r}",
                                  path="knowledge.chroma_url")
            headers = {"Authorization": f"Bearer {token}"} if token else None
            try:
                self._client = chromadb.HttpClient(host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                                                   ssl=u.scheme == "https", headers=headers, settings=settings)
            except Exception as exc:
                raise SourceDown(f"cannot reach chroma at {u.scheme}://{u.hostname}:{u.port}: {type(exc).__name__}",
                                 integration="chroma", operation="connect", target=u.hostname) from None
        else:
            if not path:
                raise ConfigError("knowledge.store_dir is empty and no chroma_url is set", path="knowledge.store_dir")
            os.makedirs(path, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        self.runbooks = ChromaCollection(self._collection(COLLECTIONS["runbook"]))
        self.incidents = ChromaCollection(self._collection(COLLECTIONS["incident"]))

    def _collection(self, name: str) -> Any:
        try:
            return self._client.get_or_create_collection(name=name, embedding_function=self.embedding,
                                                         metadata={"hnsw:space": "cosine"})
        except Exception as exc:
            raise SourceDown(f"chroma get_or_create_collection({name}) failed: {type(exc).__name__}: {exc}",
                             integration="chroma", operation="get_or_create_collection", target=name) from None

    def collection_for(self, kind: str) -> ChromaCollection:
        return self.incidents if kind == "incident" else self.runbooks


def entries_from(collection: VectorCollection) -> list[Runbook]:
    """Rebuild the entries kept in a collection (documents without an ``entry`` are skipped)."""
    out = []
    for d in collection.get():
        rb = d.entry()
        if rb is not None:
            out.append(rb)
    return out


def open_store(knowledge: Mapping[str, Any] | None = None, *, embedding: Any = None,
               default_dir: str | None = None) -> ChromaStore:
    """Build the configured store from the ``knowledge`` config section.

    ``chroma_url`` set -> HttpClient; else PersistentClient at ``store_dir`` (or ``default_dir``,
    or ``$AISRE_HOME/chroma``, or ``~/.aisre/chroma``).
    """
    cfg = dict(knowledge or {})
    if embedding is None:
        from aisre.knowledge.embeddings import make_embedding  # noqa: PLC0415
        embedding = make_embedding(cfg.get("embedding") or "auto")
    url = cfg.get("chroma_url") or None
    path = cfg.get("store_dir") or default_dir or os.path.join(
        os.environ.get("AISRE_HOME") or os.path.join(os.path.expanduser("~"), ".aisre"), "chroma")
    return ChromaStore(path=None if url else path, url=url, token=cfg.get("chroma_token") or None,
                       embedding=embedding)


def iter_docs(entries: Iterable[Runbook]) -> list[StoreDoc]:
    return [to_doc(e) for e in entries]
