"""Batch seasonal baselines: Prophet and Holt-Winters, fit on history, score new points by their band.

Contract (batch adapter): ``fit(points) -> self``; ``score(points) -> list[float]`` (>= 0, distance
outside the band in half-band widths, 0 inside); ``band(points) -> list[(expected, lower, upper)]``.
``points`` are ``(ts, value)`` pairs, epoch seconds. Non-finite points are dropped before fitting;
scoring a non-finite value gives 0. Both libraries are imported lazily (they are heavy), and
cmdstanpy's INFO logging is silenced.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Iterable, Sequence

import numpy as np

from aisre.detect._stream import clean
from aisre.errors import ValidationError


def _clean(points: Iterable[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    ts, vs = [], []
    for p in points:
        try:
            t, v = clean(p[0]), clean(p[1])
        except (TypeError, IndexError):
            continue
        if t is not None and v is not None:
            ts.append(t)
            vs.append(v)
    t = np.asarray(ts, float)
    order = np.argsort(t, kind="stable")
    return t[order], np.asarray(vs, float)[order]


def _band_score(values: np.ndarray, exp: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[float]:
    half = np.maximum((hi - lo) / 2.0, 1e-9 + 1e-6 * np.abs(exp))
    over = np.where(values > hi, (values - hi) / half, np.where(values < lo, (lo - values) / half, 0.0))
    over = np.where(np.isfinite(over), over, 0.0)
    return [float(min(x, 1e6)) for x in over]


def _quiet() -> None:
    """Silence cmdstanpy's INFO chatter and prophet's 'plotly missing' notice."""
    for name, level in (("cmdstanpy", logging.WARNING), ("prophet", logging.WARNING),
                        ("prophet.plot", logging.CRITICAL)):
        logging.getLogger(name).setLevel(level)


class ProphetBand:
    """Prophet's ``yhat_lower``/``yhat_upper`` band as the expected range.

    ``min_points`` points are needed to fit (else ValidationError). ``uncertainty_samples`` is kept
    low (100) because full-history prediction with the default 1000 is 10x slower.
    """

    name = "prophet"

    def __init__(self, interval_width: float = 0.99, daily_seasonality: bool = True,
                 weekly_seasonality: bool = False, uncertainty_samples: int = 100,
                 min_points: int = 50) -> None:
        self.interval_width = interval_width
        self.daily_seasonality = daily_seasonality
        self.weekly_seasonality = weekly_seasonality
        self.uncertainty_samples = uncertainty_samples
        self.min_points = min_points
        self._model: Any = None

    def fit(self, points: Iterable[Sequence[float]]) -> "ProphetBand":
        import pandas as pd
        _quiet()
        from prophet import Prophet
        _quiet()

        t, v = _clean(points)
        if len(t) < self.min_points:
            raise ValidationError(f"prophet needs >= {self.min_points} points, got {len(t)}", what="points")
        df = pd.DataFrame({"ds": pd.to_datetime(t, unit="s"), "y": v})
        m = Prophet(interval_width=self.interval_width, daily_seasonality=self.daily_seasonality,
                    weekly_seasonality=self.weekly_seasonality, yearly_seasonality=False,
                    uncertainty_samples=self.uncertainty_samples)
        log = logging.getLogger("cmdstanpy")
        was = log.disabled
        log.disabled = True                  # cmdstanpy resets its level to INFO when it runs
        try:
            m.fit(df)
        finally:
            log.disabled = was
        self._model = m
        return self

    def band(self, points: Iterable[Sequence[float]]) -> list[tuple[float, float, float]]:
        import pandas as pd
        if self._model is None:
            raise ValidationError("fit() before band()/score()", what="prophet")
        ts = [clean(p[0]) for p in points]
        ok = [t for t in ts if t is not None]
        if not ok:
            return []
        fc = self._model.predict(pd.DataFrame({"ds": pd.to_datetime(np.asarray(ok), unit="s")}))
        rows = list(zip(fc["yhat"].to_numpy(float), fc["yhat_lower"].to_numpy(float), fc["yhat_upper"].to_numpy(float)))
        it = iter(rows)
        return [next(it) if t is not None else (math.nan, math.nan, math.nan) for t in ts]

    def score(self, points: Iterable[Sequence[float]]) -> list[float]:
        pts = list(points)
        if not pts:
            return []
        b = np.asarray(self.band(pts), float)
        vals = np.asarray([clean(p[1]) if clean(p[1]) is not None else math.nan for p in pts], float)
        return _band_score(vals, b[:, 0], b[:, 1], b[:, 2])


class HoltWintersBand:
    """Additive Holt-Winters (statsmodels) on a downsampled series; band = forecast ± z * residual sd.

    ``step_s``: resampling step (mean per bucket) before fitting — Holt-Winters on 1-minute data is
    slow; ``season_s`` the season length (daily by default). Scoring looks up the forecast/fitted
    value of the bucket a point falls in.
    """

    name = "holt_winters"

    def __init__(self, step_s: int = 300, season_s: int = 86400, z: float = 3.0,
                 horizon_s: int = 86400) -> None:
        if step_s <= 0 or season_s % step_s:
            raise ValidationError("season_s must be a multiple of step_s", what="step_s")
        self.step_s = step_s
        self.season_s = season_s
        self.z = z
        self.horizon_s = horizon_s
        self._t0 = 0.0
        self._curve: np.ndarray | None = None
        self._sd = 0.0

    def fit(self, points: Iterable[Sequence[float]]) -> "HoltWintersBand":
        import warnings
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        t, v = _clean(points)
        period = self.season_s // self.step_s
        if len(t) == 0:
            raise ValidationError("holt-winters needs points", what="points")
        self._t0 = float(t[0] - t[0] % self.step_s)
        idx = ((t - self._t0) // self.step_s).astype(int)
        n = int(idx[-1]) + 1
        sums = np.bincount(idx, weights=v, minlength=n)
        cnt = np.bincount(idx, minlength=n)
        y = np.divide(sums, cnt, out=np.full(n, np.nan), where=cnt > 0)
        if np.isnan(y).any():               # fill gaps by interpolation
            good = ~np.isnan(y)
            y = np.interp(np.arange(n), np.flatnonzero(good), y[good])
        if n < 2 * period + 2:
            raise ValidationError(f"holt-winters needs >= 2 seasons ({2 * period + 2} buckets), got {n}",
                                  what="points")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ExponentialSmoothing(y, trend="add", seasonal="add", seasonal_periods=period,
                                       initialization_method="estimated").fit()
        fitted = np.asarray(res.fittedvalues, float)
        fc = np.asarray(res.forecast(max(1, self.horizon_s // self.step_s)), float)
        self._curve = np.concatenate([fitted, fc])
        resid = y - fitted
        self._sd = float(np.std(resid)) if len(resid) > 1 else 0.0
        return self

    def band(self, points: Iterable[Sequence[float]]) -> list[tuple[float, float, float]]:
        if self._curve is None:
            raise ValidationError("fit() before band()/score()", what="holt_winters")
        out = []
        w = self.z * max(self._sd, 1e-9)
        for p in points:
            t = clean(p[0])
            if t is None:
                out.append((math.nan, math.nan, math.nan))
                continue
            k = int((t - self._t0) // self.step_s)
            if k < 0 or k >= len(self._curve):
                out.append((math.nan, math.nan, math.nan))
                continue
            e = float(self._curve[k])
            out.append((e, e - w, e + w))
        return out

    def score(self, points: Iterable[Sequence[float]]) -> list[float]:
        pts = list(points)
        if not pts:
            return []
        b = np.asarray(self.band(pts), float)
        vals = np.asarray([clean(p[1]) if clean(p[1]) is not None else math.nan for p in pts], float)
        return _band_score(vals, b[:, 0], b[:, 1], b[:, 2])


BATCH = {ProphetBand.name: ProphetBand, HoltWintersBand.name: HoltWintersBand}
