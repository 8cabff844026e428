"""Ingest a knowledge directory (YAML runbooks, incidents, Markdown wiki export) into a store, idempotently.

Every entry carries a content hash; an entry whose id and hash are already stored is left alone, so
ingesting the same directory twice adds nothing the second time. A bad file is reported in
``IngestReport.errors`` (file and JSON path) and does not stop the others.

>>> report = ingest("knowledge", open_store({"store_dir": "kb-store"}))     # doctest: +SKIP
>>> report.summary()                                                       # doctest: +SKIP
'added 28, updated 0, unchanged 0, removed 0, errors 0'
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping

from aisre.knowledge.loader import LoadError, scan_runbooks
from aisre.knowledge.store import KnowledgeStore, to_doc
from aisre.models import Retrieval

Progress = Callable[[int, int, str], None]
BATCH = 64


@dataclasses.dataclass(frozen=True)
class IngestReport:
    """What one ingestion did; ids per outcome, errors per bad file."""
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    errors: tuple[LoadError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
                f"removed {len(self.removed)}, errors {len(self.errors)}")

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "updated": list(self.updated), "unchanged": list(self.unchanged),
                "removed": list(self.removed),
                "errors": [{"path": e.path, "message": e.message} for e in self.errors],
                "summary": self.summary()}


def ingest(directory: str | os.PathLike[str], store: KnowledgeStore, progress: Progress | None = None,
           *, prune: bool = False) -> IngestReport:
    """Load every entry under ``directory`` and upsert new or changed ones into ``store``.

    Parameters
    ----------
    progress:
        Called as ``progress(done, total, entry_id)`` after each entry is examined.
    prune:
        Also delete stored runbooks that came from ``directory`` but no longer exist there
        (recorded incidents are never pruned).
    """
    entries, errors = scan_runbooks(directory)
    total = len(entries)
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    removed: list[str] = []
    existing = {"runbook": store.runbooks.hashes(), "incident": store.incidents.hashes()}
    pending: dict[str, list[Any]] = {"runbook": [], "incident": []}
    for n, entry in enumerate(entries, 1):
        kind = "incident" if entry.kind == "incident" else "runbook"
        have = existing[kind].get(entry.id)
        if have is None:
            added.append(entry.id)
            pending[kind].append(to_doc(entry))
        elif have != entry.content_hash:
            updated.append(entry.id)
            pending[kind].append(to_doc(entry))
        else:
            unchanged.append(entry.id)
        for k, docs in pending.items():
            if len(docs) >= BATCH:
                store.collection_for(k).upsert(docs)
                pending[k] = []
        if progress is not None:
            progress(n, total, entry.id)
    for k, docs in pending.items():
        if docs:
            store.collection_for(k).upsert(docs)
    if prune:
        root = os.path.abspath(os.fspath(directory))
        present = {e.id for e in entries}
        stale = [d.id for d in store.runbooks.get()
                 if d.id not in present and os.path.abspath(str(d.metadata.get("source_path", ""))).startswith(root)]
        store.runbooks.delete(stale)
        removed = stale
    return IngestReport(tuple(added), tuple(updated), tuple(unchanged), tuple(removed), tuple(errors))


def retrieval_to_dict(res: Retrieval) -> dict[str, Any]:
    """A JSON-ready view of a search result for the CLI and the ``aisre.kb_search`` action."""
    return {
        "query": res.query,
        "best": res.best.runbook_id if res.best else None,
        "matches": [{"runbook_id": m.runbook_id, "title": m.title, "score": m.score,
                     "confidence": m.confidence, "reasons": list(m.reasons)} for m in res.matches],
    }


def kb_ingest(directory: str | os.PathLike[str] | None = None, config: Any = None,
              progress: Progress | None = None, *, store: KnowledgeStore | None = None,
              prune: bool = False) -> IngestReport:
    """``aisre kb ingest <dir>``: ingest into the configured store (``knowledge.store_dir``/``chroma_url``)."""
    from aisre.config import DEFAULT_KNOWLEDGE_DIR  # noqa: PLC0415
    from aisre.knowledge.store import open_store  # noqa: PLC0415

    knowledge = _knowledge_section(config)
    directory = directory or knowledge.get("runbooks_dir") or DEFAULT_KNOWLEDGE_DIR
    if store is None:
        store = open_store(knowledge)
    return ingest(directory, store, progress, prune=prune)


def ingest_cli(config: Any, directory: str | os.PathLike[str] | None = None, *, store_dir: str | None = None,
               out: Any = None, prune: bool = False) -> dict[str, Any]:
    """What ``aisre kb ingest <dir> [--store DIR]`` calls: ingest into the configured (or given) Chroma
    directory, write one progress line per entry to ``out`` (a text stream, e.g. stderr) when given, and
    return :meth:`IngestReport.to_dict` (``errors`` lists every bad file with its JSON path)."""
    from aisre.knowledge.store import open_store  # noqa: PLC0415

    knowledge = dict(_knowledge_section(config))
    if store_dir:
        knowledge["store_dir"] = store_dir
        knowledge.pop("chroma_url", None)

    def progress(done: int, total: int, entry_id: str) -> None:
        if out is not None:
            out.write(f"[{done}/{total}] {entry_id}\n")

    report = kb_ingest(directory, knowledge, progress, store=open_store(knowledge), prune=prune)
    return report.to_dict()


def kb_search(text: str, config: Any = None, *, k: int = 5, service: str | None = None,
              signatures: tuple[str, ...] = (), alerts: tuple[str, ...] = (), metrics: tuple[Any, ...] = (),
              retriever: Any = None) -> Retrieval:
    """``aisre kb search "<text>"``: ranked matches with scores, confidences and reasons."""
    if retriever is None:
        from aisre.knowledge.retriever import build_retriever  # noqa: PLC0415
        retriever = build_retriever(config)
    return retriever.search(text, k=k, service=service, signatures=signatures, alerts=alerts, metrics=metrics)


def _knowledge_section(config: Any) -> Mapping[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return config.get("knowledge", config)
    return config.knowledge
