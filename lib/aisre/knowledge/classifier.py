"""A softmax classifier over the labelled incident texts: the third opinion on text (round 10).

The retriever's two models judge a query by its evidence against each runbook (signatures, keywords,
vectors, nearest labelled texts) through fitted confidence models. This one learns the labels themselves:
multinomial logistic regression (numpy, L2, full-batch gradient descent) from the labelled texts' vectors -
MiniLM and hashing concatenated - to their label (a runbook id or ``none``). It is trained when the retriever
is built, because teams add their own labelled texts, and cached on disk (``$AISRE_CACHE_DIR``) by a hash
of the texts, labels and embedding names, so a later process loads it in milliseconds.

>>> import numpy as np
>>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> clf = LabelClassifier.fit(x, ["disk-full", "disk-full", "none", "none"])
>>> clf.proba(np.array([1.0, 0.0]))["disk-full"] > 0.9
True
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from aisre.knowledge.vector_cache import save_npz

log = logging.getLogger(__name__)

#: Too few labelled texts (or labels) teach nothing a team should trust: no classifier below these.
MIN_TEXTS = 100
MIN_LABELS = 3


@dataclasses.dataclass(frozen=True)
class LabelClassifier:
    """``proba(vector) -> {label: probability}`` over the labels it was trained on (they sum to 1)."""
    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray          # (features, labels)
    bias: np.ndarray             # (labels,)

    @classmethod
    def fit(cls, x: np.ndarray, labels: Sequence[str], l2: float = 1e-3, iters: int = 300,
            lr: float = 2.0) -> "LabelClassifier":
        names = tuple(sorted(set(labels)))
        index = {n: i for i, n in enumerate(names)}
        y = np.eye(len(names))[[index[lab] for lab in labels]]
        x = np.asarray(x, dtype=np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / scale
        w = np.zeros((z.shape[1], len(names)))
        b = np.zeros(len(names))
        for _ in range(iters):
            p = _softmax(z @ w + b)
            g = (p - y) / len(z)
            w -= lr * (z.T @ g + l2 * w)
            b -= lr * g.sum(axis=0)
        return cls(names, mean, scale, w, b)

    def proba(self, vector: np.ndarray) -> dict[str, float]:
        p = _softmax(((np.asarray(vector, dtype=np.float64) - self.mean) / self.scale) @ self.weights + self.bias)
        return {lab: float(v) for lab, v in zip(self.labels, p)}


def _softmax(s: np.ndarray) -> np.ndarray:
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def cache_key(texts: Sequence[str], labels: Sequence[str], embeddings: Sequence[str]) -> str:
    h = hashlib.sha256("\x1f".join(embeddings).encode())
    for t, lab in zip(texts, labels):
        h.update(b"\x1e" + t.encode("utf-8", "replace") + b"\x1f" + lab.encode())
    return h.hexdigest()


def train(x: np.ndarray, labels: Sequence[str], key: str, directory: Path | None) -> LabelClassifier | None:
    """The classifier for these vectors and labels: loaded from ``directory`` when one with ``key`` is there,
    else fitted (a few seconds) and saved. None when there is too little to learn from."""
    if len(labels) < MIN_TEXTS or len(set(labels)) < MIN_LABELS:
        return None
    path = directory / f"classifier-{key[:24]}.npz" if directory is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return LabelClassifier(tuple(str(v) for v in data["labels"]), data["mean"], data["scale"],
                                       data["weights"], data["bias"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("classifier cache %s unreadable (%s); refitting", path, exc)
    clf = LabelClassifier.fit(x, labels)
    if path is not None:
        try:
            save_npz(path, labels=np.array(clf.labels), mean=clf.mean, scale=clf.scale, weights=clf.weights,
                     bias=clf.bias)
        except OSError as exc:
            log.warning("classifier cache %s not written (%s)", path, exc)
    return clf
