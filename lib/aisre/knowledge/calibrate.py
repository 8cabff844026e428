"""Fit the retriever's confidence model on labelled queries (logistic regression in numpy).

Each labelled query yields one row: the features of its top-ranked candidate, labelled 1 when that is
the expected runbook and 0 otherwise (always 0 for a ``none`` query). The fitted weights make
``confidence`` the probability that the top-ranked runbook is right; the acceptance threshold is then picked
on the same (dev) queries to maximise end-to-end accuracy, where "none" must come back as ``best is None``
(for text, among the bars that meet the "none" precision target there, when any does).

Two models live in ``data/calibration.json``: :func:`fit_calibration` (``bench/retrieval.py --fit``, every
labelled text, leave-one-out) for queries with metric evidence, and :func:`fit_calibration_grouped`
(``--fit-text``, texts without metrics, leave-one-set-out) for text alone. Beside them, the bar of two
opinions (:func:`fit_pair_bar`) and the three opinions' acceptance model (:func:`fit_acceptance`). The
held-out (blind test) sets are never used for fitting.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from aisre.knowledge.retriever import (ACCEPTANCE_FEATURES, CALIBRATION_PATH, FEATURES, Calibration, Retriever,
                                      _linked_runbook, calibration_key)


Labelled = Sequence[tuple[str, str, Sequence[Any]]]


def _rows(retriever: Retriever, labelled: Labelled) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for text, expect, metrics in labelled:
        cands = retriever.candidates(text, metrics=metrics)
        if not cands:
            continue
        top = max(cands, key=lambda c: c.fused)
        target = _linked_runbook(top.entry) or top.entry.id
        xs.append([top.features[f] for f in FEATURES])
        ys.append(1.0 if target == expect else 0.0)
    return np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64)


def fit_weights(x: np.ndarray, y: np.ndarray, l2: float = 0.001, iters: int = 5000, lr: float = 1.0,
                names: Sequence[str] = FEATURES) -> dict[str, float]:
    """L2-regularised logistic regression by full-batch gradient descent.

    Features are standardised for the fit (so one step size suits them all) and the weights are mapped
    back to the raw scale, so :meth:`Calibration.confidence` applies them to raw features unchanged.
    """
    n, d = x.shape
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-9] = 1.0                                   # a constant feature keeps weight 0
    xb = np.hstack([np.ones((n, 1)), (x - mu) / sd])
    w = np.zeros(d + 1)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -40, 40)))
        grad = xb.T @ (p - y) / n
        grad[1:] += l2 * w[1:]
        w -= lr * grad
    raw = w[1:] / sd
    bias = w[0] - float(np.sum(raw * mu))
    return {"bias": float(bias), **{f: float(v) for f, v in zip(names, raw)}}


def _top_answers(retriever: Retriever, labelled: Labelled) -> list[tuple[float, str, str]]:
    """(confidence, top-ranked runbook or "none", expected) per labelled text, with the retriever's models."""
    out = []
    for text, expect, metrics in labelled:
        res = retriever.search(text, k=1, metrics=metrics)
        top = res.matches[0] if res.matches else None
        out.append((top.confidence if top else 0.0, top.runbook_id if top else "none", expect))
    return out


#: The issue's target for "none" precision; text bars are chosen to meet it on dev where they can (round 11).
NONE_PRECISION_TARGET = 0.95


def _choose_bar(tops: Sequence[tuple[float, str, str]], none_precision: float | None = None) -> float:
    """The bar (0.30..0.80, ties: the higher) with the most right answers: the top runbook when accepted,
    "none" when rejected. Plain accuracy also for the text model: a text-only match never acts by itself (the
    analyst proposes a fix only on independent evidence - an alert, a signature, a metric, the change).

    With ``none_precision``, only bars at which that share of the rejected texts are really ``none`` compete
    (the most accurate of them wins): a covered incident rejected as unknown pages a human for a problem the
    team has a runbook for, which is what the precision target guards. When no bar meets it, plain accuracy
    decides, as without it."""
    grid = [float(t) for t in np.round(np.arange(0.30, 0.81, 0.05), 2)]
    scored = []
    for t in grid:
        ok = sum((c >= t and got == want) or (c < t and want == "none") for c, got, want in tops)
        rejected = [want for c, _, want in tops if c < t]
        precision = sum(w == "none" for w in rejected) / len(rejected) if rejected else 1.0
        scored.append((t, ok, precision))
    feasible = [row for row in scored if none_precision is None or row[2] >= none_precision] or scored
    return max(feasible, key=lambda row: (row[1], row[0]))[0]


def _probe(retriever: Retriever, weights: Mapping[str, float]) -> None:
    """Give ``retriever`` one unrounded model for both kinds of query while its bar is chosen."""
    retriever.calibration = retriever.text_calibration = Calibration(weights=weights, threshold=0.5,
                                                                    embedding=retriever.embedding_name)


def fit_calibration(retriever: Retriever, labelled: Labelled, note: str = "") -> Calibration:
    """Fit the model for queries with metric evidence on ``(text, expected runbook id or "none", metrics)``
    triples (every labelled text, leave-one-out); the bar is the one with the best accuracy."""
    x, y = _rows(retriever, labelled)
    weights = fit_weights(x, y)
    text_calibration = retriever.text_calibration
    _probe(retriever, weights)
    best_t = _choose_bar(_top_answers(retriever, labelled))
    cal = Calibration(weights={k: round(v, 4) for k, v in weights.items()}, threshold=best_t,
                      embedding=retriever.embedding_name, fitted_on=note)
    retriever.calibration, retriever.text_calibration = cal, text_calibration
    return cal


def evidence_without(groups: Mapping[str, Labelled], name: str) -> list[tuple[str, str]]:
    """The ``(text, label)`` pairs of every labelled set except ``name``: what a retriever may know when that
    set is scored as a new author's text (leave-one-set-out)."""
    return [(t, e) for other, data in groups.items() if other != name for t, e, *_ in data]


def _bar_on(views: Mapping[str, Retriever], groups: Mapping[str, Labelled],
            bar_groups: Collection[str] | None, none_precision: float | None = None) -> float:
    """The bar chosen on the answers of ``bar_groups`` (default: all), each set through its own view."""
    tops = [a for name, data in groups.items() if bar_groups is None or name in bar_groups
            for a in _top_answers(views[name], data)]
    if not tops:
        raise ValueError(f"no labelled texts to choose the bar on (bar_groups {sorted(bar_groups or [])})")
    return _choose_bar(tops, none_precision)


def fit_calibration_grouped(make_retriever: Callable[[list[tuple[str, str]]], Retriever],
                            groups: Mapping[str, Labelled], note: str = "",
                            bar_groups: Collection[str] | None = None,
                            none_precision: float | None = None) -> Calibration:
    """Fit the text model on labelled sets, each seen through a retriever whose evidence holds only the *other* sets.

    ``make_retriever(evidence)`` builds a retriever with ``evidence`` (``(text, label)`` pairs) as its labelled
    texts. Leaving a whole set out (not just the text itself) is what a new author's text meets: texts of one
    author resemble each other, so with their siblings as neighbours the features look better than they will
    on the next team's alerts. Weights are fitted on the pooled rows, the bar on the pooled answers of
    ``bar_groups`` (default: all). Pass the sets that never shaped the runbooks' vocabulary: the misses of the
    others were written into runbook keywords, examples and patterns, so even left out their texts score
    higher than a new author's will (round 8, leave-one-set-out top-1: 0.969 on those five sets, 0.930 on the
    seven untouched ones), and a bar chosen on them is set for text the runbooks already know.
    ``none_precision``: see :func:`_choose_bar`.
    """
    views = {name: make_retriever(evidence_without(groups, name)) for name in groups}
    xs, ys = zip(*(_rows(views[name], data) for name, data in groups.items()))
    weights = fit_weights(np.vstack([x for x in xs if len(x)]), np.concatenate(ys))
    for view in views.values():
        _probe(view, weights)
    return Calibration(weights={k: round(v, 4) for k, v in weights.items()},
                       threshold=_bar_on(views, groups, bar_groups, none_precision),
                       embedding=next(iter(views.values())).embedding_name, fitted_on=note)


def fit_pair_bar(make_retriever: Callable[[list[tuple[str, str]]], Retriever], groups: Mapping[str, Labelled],
                 note: str = "", bar_groups: Collection[str] | None = None,
                 none_precision: float | None = None) -> Calibration:
    """Choose the bar of a retriever with a second opinion (the opinions' mean confidence decides text alone).

    The models keep their own fitted weights; only the bar is chosen, leave-one-set-out exactly like
    :func:`fit_calibration_grouped` (each set through a view whose evidence excludes it; answers of
    ``bar_groups`` only). Saved under ``<ensemble name>:text`` with no weights.
    """
    names = [name for name in groups if bar_groups is None or name in bar_groups]
    views = {name: make_retriever(evidence_without(groups, name)) for name in names}
    if any(v.second_opinion is None for v in views.values()):
        raise ValueError("fit_pair_bar needs retrievers with a second opinion")
    bar = _bar_on(views, {n: groups[n] for n in names}, None, none_precision)
    return Calibration(weights={}, threshold=bar, embedding=next(iter(views.values())).ensemble_name,
                       fitted_on=note)


def fit_acceptance(make_retriever: Callable[[list[tuple[str, str]]], Retriever], groups: Mapping[str, Labelled],
                   note: str = "", bar_groups: Collection[str] | None = None,
                   none_precision: float | None = None) -> Calibration:
    """Fit the three opinions' acceptance model and its bar (rounds 13-15), leave-one-set-out.

    Each set is seen through a retriever whose evidence holds only the other sets (as in
    :func:`fit_calibration_grouped`). Per text: the opinions' top runbook and the model's inputs
    (:data:`~aisre.knowledge.retriever.ACCEPTANCE_FEATURES`), labelled 1 when a runbook covers the text (its
    label is not ``none``). Which runbook stays the opinions' ranking; this model only answers whether to accept
    it, from more than the top confidence alone. Weights are fitted on every set's rows; the bar is chosen on the
    answers of ``bar_groups`` (see :func:`_choose_bar`). Saved under ``<ensemble name>:text``.
    """
    views = {name: make_retriever(evidence_without(groups, name)) for name in groups}
    if any(v.classifier is None for v in views.values()):
        raise ValueError("fit_acceptance needs retrievers with a second opinion and the classifier")
    rows = []                                   # (top match or None, its query-level inputs, expected, set)
    for name, data in groups.items():
        for text, expect, *_ in data:
            ranked, inputs = views[name].text_opinions(text)
            found = bool(ranked) and inputs is not None              # else nothing to accept: "none" at any bar
            rows.append((ranked[0] if found else None, inputs, expect, name))
    fit = [(top, inputs, expect) for top, inputs, expect, _ in rows if top is not None]
    if not fit:
        raise ValueError("no labelled texts to fit the acceptance model on")
    x = np.array([[{**inputs, "opinions": top.confidence}[f] for f in ACCEPTANCE_FEATURES] for top, inputs, _ in fit])
    weights = fit_weights(x, np.array([float(expect != "none") for _, _, expect in fit]), names=ACCEPTANCE_FEATURES)
    model = Calibration(weights=weights)
    tops = []                                   # what search decides: the same caps and no-lift rules
    for top, inputs, expect, name in rows:
        if bar_groups is None or name in bar_groups:
            accepted = Retriever._accepted([top], inputs, model)[0] if top is not None else None
            tops.append((accepted.acceptance if accepted else 0.0, top.runbook_id if top else "none", expect))
    if not tops:
        raise ValueError(f"no labelled texts to choose the bar on (bar_groups {sorted(bar_groups or [])})")
    return Calibration(weights={k: round(v, 4) for k, v in weights.items()},
                       threshold=_choose_bar(tops, none_precision),
                       embedding=next(iter(views.values())).ensemble_name, fitted_on=note)


def save_calibration(cal: Calibration, path: Path = CALIBRATION_PATH, kind: str = "incident") -> None:
    """Merge ``cal`` into the calibration file under its embedding name (``<name>:text`` for the text model)."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
    data[calibration_key(cal.embedding, kind)] = cal.to_dict()
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
