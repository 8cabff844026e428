"""On-disk cache of text embeddings, shared by the processes of one user.

Every st2 action run is a fresh Python process. Without this cache each one would embed the shipped runbook
examples, labelled incident texts and counter-examples again (about 1,600 short texts: ~20 s with MiniLM on
one core). Vectors are keyed by the embedding's name and the sha256 of the text, so a changed text is simply
a miss. The file is written atomically (temp file + rename); a missing, unreadable or foreign file is treated
as empty (a warning), never as an error: the cache only saves time.

Location: ``$AISRE_CACHE_DIR`` or ``<tmp>/aisre-<uid>/``; ``AISRE_VECTOR_CACHE=0`` turns it off.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def cache_dir() -> Path:
    return Path(os.environ.get("AISRE_CACHE_DIR") or Path(tempfile.gettempdir()) / f"aisre-{os.getuid()}")


def enabled() -> bool:
    return os.environ.get("AISRE_VECTOR_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


class DiskVectorCache:
    """``load() -> {sha256 hex: vector}`` and ``save(mapping)`` for one embedding name."""

    def __init__(self, name: str, directory: Path | None = None) -> None:
        self.name = name
        self.path = (directory or cache_dir()) / f"vectors-{_SAFE.sub('_', name)[:80]}.npz"

    def load(self) -> dict[str, np.ndarray]:
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
                if str(data["name"]) != self.name or len(keys) != len(vecs) or vecs.ndim != 2:
                    raise ValueError("the file belongs to another embedding or is inconsistent")
                return {str(k): vecs[i] for i, k in enumerate(keys)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("vector cache %s unreadable (%s); embedding again", self.path, exc)
            return {}

    def save(self, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        try:
            keys = np.array(list(vectors), dtype="U64")
            mat = np.stack([np.asarray(v, dtype=np.float32) for v in vectors.values()])
            save_npz(self.path, name=np.array(self.name), keys=keys, vectors=mat)
        except (OSError, ValueError) as exc:
            log.warning("vector cache %s not written (%s)", self.path, exc)


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` (.npz) atomically, in a folder only this user can read; raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
