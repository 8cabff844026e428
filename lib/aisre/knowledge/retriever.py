"""Hybrid runbook retrieval with a calibrated confidence and an honest "no good match".

Evidence, strongest first:

1. **signatures** - an exact log signature or alert name of a runbook found in the text (or passed in
   ``signatures`` / ``alerts``). A phrase shared by several runbooks counts for each one less; a matched
   phrase that is part of a longer matched phrase is ignored.
2. **metric patterns** - ``metrics`` given as ``"memory_pct:trend"`` strings, :class:`MetricPattern`, or
   anything with ``.metric`` and ``.anomaly_class`` (Anomaly, Signal). Weighted by how few runbooks share it.
3. **BM25** over fielded runbook text (title, alerts, signatures and keywords count double).
4. **vector similarity** (MiniLM cosine; hashing embedding as fallback).

Candidates are ranked by a fused score: a weighted sum of signature evidence, metric evidence, BM25 score
relative to the best BM25 score, and cosine similarity (:data:`FUSION`; reciprocal-rank fusion of the two
rankings only breaks ties). Each candidate's features go through a logistic model fitted on the dev half
of the labelled queries (``bench/retrieval.py --fit``, weights in ``data/calibration.json``): the model
answers "is the top-ranked runbook the right one?", so ``confidence`` is a probability in [0, 1].
``Retrieval.best`` is the top match only when its confidence clears ``min_confidence`` - otherwise the
incident is unknown.

Text without metric evidence also gets a **second opinion** (``second_opinion=``, default in
:func:`build_retriever`: the hashing embedding beside MiniLM): the same evidence scored by a second model
with its own fitted confidence; each runbook's confidence is the mean of the two, the ranking follows it,
and the pair has its own bar (``<a>+<b>:text`` in ``data/calibration.json``, ``bench/retrieval.py
--fit-text``). The two models err on different texts (vector semantics vs character trigrams). With
``classifier=True`` (default in :func:`build_retriever`) a third opinion joins: a softmax classifier trained
on the labelled texts' vectors (:mod:`aisre.knowledge.classifier`); the two models' mean weighs 2, its
probability 1, and a runbook the models cap stays capped. An **acceptance model** (rounds 13-15, fitted by
``--fit-text`` into the same calibration entry) then reads the opinions' confidence in each runbook together with
the best confidence of the pair and of each model and the classifier's probability of "none"
(:data:`ACCEPTANCE_FEATURES`); its probability that a runbook covers the text (``RunbookMatch.acceptance``) is
what the bar applies to. The opinions' ranking and confidence stay; a capped runbook, a text longer than the
model was fitted on and a text of nothing but routine log lines get no lift from it.
Incidents with metric evidence are decided by the first model alone, as the drills check.

Past incidents (``kind: incident``) are searched too. One linked to a runbook (``runbook_id``) lends its
evidence to that runbook ("similar past incident ..."); an unlinked one can be a match itself.

>>> r = Retriever(load_runbooks("knowledge/runbooks"))                       # doctest: +SKIP
>>> r.search("java.lang.OutOfMemoryError: Java heap space").best.runbook_id  # doctest: +SKIP
'memory-leak'
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import regex

from aisre.errors import ConfigError
from aisre.knowledge.bm25 import BM25Index
from aisre.knowledge.classifier import LabelClassifier
from aisre.knowledge.classifier import cache_key as classifier_key
from aisre.knowledge.classifier import train as train_classifier
from aisre.knowledge.loader import compile_pattern
from aisre.knowledge.store import MemoryCollection, cache_name, entries_from, to_doc
from aisre.knowledge.text import MAX_QUERY_CHARS, contains_phrase, normalise, routine_log_lines, tokens
from aisre.models import AnomalyClass, Retrieval, Runbook, RunbookMatch

log = logging.getLogger(__name__)
_WORDS = re.compile(r"[a-z0-9]+")

CALIBRATION_PATH = Path(__file__).resolve().parent / "data" / "calibration.json"
FEATURES = ("sig", "metric", "kw", "bm25_rel", "bm25_cov", "cos", "cos_gap", "both_top", "fused_gap", "oov",
            "ex_cos", "ex_gap", "ex_top", "ni_cos", "pat", "lab_cos", "lab_gap", "lab_vote", "lab_none_vote")
#: Texts that reach on-call channels but are not incidents (requests, notices, reminders): counter-examples.
NON_INCIDENTS_PATH = Path(__file__).resolve().parent / "data" / "non_incidents.yaml"
#: Used only until ``data/calibration.json`` exists (hand-set, conservative).
DEFAULT_WEIGHTS = {"bias": -6.0, "sig": 6.0, "metric": 2.0, "bm25_rel": 1.0, "bm25_cov": 3.0,
                   "cos": 5.0, "cos_gap": 6.0, "both_top": 1.0, "fused_gap": 0.0, "kw": 1.0, "oov": -2.0}
#: Ranking weights (score fusion; reciprocal-rank fusion only breaks ties). Chosen on the dev half.
FUSION = {"sig": 1.0, "metric": 1.0, "kw": 0.3, "pat": 0.5, "bm25_rel": 0.8, "cos": 1.0, "rrf": 0.5,
          "excluded": 1.0}
#: A query with fewer informative words than this is too thin to accept on lexical/vector evidence alone
#: ("checkout", "test"): it is still ranked, but ``best`` stays None unless a signature, alert, metric
#: pattern or symptom pattern matched. Its confidence is capped at :data:`SHORT_QUERY_CAP`.
SHORT_QUERY_WORDS = 3
SHORT_QUERY_CAP = 0.2
#: A runbook's ``symptoms.excludes`` pattern matched: ranked lower and never accepted.
EXCLUDED_CAP = 0.1
#: Time budget per symptom pattern and query (a pattern that backtracks badly on hostile text is skipped).
PATTERN_TIMEOUT_S = 0.02
CANDIDATES_PER_LIST = 15
RRF_K = 60
#: The model consulted beside the embedding for text without metric evidence (``knowledge.second_opinion``):
#: lexical feature hashing errs on other texts than MiniLM, so their mean confidence decides better than
#: either alone (round 9, docs/knowledge.md).
DEFAULT_SECOND_OPINION = "hashing"
#: Neighbour vote over the labelled texts: the ``NEIGHBOURS`` closest ones vote for their label with weight
#: ``exp(cosine / NEIGHBOUR_TEMPERATURE)`` (a softmax: the closest few dominate, a crowd of far ones does not).
NEIGHBOURS = 10
NEIGHBOUR_TEMPERATURE = 0.05


#: What the three opinions' acceptance model reads (round 13): the opinions' confidence in a runbook, the best
#: confidence of the pair and of each model alone (any runbook), and the classifier's probability of "none".
#: Not the text's length: in the labelled sets long texts are nearly always incidents, and a model that learned
#: that accepted any long paste (a page of routine log lines, 200 kB of garbage).
ACCEPTANCE_FEATURES = ("opinions", "pair_max", "first_max", "second_max", "none_p")
#: The acceptance model was fitted on texts of at most this length (the longest labelled text has 446
#: characters). On a longer text (a pasted log, a whole e-mail thread) it may lower the opinions' confidence
#: but never raise it: in round 13 a page of routine log lines scored 0.48 there, against the opinions' 0.16.
ACCEPTANCE_MAX_CHARS = 500


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Logistic weights (over :data:`FEATURES`, or :data:`ACCEPTANCE_FEATURES` for the acceptance model) plus
    the acceptance bar they were tuned for."""
    weights: Mapping[str, float]
    threshold: float = 0.5
    embedding: str = ""
    fitted_on: str = ""

    def confidence(self, feats: Mapping[str, float]) -> float:
        z = self.weights.get("bias", 0.0) + sum(w * feats.get(f, 0.0) for f, w in self.weights.items() if f != "bias")
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    @property
    def is_acceptance(self) -> bool:
        """True for the three opinions' acceptance model (weights over :data:`ACCEPTANCE_FEATURES`)."""
        return "opinions" in self.weights

    def to_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "threshold": self.threshold, "embedding": self.embedding,
                "fitted_on": self.fitted_on}


def calibration_key(embedding: str, kind: str = "incident") -> str:
    """The calibration file's key: the embedding name, with ``:text`` for the text-only model."""
    return embedding if kind == "incident" else f"{embedding}:{kind}"


def load_calibration(embedding: str, path: Path = CALIBRATION_PATH, kind: str = "incident") -> Calibration:
    """The fitted calibration for ``embedding`` (``aisre_minilm_int8`` / ``aisre_hashing``) and query kind
    (``incident``: with metric evidence; ``text``: without - falls back to the incident fit), else defaults.

    A missing file means defaults; an unreadable or malformed one (not a mapping of models, weights that are
    not numbers) also means defaults, with a warning - the retriever still works, conservatively.
    """
    defaults = Calibration(weights=DEFAULT_WEIGHTS, threshold=0.5, embedding=embedding, fitted_on="defaults")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return defaults
    except (OSError, ValueError) as exc:
        log.warning("calibration file %s unreadable (%s); using default weights", path, exc)
        return defaults
    entry = (data.get(calibration_key(embedding, kind)) or data.get(embedding)) if isinstance(data, dict) else None
    if entry is None and isinstance(data, dict):
        return defaults
    try:
        weights = {str(k): float(v) for k, v in entry["weights"].items()}
        threshold = float(entry.get("threshold", 0.5))
        if not 0.0 <= threshold <= 1.0 or not all(math.isfinite(v) for v in weights.values()):
            raise ValueError("threshold outside [0, 1] or a weight that is not finite")
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        log.warning("calibration file %s: no usable %s model for %s (%s); using default weights",
                    path, kind, embedding, exc)
        return defaults
    return Calibration(weights=weights, threshold=threshold, embedding=embedding,
                       fitted_on=str(entry.get("fitted_on", "")))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One scored candidate with its features and the reasons behind them (used by calibration)."""
    entry: Runbook
    features: Mapping[str, float]
    reasons: tuple[str, ...]
    fused: float


def _metric_key(m: Any) -> tuple[str, str | None]:
    """``"memory_pct:trend"``, ``("memory_pct", "trend")``, a mapping, or an object with ``.metric``."""
    if isinstance(m, str):
        name, _, cls = m.partition(":")
        return name.strip(), (cls.strip() or None)
    if isinstance(m, (tuple, list)):
        name = str(m[0]) if m else ""
        cls = m[1] if len(m) > 1 else None
        cls = cls.value if isinstance(cls, AnomalyClass) else (str(cls) if cls else None)
        return name.strip(), cls
    if isinstance(m, Mapping):
        cls = m.get("anomaly_class")
        return str(m.get("metric", "")), (str(cls) if cls else None)
    name = getattr(m, "metric", None) or getattr(m, "name", "")
    cls = getattr(m, "anomaly_class", None)
    return str(name), (cls.value if isinstance(cls, AnomalyClass) else (str(cls) if cls else None))


def _field_tokens(rb: Runbook) -> list[str]:
    s = rb.symptoms
    strong = " ".join([rb.title, " ".join(s.alerts), " ".join(s.log_signatures), " ".join(s.keywords)])
    weak = " ".join([rb.description, " ".join(s.examples), " ".join(f"{m.metric} {m.condition}" for m in s.metrics),
                     " ".join(t for t in rb.tags if ":" not in t), " ".join(rb.diagnosis)])
    t = tokens(strong)
    return t + t + tokens(weak)


def _linked_runbook(rb: Runbook) -> str:
    return next((t.split(":", 1)[1] for t in rb.tags if t.startswith("runbook:")), "")


class Retriever:
    """Hybrid retrieval over runbooks and past incidents.

    Parameters
    ----------
    runbooks:
        Entries to search (runbooks and incidents). ``None`` with a store: read them from the store.
    store:
        A :class:`~aisre.knowledge.store.KnowledgeStore` whose collections provide the vector part (and the
        recorded incidents). ``None``: vectors are kept in memory.
    embedding:
        ``"auto"`` (MiniLM, falling back to hashing with a warning), ``"minilm"``, ``"hashing"`` or an
        embedding function. Ignored for the vector part when a store is given (the store's embedding is used).
    min_confidence:
        The acceptance bar for ``Retrieval.best``; default: the threshold of the calibration that scored it.
    calibration, text_calibration:
        The confidence models (default: ``data/calibration.json``). ``calibration`` scores queries that come
        with structured metric evidence (an incident's metric signals); ``text_calibration`` scores text
        without it (alerts, log lines, chat). A text model can then be refitted on labelled text alone
        without moving how metric-driven incidents are decided. Giving only ``calibration`` uses it for both.
    """

    def __init__(self, runbooks: Iterable[Runbook] | None, store: Any = None, *, embedding: Any = "auto",
                 min_confidence: float | None = None, calibration: Calibration | None = None,
                 text_calibration: Calibration | None = None, labelled: Sequence[tuple[str, str]] = (),
                 second_opinion: Any = None, ensemble_calibration: Calibration | None = None,
                 classifier: bool = False) -> None:
        self.store = store
        self._labelled = [(str(t)[:MAX_QUERY_CHARS], str(lab)) for t, lab in labelled if str(t).strip()]
        entries = list(runbooks) if runbooks is not None else []
        if store is not None:
            if runbooks is None:
                entries = entries_from(store.runbooks)
            known = {e.id for e in entries}
            entries += [e for e in entries_from(store.incidents) if e.id not in known]
        self._ef, self.embedding_name = self._resolve_embedding(embedding if store is None else store.embedding)
        self.calibration = calibration or load_calibration(self.embedding_name)
        # an explicit single calibration serves both kinds of query; otherwise each kind has its own fit
        self.text_calibration = text_calibration or (calibration if calibration is not None
                                                     else load_calibration(self.embedding_name, kind="text"))
        self._bar_override = None if min_confidence is None else float(min_confidence)
        self._entries: list[Runbook] = []
        self._by_id: dict[str, Runbook] = {}
        self._memory: MemoryCollection | None = None
        self._text_vectors: dict[str, np.ndarray] = {}    # examples, labelled and counter-example texts
        self._last_query: tuple[str, np.ndarray] | None = None
        self._rebuild(entries)
        self.second_opinion: Retriever | None = None
        if second_opinion is not None:
            self.second_opinion = (second_opinion if isinstance(second_opinion, Retriever) else
                                   Retriever(self._entries, embedding=second_opinion, labelled=labelled))
            if self.second_opinion.embedding_name == self.embedding_name:
                self.second_opinion = None                # the same model twice is no second opinion
        self.classifier: LabelClassifier | None = (self._train_classifier()
                                                   if classifier and self.second_opinion is not None else None)
        self.ensemble_calibration = ensemble_calibration or (
            load_calibration(self.ensemble_name, kind="text") if self.second_opinion is not None else None)

    @property
    def min_confidence(self) -> float:
        """The bar for queries with metric evidence (the override, if one was given)."""
        return self._bar_override if self._bar_override is not None else self.calibration.threshold

    @min_confidence.setter
    def min_confidence(self, value: float | None) -> None:
        self._bar_override = None if value is None else float(value)

    def calibration_for(self, metrics: Sequence[Any]) -> tuple[Calibration, float]:
        """(confidence model, acceptance bar) for a query with or without structured metric evidence."""
        cal = self.calibration if metrics else self.text_calibration
        return cal, (self._bar_override if self._bar_override is not None else cal.threshold)

    @property
    def ensemble_name(self) -> str:
        """``<this embedding>+<second opinion's>`` (``+labels`` with the classifier): the calibration key of the
        bar the opinions decide at."""
        other = self.second_opinion.embedding_name if self.second_opinion is not None else ""
        name = f"{self.embedding_name}+{other}" if other else self.embedding_name
        return f"{name}+labels" if other and self.classifier is not None else name

    def _train_classifier(self) -> LabelClassifier | None:
        """The third opinion: a classifier over the labelled texts' vectors (both models'), cached on disk."""
        from aisre.knowledge import vector_cache  # noqa: PLC0415
        assert self.second_opinion is not None
        pairs = [(t, lab) for t, lab in self._labelled if lab == "none" or lab in self._index_of]
        if not pairs:
            return None
        texts, labels = [t for t, _ in pairs], [lab for _, lab in pairs]
        x = np.hstack([self._embed_texts(texts), self.second_opinion._embed_texts(texts)])
        names = [cache_name(ef) or type(ef).__name__ for ef in (self._ef, self.second_opinion._ef)]
        return train_classifier(x, labels, classifier_key(texts, labels, names),
                                vector_cache.cache_dir() if vector_cache.enabled() else None)

    def text_bar(self) -> float:
        """The bar for text without metric evidence: the pair's when a second opinion is consulted."""
        if self._bar_override is not None:
            return self._bar_override
        if self.second_opinion is not None and self.ensemble_calibration is not None:
            return self.ensemble_calibration.threshold
        return self.text_calibration.threshold

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _resolve_embedding(embedding: Any) -> tuple[Any, str]:
        from aisre.knowledge.embeddings import HashingEmbedding, LocalMiniLM  # noqa: PLC0415
        if embedding in ("auto", "minilm", None):
            try:
                ef = LocalMiniLM()
                return ef, ef.name()
            except ConfigError as exc:
                if embedding == "minilm":
                    raise
                log.warning("MiniLM embedding unavailable (%s); using the hashing embedding", exc.message)
                ef = HashingEmbedding()
                return ef, ef.name()
        if embedding == "hashing":
            ef = HashingEmbedding()
            return ef, ef.name()
        if isinstance(embedding, str):
            raise ConfigError(f"unknown embedding {embedding!r}; use auto, minilm or hashing",
                              path="knowledge.embedding")
        name = embedding.name() if hasattr(embedding, "name") else type(embedding).__name__
        return embedding, str(name)

    def _rebuild(self, entries: list[Runbook]) -> None:
        seen: dict[str, Runbook] = {}
        for e in entries:
            seen[e.id] = e                            # last one wins (an updated incident record)
        self._entries = list(seen.values())
        self._by_id = dict(seen)
        self._bm25 = BM25Index([_field_tokens(e) for e in self._entries])
        self._index_of = {e.id: i for i, e in enumerate(self._entries)}
        self._target_of = [(_linked_runbook(e) if e.kind == "incident" else "") or e.id for e in self._entries]
        self._linked_index = [(i, self._index_of[t]) for i, t in enumerate(self._target_of)
                              if t != self._entries[i].id and t in self._index_of]
        # signatures: phrase -> entry indices
        table: dict[str, set[int]] = {}
        self._phrase_kind: dict[str, str] = {}
        for i, e in enumerate(self._entries):
            for p in e.symptoms.log_signatures:
                n = normalise(p).strip()
                if len(n) >= 3:
                    table.setdefault(n, set()).add(i)
                    self._phrase_kind.setdefault(n, "log signature")
            for a in e.symptoms.alerts:
                n = normalise(a).strip()
                if len(n) >= 3:
                    table.setdefault(n, set()).add(i)
                    self._phrase_kind[n] = "alert"
        self._phrases = sorted(table.items(), key=lambda kv: -len(kv[0]))
        # keyword phrases (stemmed token sets), indexed by their rarest-looking (longest) token
        # (a keyword with stopwords, e.g. "out of space", must appear as a phrase instead)
        self._keywords: dict[str, list[tuple[int, frozenset[str], str]]] = {}
        self._kw_phrases: list[tuple[int, str]] = []
        for i, e in enumerate(self._entries):
            for kw in e.symptoms.keywords:
                toks = tokens(kw)
                if not toks:
                    continue
                if len(toks) < len(_WORDS.findall(kw.lower())):
                    self._kw_phrases.append((i, normalise(kw)))
                    continue
                anchor = max(toks, key=len)
                self._keywords.setdefault(anchor, []).append((i, frozenset(toks), kw))
        # symptom patterns (regular expressions, validated by the loader)
        self._patterns = self._compile("patterns")
        self._excludes = self._compile("excludes")
        # metric patterns: metric -> [(entry index, class)]
        self._metrics: dict[str, list[tuple[int, str | None]]] = {}
        for i, e in enumerate(self._entries):
            for m in e.symptoms.metrics:
                self._metrics.setdefault(m.metric, []).append(
                    (i, m.anomaly_class.value if m.anomaly_class else None))
        # texts embedded one by one: runbook examples, labelled incident texts, non-incident counter-examples
        examples = [(i, ex[:300]) for i, e in enumerate(self._entries) for ex in e.symptoms.examples[:40]
                    if ex.strip()]
        self._ex_owner = np.asarray([i for i, _ in examples], dtype=np.int64)
        self._ex_matrix = self._embed_texts([t for _, t in examples])
        labelled = [(t, lab) for t, lab in self._labelled if lab == "none" or lab in self._index_of]
        self._lab_index: dict[str, list[int]] = {}
        for k, (t, _) in enumerate(labelled):
            self._lab_index.setdefault(t, []).append(k)
        self._lab_owner = np.asarray([self._index_of.get(lab, -1) for _, lab in labelled], dtype=np.int64)
        self._lab_matrix = self._embed_texts([t for t, _ in labelled])
        self._ni_matrix = self._embed_texts(list(_non_incident_texts()))
        if self.store is None:                        # embed only new or changed entries
            if self._memory is None:
                self._memory = MemoryCollection(self._ef)
            have = self._memory.hashes()
            self._memory.delete([i for i in have if i not in self._by_id])
            docs = [to_doc(e) for e in self._entries]
            self._memory.upsert([d for d in docs if have.get(d.id) != d.content_hash])

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        """A matrix of ``texts``' vectors (rows in order); each text is embedded once per retriever, and the
        process / on-disk cache of :func:`~aisre.knowledge.store._embed_cached` spares the work across them."""
        from aisre.knowledge.store import _embed_cached  # noqa: PLC0415
        new = [t for t in dict.fromkeys(texts) if t not in self._text_vectors]
        if new:
            self._text_vectors.update(zip(new, _embed_cached(self._ef, new)))
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._text_vectors[t] for t in texts]).astype(np.float32)

    @staticmethod
    def _row_sims(matrix: np.ndarray, vec: np.ndarray | None) -> np.ndarray | None:
        """Cosine of the query to every row of ``matrix`` (None without a query vector or rows)."""
        if vec is None or not len(matrix) or matrix.shape[1] != vec.shape[0]:
            return None
        return (matrix @ vec).astype(np.float64)

    def _best_per_entry(self, sims: np.ndarray | None, owner: np.ndarray,
                        skip: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """(per entry: the best cosine to one of its rows, 0 without rows; the cosines of unowned rows).

        ``sims`` are the query's cosines to the rows (:meth:`_row_sims`); ``owner`` gives each row's entry
        index, -1 for rows that belong to no entry; ``skip`` rows are ignored.
        """
        out = np.zeros(len(self._entries), dtype=np.float64)
        if sims is None:
            return out, np.zeros(0)
        sims = sims.copy()
        sims[list(skip)] = -1.0
        owned = owner >= 0
        if owned.any():
            np.maximum.at(out, owner[owned], sims[owned])
        for i, link in self._linked_index:              # a linked past incident shares its runbook's rows
            out[i] = max(out[i], out[link])
        return out, sims[~owned]

    def _neighbour_vote(self, sims: np.ndarray | None, skip: Sequence[int] = ()) -> tuple[dict[str, float], float]:
        """(runbook id -> share of the vote, share for "none") of the :data:`NEIGHBOURS` closest labelled texts,
        given the query's cosines to the labelled texts."""
        if sims is None:
            return {}, 0.0
        sims = sims.copy()
        sims[list(skip)] = -np.inf
        near = np.argsort(-sims)[:NEIGHBOURS]
        near = near[np.isfinite(sims[near])]
        if not len(near):
            return {}, 0.0
        w = np.exp((sims[near] - sims[near].max()) / NEIGHBOUR_TEMPERATURE)
        w /= w.sum()
        votes: dict[str, float] = {}
        none = 0.0
        for row, share in zip(near, w):
            owner = int(self._lab_owner[row])
            if owner < 0:
                none += float(share)
            else:
                votes[self._target_of[owner]] = votes.get(self._target_of[owner], 0.0) + float(share)
        return votes, none

    def _non_incident_sim(self, vec: np.ndarray | None) -> float:
        """The best cosine between the query and a known non-incident text (0 when there are none)."""
        sims = self._row_sims(self._ni_matrix, vec)
        return float(sims.max()) if sims is not None else 0.0

    def add(self, entries: Iterable[Runbook]) -> None:
        """Add or replace entries (e.g. a newly recorded incident); rebuilds the lexical index."""
        entries = list(entries)
        self._rebuild(self._entries + entries)
        if self.second_opinion is not None:
            self.second_opinion.add(entries)

    def get(self, runbook_id: str) -> Runbook | None:
        return self._by_id.get(runbook_id)

    @property
    def entries(self) -> tuple[Runbook, ...]:
        return tuple(self._entries)

    # ------------------------------------------------------------------ evidence

    def _signature_hits(self, text_norm: str, signatures: Sequence[str], alerts: Sequence[str]
                        ) -> dict[int, tuple[float, str]]:
        matched: list[str] = []
        for phrase, _ in self._phrases:               # longest first
            if phrase in text_norm and contains_phrase(text_norm, phrase):
                if not any(phrase in longer for longer in matched):
                    matched.append(phrase)
        explicit = {normalise(s).strip() for s in (*signatures, *alerts) if s}
        hits: dict[int, tuple[float, str]] = {}
        table = dict(self._phrases)
        for phrase in matched + [p for p in explicit if p in table and p not in matched]:
            idx = table[phrase]
            strength = 1.0 / len({self._target_of[i] for i in idx})
            for i in idx:
                if strength > hits.get(i, (0.0, ""))[0]:
                    hits[i] = (strength, f"{self._phrase_kind[phrase]} '{phrase}'")
        for s in explicit:                            # a signature id naming a runbook directly
            i = self._index_of.get(s)
            if i is not None and 1.0 > hits.get(i, (0.0, ""))[0]:
                hits[i] = (1.0, f"signature id '{s}'")
        return hits

    def _keyword_hits(self, qtok: Sequence[str], text_norm: str) -> dict[int, tuple[float, list[str]]]:
        qset = set(qtok)
        found: dict[int, list[str]] = {}
        for i, phrase in self._kw_phrases:
            if phrase in text_norm and contains_phrase(text_norm, phrase):
                found.setdefault(i, []).append(phrase)
        for anchor in dict.fromkeys(qtok):             # query order: the reasons read the same in every process
            for i, toks, kw in self._keywords.get(anchor, ()):
                if toks <= qset and kw not in found.get(i, []):
                    found.setdefault(i, []).append(kw)
        return {i: (1.0 - 0.5 ** len(kws), kws) for i, kws in found.items()}

    def _compile(self, field: str) -> list[tuple[int, Any, str]]:
        out: list[tuple[int, Any, str]] = []
        for i, e in enumerate(self._entries):
            for src in getattr(e.symptoms, field):
                try:
                    out.append((i, compile_pattern(src), src))
                except regex.error as exc:            # entries built in code skip the loader's check
                    log.warning("runbook %s: %s %r ignored: %s", e.id, field, src, exc)
        return out

    def _pattern_hits(self, text: str, compiled: Sequence[tuple[int, Any, str]] | None = None
                      ) -> dict[int, tuple[float, list[str]]]:
        found: dict[int, list[str]] = {}
        for i, rx, src in (self._patterns if compiled is None else compiled):
            try:
                hit = rx.search(text, timeout=PATTERN_TIMEOUT_S)
            except TimeoutError:
                log.warning("pattern %r of %s timed out on a %d-char query; skipped",
                            src, self._entries[i].id, len(text))
                continue
            if hit:
                found.setdefault(i, []).append(src)
        return {i: (1.0 - 0.5 ** len(srcs), srcs) for i, srcs in found.items()}

    def _metric_hits(self, metrics: Sequence[Any]) -> dict[int, tuple[float, str]]:
        hits: dict[int, tuple[float, str]] = {}
        for m in metrics:
            name, cls = _metric_key(m)
            rows = self._metrics.get(name, [])
            if not rows:
                continue
            # a past incident linked to a runbook is an instance of it, not a competitor: count targets
            exact = {self._target_of[i] for i, c in rows if cls and c == cls}
            for i, c in rows:
                if cls and c == cls:
                    s = 1.0 / len(exact)
                else:                                 # same metric, other or unknown anomaly class: half credit
                    s = 0.5 / len({self._target_of[j] for j, _ in rows})
                label = f"metric {name}{':' + cls if cls else ''}"
                if s > hits.get(i, (0.0, ""))[0]:
                    hits[i] = (s, label)
        return hits

    def _embed_query(self, text: str) -> np.ndarray | None:
        if not text.strip():
            return None
        last = self._last_query
        if last is not None and last[0] == text:      # the classifier asks again for the query just scored
            return last[1]
        vec = np.asarray(self._ef([text])[0], dtype=np.float32)     # the store's embedding when there is one
        self._last_query = (text, vec)
        return vec

    def _vector_sims(self, vec: np.ndarray | None, text: str) -> np.ndarray:
        n = len(self._entries)
        sims = np.zeros(n, dtype=np.float64)
        if n == 0 or vec is None:
            return sims
        if self._memory is not None:
            order, matrix = self._memory._index()
            raw = matrix @ vec
            for j, eid in enumerate(order):
                sims[self._index_of[eid]] = float(raw[j])
            return sims
        want = max(CANDIDATES_PER_LIST, 10)
        for coll in (self.store.runbooks, self.store.incidents):
            hits = coll.query_vector(vec, want, light=True) if hasattr(coll, "query_vector") else coll.query(text, want)
            for h in hits:
                i = self._index_of.get(h.id)
                if i is not None:
                    sims[i] = max(sims[i], h.similarity)
        return sims

    def candidates(self, text: str, *, service: str | None = None, signatures: Sequence[str] = (),
                   alerts: Sequence[str] = (), metrics: Sequence[Any] = ()) -> list[Candidate]:
        """Every candidate with its features (unsorted). :meth:`search` ranks and calibrates these."""
        text = (text or "")[:MAX_QUERY_CHARS]
        signatures = tuple(str(s)[:500] for s in signatures or ())
        alerts = tuple(str(a)[:500] for a in alerts or ())
        full = _model_query(text, signatures, alerts)
        n = len(self._entries)
        if n == 0:
            return []
        qtok = tokens(full)
        bm = self._bm25.score(qtok)
        qvec = self._embed_query(full)
        sims = self._vector_sims(qvec, full)
        ex_sims, _ = self._best_per_entry(self._row_sims(self._ex_matrix, qvec), self._ex_owner)
        # a labelled text identical to the query is skipped (leave-one-out): fitting on the labelled texts
        # then measures what a new text gets, and a live query is treated the same way as the fit
        lab_rows, own = self._row_sims(self._lab_matrix, qvec), self._lab_index.get(full, ())
        lab_sims, lab_none_sims = self._best_per_entry(lab_rows, self._lab_owner, skip=own)
        lab_none = float(lab_none_sims.max()) if len(lab_none_sims) else 0.0
        votes, none_vote = self._neighbour_vote(lab_rows, skip=own)
        ni = self._non_incident_sim(qvec)
        sig = self._signature_hits(normalise(full), signatures, alerts)
        met = self._metric_hits(metrics)
        kwh = self._keyword_hits(qtok, normalise(full))
        # symptom patterns and exclusions also see the structured metric evidence ("p99_latency_ms sustained"),
        # so a runbook can exclude an anomaly class whether or not the text names it
        metric_words = [f"{name} {cls or ''}" for name, cls in map(_metric_key, metrics or ()) if name]
        described = " ".join([full, *metric_words])
        pat = self._pattern_hits(described)
        excl = self._pattern_hits(described, self._excludes)
        bm_order = [int(i) for i in np.argsort(-bm)[:CANDIDATES_PER_LIST] if bm[int(i)] > 0]
        vec_order = [int(i) for i in np.argsort(-sims)[:CANDIDATES_PER_LIST]]
        ex_order = [int(i) for i in np.argsort(-ex_sims)[:CANDIDATES_PER_LIST] if ex_sims[int(i)] > 0]
        cand = set(bm_order) | set(vec_order) | set(ex_order) | set(sig) | set(met) | set(kwh) | set(pat)
        bm_max = float(bm.max()) if n else 0.0
        bm_rank = {i: r for r, i in enumerate(bm_order)}
        vec_rank = {i: r for r, i in enumerate(vec_order)}
        tgt = self._target_of
        best_cos = _best_per_target(sims, cand, tgt)      # gaps are measured against *other* runbooks
        best_ex = _best_per_target(ex_sims, cand, tgt)
        best_lab = _best_per_target(lab_sims, cand, tgt)
        qmass = self._bm25.query_idf_mass(qtok)
        words = [t for t in qtok if t.isalpha() and len(t) >= 3]
        qwords = len(set(words))
        oov = sum(1 for t in words if t not in self._bm25.idf) / len(words) if words else 0.0
        out: list[Candidate] = []
        for i in cand:
            e = self._entries[i]
            if service and e.services and service not in e.services:
                continue
            other_best = max((v for t, v in best_cos.items() if t != tgt[i]), default=0.0)
            other_ex = max((v for t, v in best_ex.items() if t != tgt[i]), default=0.0)
            other_lab = max((v for t, v in best_lab.items() if t != tgt[i]), default=0.0)
            cov = (sum(self._bm25.idf[t] for t in set(qtok) if t in self._bm25.doc_terms[i]) / qmass) if qmass else 0.0
            feats = {
                "sig": sig.get(i, (0.0, ""))[0],
                "metric": met.get(i, (0.0, ""))[0],
                "kw": kwh[i][0] if i in kwh else 0.0,
                "bm25_rel": float(bm[i]) / bm_max if bm_max > 0 else 0.0,
                "bm25_cov": cov,
                "cos": float(sims[i]),
                "cos_gap": float(sims[i]) - other_best,
                "both_top": 1.0 if bm_order and tgt[bm_order[0]] == tgt[i] and tgt[vec_order[0]] == tgt[i] else 0.0,
                "oov": oov,
                "ex_cos": float(ex_sims[i]),
                "ex_gap": float(ex_sims[i]) - other_ex if ex_sims[i] > 0 else 0.0,
                "ex_top": 1.0 if ex_order and tgt[ex_order[0]] == tgt[i] else 0.0,
                "ni_cos": ni,
                "pat": pat[i][0] if i in pat else 0.0,
                "lab_cos": float(lab_sims[i]),
                "lab_gap": float(lab_sims[i]) - max(other_lab, lab_none),
                "lab_vote": votes.get(tgt[i], 0.0),
                "lab_none_vote": none_vote,
                "words": float(qwords),                # not a model feature: the short-query guard reads it
            }
            excluded = excl.get(i) or excl.get(self._index_of.get(tgt[i], i))
            reasons: list[str] = []
            if i in sig:
                reasons.append(sig[i][1])
            if i in met:
                reasons.append(met[i][1])
            if i in kwh:
                reasons.append("keywords " + ", ".join(repr(k) for k in kwh[i][1][:4]))
            if i in pat:
                reasons.append("pattern " + ", ".join(repr(p) for p in pat[i][1][:3]))
            if excluded:
                feats["excluded"] = 1.0                # not a model feature: the runbook says it does not fit
                reasons.append("excluded by the runbook: " + ", ".join(repr(p) for p in excluded[1][:2]))
            if i in bm_rank:
                reasons.append(f"bm25 {feats['bm25_rel']:.2f} (rank {bm_rank[i] + 1}, covers {cov:.0%} of the query)")
            reasons.append(f"vector cosine {feats['cos']:.2f}" + (f" (rank {vec_rank[i] + 1})" if i in vec_rank else ""))
            if feats["ex_cos"] > 0:
                reasons.append(f"closest reported example {feats['ex_cos']:.2f}")
            if feats["lab_cos"] > 0:
                reasons.append(f"closest labelled incident text {feats['lab_cos']:.2f}")
            fused = (FUSION["sig"] * feats["sig"] + FUSION["metric"] * feats["metric"] + FUSION["kw"] * feats["kw"]
                     + FUSION["pat"] * feats["pat"]
                     + FUSION["bm25_rel"] * feats["bm25_rel"]
                     + FUSION["cos"] * max(feats["cos"], feats["ex_cos"], feats["lab_cos"])
                     + FUSION["rrf"] * (1.0 / (RRF_K + bm_rank.get(i, 100)) + 1.0 / (RRF_K + vec_rank.get(i, 100)))
                     - FUSION["excluded"] * feats.get("excluded", 0.0))
            out.append(Candidate(e, feats, tuple(reasons), fused))
        if len(out) > 1:
            fz = sorted((c.fused for c in out), reverse=True)
            for c in out:
                other = fz[1] if c.fused == fz[0] else fz[0]
                c.features["fused_gap"] = max(-1.0, (c.fused - other) / max(c.fused, other, 1e-9))
        elif out:
            out[0].features["fused_gap"] = 1.0
        return out

    # ------------------------------------------------------------------ search

    def search_incident(self, incident: Any, k: int = 5) -> Retrieval:
        """``search`` with the text, signatures, alerts and metric patterns of an incident's signals."""
        return self.search(k=k, **incident_query(incident))

    def search(self, text: str, k: int = 5, service: str | None = None, signatures: Sequence[str] = (),
               alerts: Sequence[str] = (), metrics: Sequence[Any] = ()) -> Retrieval:
        """Rank runbooks for an incident description; ``best`` is None when nothing clears the bar.

        Text without metric evidence, with a second opinion configured, is decided by the pair: each runbook's
        confidence is the mean of the two models' (a runbook one model did not consider counts 0 there), the
        ranking follows that mean, and the pair's own bar applies. With metric evidence this model decides alone.
        Never raises on odd input: empty or huge text, control characters and unknown metrics are tolerated.
        """
        k = max(1, int(k))
        scored, capped = self._scored(text, service=service, signatures=signatures, alerts=alerts, metrics=metrics)
        if self.second_opinion is not None and not metrics:
            ranked, acceptance = self._opinions(text, scored, capped, service=service, signatures=signatures,
                                                alerts=alerts)
            model = self.ensemble_calibration
            if acceptance is not None and model is not None and model.is_acceptance:
                ranked = self._accepted(ranked, acceptance, model)
            ranked = ranked[:k]
            bar = self.text_bar()
        else:
            ranked = sorted(scored.values(), key=lambda m: (-m.score, -m.confidence, m.runbook_id))[:k]
            bar = self.calibration_for(metrics)[1]
        top = ranked[0] if ranked else None
        decisive = None if top is None else (top.acceptance if top.acceptance is not None else top.confidence)
        best = top if decisive is not None and decisive >= bar else None
        return Retrieval(query=(text or "")[:500], matches=tuple(ranked), best=best)

    def _scored(self, text: str, *, service: str | None = None, signatures: Sequence[str] = (),
                alerts: Sequence[str] = (), metrics: Sequence[Any] = ()) -> tuple[dict[str, RunbookMatch], set[str]]:
        """Every candidate runbook with this model's confidence (past incidents folded into their runbook), and
        the runbooks it capped (an exclusion matched, or too few words for anything)."""
        cands = self.candidates(text, service=service, signatures=signatures, alerts=alerts, metrics=metrics)
        calibration, _ = self.calibration_for(metrics)
        grouped: dict[str, list[tuple[float, float, tuple[str, ...]]]] = {}
        capped: set[str] = set()
        for c in cands:
            conf = calibration.confidence(c.features)
            f = c.features
            reasons = c.reasons
            cap = False
            if f.get("excluded"):
                conf = min(conf, EXCLUDED_CAP)         # the runbook's authors say this look-alike is not theirs
                cap = True
            elif (f.get("words", SHORT_QUERY_WORDS) < SHORT_QUERY_WORDS
                    and not (f["sig"] or f["metric"] or f["pat"])):
                conf = min(conf, SHORT_QUERY_CAP)      # too few words to be sure of anything
                reasons = (*c.reasons, f"only {int(f['words'])} informative word(s): too little to be sure")
                cap = True
            target_id = c.entry.id
            linked = _linked_runbook(c.entry) if c.entry.kind == "incident" else ""
            if linked and linked in self._by_id:
                fix = c.entry.diagnosis[0] if c.entry.diagnosis else ""
                target_id, conf = linked, conf * 0.95
                reasons = (f"similar past incident {c.entry.id} (confidence {conf:.2f}): {fix[:160]}",)
            if cap:
                capped.add(target_id)
            grouped.setdefault(target_id, []).append((conf, c.fused, reasons))
        scored: dict[str, RunbookMatch] = {}
        for target_id, rows in grouped.items():
            rows.sort(key=lambda r: -r[0])
            conf, fused = rows[0][0], max(r[1] for r in rows)
            reasons = tuple(x for r in rows for x in r[2])
            scored[target_id] = RunbookMatch(runbook_id=target_id, score=round(fused, 6), confidence=round(conf, 4),
                                              reasons=reasons, title=self._by_id[target_id].title)
        return scored, capped

    def text_opinions(self, text: str) -> tuple[list[RunbookMatch], dict[str, Any] | None]:
        """Text without metric evidence as the opinions see it before any acceptance model: the ranked runbooks
        and the acceptance model's query-level inputs (what :func:`aisre.knowledge.calibrate.fit_acceptance`
        fits on). Needs a second opinion."""
        if self.second_opinion is None:
            raise ValueError("text_opinions needs a retriever with a second opinion")
        scored, capped = self._scored(text)
        return self._opinions(text, scored, capped)

    def _opinions(self, text: str, scored: Mapping[str, RunbookMatch], capped: set[str], *,
                  service: str | None = None, signatures: Sequence[str] = (), alerts: Sequence[str] = ()
                  ) -> tuple[list[RunbookMatch], dict[str, Any] | None]:
        """Text without metric evidence: every runbook ranked by the opinions' confidence (the two models' mean,
        with the classifier when there is one), and the query-level inputs of the acceptance model with the
        runbooks either model capped and whether the text is only routine log lines (None without the
        classifier's probabilities). ``scored``/``capped``: this model's own :meth:`_scored` answer."""
        assert self.second_opinion is not None
        other, other_capped = self.second_opinion._scored(text, service=service, signatures=signatures, alerts=alerts)
        pair = _pair(scored, other, self.second_opinion.embedding_name)
        opinions, none_p = dict(pair), None
        query, capped = _model_query(text, signatures, alerts), capped | other_capped
        if self.classifier is not None:
            opinions, none_p = self._with_classifier(pair, query, capped)
        ranked = sorted(opinions.values(), key=lambda m: (-m.confidence, -m.score, m.runbook_id))
        if none_p is None:
            return ranked, None
        best = {name: max((m.confidence for m in side.values()), default=0.0)
                for name, side in (("pair_max", pair), ("first_max", scored), ("second_max", other))}
        return ranked, {**best, "none_p": none_p, "capped": capped, "chars": len(query),
                        "routine": routine_log_lines(query)}

    @staticmethod
    def _accepted(ranked: Sequence[RunbookMatch], acceptance: Mapping[str, Any], model: Calibration
                  ) -> list[RunbookMatch]:
        """The acceptance model on each ranked runbook: ``acceptance`` is the fitted probability that the text is
        one a runbook covers, read from the opinions' confidence in it and the query-level inputs
        (:data:`ACCEPTANCE_FEATURES`); the bar applies to the top runbook's. ``confidence`` stays the opinions'
        (what the analysts weigh, on the scale their thresholds were set for), and so does the ranking. A runbook
        either model capped (excluded look-alike, too few words) keeps the cap, and a text longer than any the
        model was fitted on (:data:`ACCEPTANCE_MAX_CHARS`), or one of nothing but routine log lines
        (:func:`~aisre.knowledge.text.routine_log_lines`: the model never saw a healthy service's output), gets no
        lift: there the acceptance is at most the confidence."""
        out = []
        no_lift = acceptance.get("chars", 0) > ACCEPTANCE_MAX_CHARS or acceptance.get("routine", False)
        for m in ranked:
            p = model.confidence({**acceptance, "opinions": m.confidence})
            if no_lift or m.runbook_id in acceptance.get("capped", ()):
                p = min(p, m.confidence)
            note = (f"acceptance model: {p:.2f} from the opinions' {m.confidence:.2f} (classifier 'none' "
                    f"{acceptance['none_p']:.2f}, best pair {acceptance['pair_max']:.2f})")
            out.append(dataclasses.replace(m, acceptance=round(p, 4), reasons=(*m.reasons, note)))
        return out

    def _with_classifier(self, pair: Mapping[str, RunbookMatch], text: str, capped: set[str]
                         ) -> tuple[dict[str, RunbookMatch], float | None]:
        """Three opinions on ``text`` (the query as the models read it, signatures and alerts included, so its
        vectors are the ones just computed): the two models' mean (``pair``) weighs 2, the classifier's
        probability 1. A runbook
        capped in either model (excluded look-alike, too few words) keeps the cap: the classifier's vote for
        it is cut to the pair's confidence. The classifier's top runbooks join the candidates."""
        assert self.second_opinion is not None and self.classifier is not None
        vecs = [self._embed_query(text), self.second_opinion._embed_query(text)]
        if any(v is None for v in vecs):
            return dict(pair), None
        proba = self.classifier.proba(np.concatenate(vecs))
        ranked = sorted((lab for lab in proba if lab != "none" and lab in self._by_id), key=lambda lab: -proba[lab])
        out: dict[str, RunbookMatch] = {}
        for rid in (*pair, *(r for r in ranked[:3] if r not in pair)):
            base = pair.get(rid)
            two = base.confidence if base else 0.0
            p = proba.get(rid, 0.0)
            if rid in capped:
                p = min(p, two)
            note = f"labelled-text classifier: probability {p:.2f} ({proba.get('none', 0.0):.2f} none)"
            if base is None:
                base = RunbookMatch(runbook_id=rid, score=0.0, confidence=0.0, reasons=(),
                                    title=self._by_id[rid].title)
            out[rid] = dataclasses.replace(base, confidence=round((2 * two + p) / 3, 4), reasons=(*base.reasons, note))
        return out, proba.get("none", 0.0)


def _model_query(text: str | None, signatures: Sequence[str] = (), alerts: Sequence[str] = ()) -> str:
    """What the models read: the text (cut to :data:`MAX_QUERY_CHARS`) with the signal signatures and alert
    names (500 characters each) appended."""
    return " ".join([(text or "")[:MAX_QUERY_CHARS], *(str(s)[:500] for s in signatures or ()),
                     *(str(a)[:500] for a in alerts or ())])


def _pair(mine: Mapping[str, RunbookMatch], other: Mapping[str, RunbookMatch], other_name: str
          ) -> dict[str, RunbookMatch]:
    """Both models' opinions on every runbook either considered: the mean confidence, this model's reasons and
    score (the other's when only it considered the runbook), and a reason naming both confidences. A cap
    (exclusion, too-short query) holds for the pair: it is the same in both models, so the mean keeps it."""
    out: dict[str, RunbookMatch] = {}
    for rid in (*mine, *(r for r in other if r not in mine)):
        a, b = mine.get(rid), other.get(rid)
        ca, cb = (a.confidence if a else 0.0), (b.confidence if b else 0.0)
        base = a or b
        note = f"second opinion ({other_name}): confidence {cb:.2f}, this model {ca:.2f}"
        out[rid] = dataclasses.replace(base, confidence=round((ca + cb) / 2, 4),
                                       reasons=(*base.reasons, note))
    return out


def _best_per_target(values: np.ndarray, cand: Iterable[int], target_of: Sequence[str]) -> dict[str, float]:
    best: dict[str, float] = {}
    for i in cand:
        t = target_of[i]
        best[t] = max(best.get(t, float("-inf")), float(values[i]))
    return best


_NON_INCIDENTS: tuple[str, ...] | None = None


def _non_incident_texts(path: Path = NON_INCIDENTS_PATH) -> tuple[str, ...]:
    """The shipped counter-examples (cached per process); a missing or broken file means none, with a warning."""
    global _NON_INCIDENTS
    if _NON_INCIDENTS is None:
        import yaml  # noqa: PLC0415
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            _NON_INCIDENTS = tuple(str(t)[:300] for t in data.get("examples", ()) if isinstance(t, str) and t.strip())
        except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
            log.warning("non-incident counter-examples unavailable (%s): confidence uses runbook evidence only", exc)
            _NON_INCIDENTS = ()
    return _NON_INCIDENTS


def incident_query(incident: Any) -> dict[str, Any]:
    """The ``search`` arguments for an :class:`~aisre.models.Incident` (or anything with ``.signals``).

    Text = the signal summaries (and the diagnosis summary if present); signatures = signal signatures;
    alerts = names of alert signals; metrics = ``name:anomaly_class`` of metric signals.
    """
    signals = list(getattr(incident, "signals", ()) or ())[:20]
    texts = [s.summary for s in signals if s.summary]
    diag = getattr(incident, "diagnosis", None)
    if diag is not None and diag.summary:
        texts.insert(0, diag.summary)
    metrics = []
    for s in signals:
        if s.kind == "metric" and s.name:
            cls = s.anomaly_class.value if s.anomaly_class else ""
            metrics.append(f"{s.name}:{cls}" if cls else s.name)
    return {
        "text": " | ".join(dict.fromkeys(texts))[:MAX_QUERY_CHARS],
        "service": getattr(incident, "service", None) or None,
        "signatures": tuple(dict.fromkeys(s.signature for s in signals if s.signature)),
        "alerts": tuple(dict.fromkeys(s.name for s in signals if s.kind == "alert" and s.name)),
        "metrics": tuple(dict.fromkeys(metrics)),
    }


def build_retriever(config: Any = None, *, store: Any = None, embedding: Any = None) -> Retriever:
    """The configured retriever: runbooks from ``knowledge.runbooks_dir`` (default: the pack's ``knowledge/``).

    With ``knowledge.store_dir`` or ``knowledge.chroma_url`` set (or ``store`` given) the vector part and the
    recorded incidents come from Chroma; otherwise vectors are kept in memory.
    """
    from aisre.config import DEFAULT_KNOWLEDGE_DIR  # noqa: PLC0415
    from aisre.knowledge.loader import load_labelled, load_runbooks  # noqa: PLC0415
    from aisre.knowledge.store import open_store  # noqa: PLC0415

    if config is None:
        knowledge: Mapping[str, Any] = {}
        runbooks_dir = DEFAULT_KNOWLEDGE_DIR
    elif isinstance(config, Mapping):
        knowledge = config.get("knowledge", config)
        runbooks_dir = knowledge.get("runbooks_dir") or DEFAULT_KNOWLEDGE_DIR
    else:
        knowledge = config.knowledge
        runbooks_dir = config.knowledge_dir
    emb = embedding or knowledge.get("embedding") or "auto"
    if store is None and (knowledge.get("store_dir") or knowledge.get("chroma_url")):
        store = open_store(knowledge, embedding=None if isinstance(emb, str) else emb)
    have_dir = bool(runbooks_dir) and Path(runbooks_dir).exists()
    runbooks = load_runbooks(runbooks_dir) if have_dir else None
    labelled = load_labelled(runbooks_dir) if have_dir and knowledge.get("labelled", True) else []
    mc = knowledge.get("min_confidence")
    second = knowledge.get("second_opinion", DEFAULT_SECOND_OPINION)
    if second in ("", "none", None, False):
        second = None
    elif second not in ("hashing", "minilm"):
        raise ConfigError(f"knowledge.second_opinion must be hashing, minilm or none, got {second!r}",
                          path="knowledge.second_opinion")
    return Retriever(runbooks, store=store, embedding=emb, min_confidence=None if mc is None else float(mc),
                     labelled=labelled, second_opinion=second, classifier=bool(knowledge.get("classifier", True)))
