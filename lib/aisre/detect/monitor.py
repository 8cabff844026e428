"""SeriesMonitor: one metric series -> detector -> calibration -> alarm rule -> :class:`Anomaly`.

What the metric sensor and the standalone agent call for every new point::

    m = SeriesMonitor(series="checkout:memory_pct", service="checkout", metric="memory_pct",
                      capacity=100.0)
    anomaly = m.observe(ts, value)          # Anomaly | None
    m2 = SeriesMonitor.from_state(m.to_state())   # JSON-safe; same future output

The alarm rule, in order, for each point:

1. Hygiene: non-finite values are skipped (never learned); a ``ts`` older than or equal to the
   last one is ignored (out-of-order / duplicate points).
2. Score: the detector's raw score is calibrated to [0, 1] (``erf(z/sqrt 2)``); a point is a *hit*
   when the calibrated score >= ``threshold`` and it deviates in ``direction`` (up/down/both).
3. N-of-M: an alarm needs ``min_consecutive`` hits among the last ``of_last`` points.
4. Trend: the last ``trend_points`` points are tested for a monotone climb (Mann–Kendall S
   statistic, normalised) whose Theil–Sen rise over the window exceeds ``trend_min_rise`` noise
   scales. With ``capacity`` set, a trend whose forecast exhaustion is within
   ``exhaustion_horizon_s`` alarms even without detector hits.
5. Class: ``trend`` if the trend test holds, else ``sustained`` when the episode (consecutive
   points with hits, allowing ``of_last - min_consecutive`` gaps) has lasted ``sustained_points``
   or more, else ``transient``.
6. Dedup: after an alarm the series is quiet for ``cooldown_s`` unless the class escalates
   (transient -> sustained -> trend).
7. Protect: hit points are not learned (an outage does not become the baseline) until the episode
   has lasted ``relearn_after`` points; then the detector adapts to the new level.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

from aisre.detect._stream import clean, positive_int
from aisre.detect.calibrate import gaussian
from aisre.detect.forecast import theil_sen, time_to_exhaustion
from aisre.detect.registry import detector_from_state, make_detector
from aisre.errors import ValidationError
from aisre.models import Anomaly, AnomalyClass

_RANK = {AnomalyClass.TRANSIENT: 0, AnomalyClass.SUSTAINED: 1, AnomalyClass.TREND: 2}


class SeriesMonitor:
    PARAMS = ("series", "service", "metric", "detector", "params", "threshold", "direction", "capacity",
              "min_consecutive", "of_last", "cooldown_s", "protect", "sustained_points", "trend_points",
              "trend_min_rise", "trend_mk", "exhaustion_horizon_s", "relearn_after", "window_points",
              "labels")

    def __init__(self, series: str, service: str = "", metric: str = "", detector: str = "default",
                 params: dict[str, Any] | None = None, threshold: float = 0.99, direction: str = "up",
                 capacity: float | None = None, min_consecutive: int = 3, of_last: int | None = None,
                 cooldown_s: float = 900.0, protect: bool = True, sustained_points: int = 3,
                 trend_points: int = 20, trend_min_rise: float = 4.0, trend_mk: float = 0.6,
                 exhaustion_horizon_s: float = 6 * 3600.0, relearn_after: int = 120,
                 window_points: int = 30, labels: dict[str, str] | None = None) -> None:
        if not isinstance(series, str) or not series:
            raise ValidationError("series must be a non-empty string", what="series")
        if direction not in ("up", "down", "both"):
            raise ValidationError(f"direction must be up, down or both, got {direction!r}", what="direction")
        th = clean(threshold)
        if th is None or not 0.0 < th < 1.0:
            raise ValidationError(f"threshold must be in (0, 1), got {threshold!r}", what="threshold")
        self.series, self.service, self.metric = series, service or "", metric or ""
        self.detector, self.params = detector, dict(params or {})
        self.threshold, self.direction = th, direction
        self.capacity = clean(capacity) if capacity is not None else None
        self.min_consecutive = positive_int("min_consecutive", min_consecutive)
        self.of_last = positive_int("of_last", of_last if of_last is not None else self.min_consecutive)
        if self.of_last < self.min_consecutive:
            raise ValidationError("of_last must be >= min_consecutive", what="of_last")
        self.cooldown_s = float(cooldown_s)
        self.protect = bool(protect)
        self.sustained_points = positive_int("sustained_points", sustained_points)
        self.trend_points = positive_int("trend_points", trend_points, 5)
        self.trend_min_rise = float(trend_min_rise)
        self.trend_mk = float(trend_mk)
        self.exhaustion_horizon_s = float(exhaustion_horizon_s)
        self.relearn_after = positive_int("relearn_after", relearn_after)
        self.window_points = positive_int("window_points", window_points, 2)
        self.labels = dict(labels or {})
        self.det = make_detector(detector, **self.params)
        self._hits: deque[int] = deque(maxlen=self.of_last)
        self._recent: deque[tuple[float, float]] = deque(maxlen=max(self.window_points, self.trend_points))
        self._last_ts: float | None = None
        self._onset_ts: float | None = None
        self._episode = 0          # points in the current episode
        self._misses = 0           # consecutive non-hits inside an episode
        self._last_alarm_ts: float | None = None
        self._last_alarm_rank = -1

    # ------------------------------------------------------------------------------------------
    def observe(self, ts: float, value: float) -> Anomaly | None:
        """Feed one point; return an :class:`Anomaly` when the alarm rule fires, else None."""
        t, v = clean(ts), clean(value)
        if t is None or v is None:
            return None
        if self._last_ts is not None and t <= self._last_ts:
            return None
        self._last_ts = t
        raw = self.det.score_one(v, t)
        expected, lower, upper = self.det.band(t)
        score = gaussian(raw)
        hit = score >= self.threshold and self._directional(v, expected)
        self._hits.append(1 if hit else 0)
        self._recent.append((t, v))
        if hit:
            if self._episode == 0:
                self._onset_ts = t
            self._episode += 1
            self._misses = 0
        elif self._episode:
            self._misses += 1
            if self._misses > self.of_last - self.min_consecutive:
                self._episode, self._misses, self._onset_ts = 0, 0, None
            else:
                self._episode += 1
        if not (hit and self.protect and self._episode < self.relearn_after):
            self.det.learn_one(v, t)

        trend = self._trend()
        n_of_m = sum(self._hits) >= self.min_consecutive
        exhaustion = None
        if trend is not None and self.capacity is not None:
            exhaustion = self._exhaustion()
        trend_alarm = (trend is not None and exhaustion is not None
                       and exhaustion - t <= self.exhaustion_horizon_s)
        if not (n_of_m or trend_alarm):
            return None
        if trend is not None:
            cls = AnomalyClass.TREND
        elif self._episode >= self.sustained_points:
            cls = AnomalyClass.SUSTAINED
        else:
            cls = AnomalyClass.TRANSIENT
        rank = _RANK[cls]
        if (self._last_alarm_ts is not None and t - self._last_alarm_ts < self.cooldown_s
                and rank <= self._last_alarm_rank):
            return None
        self._last_alarm_ts, self._last_alarm_rank = t, rank
        onset = self._onset_ts if self._onset_ts is not None else (trend if trend is not None else t)
        return Anomaly(
            series=self.series, service=self.service, metric=self.metric, ts=t, onset_ts=onset,
            value=v, expected=expected, lower=lower, upper=upper, score=round(score, 6),
            threshold=self.threshold, detector=self.det.name, anomaly_class=cls,
            direction=self._deviation(v, expected), exhaustion_ts=exhaustion,
            capacity=self.capacity, window=tuple(list(self._recent)[-self.window_points:]),
            labels=dict(self.labels))

    # ------------------------------------------------------------------------------------------
    def _directional(self, v: float, expected: float | None) -> bool:
        if self.direction == "both" or expected is None:
            return True
        return v > expected if self.direction == "up" else v < expected

    @staticmethod
    def _deviation(v: float, expected: float | None) -> str:
        return "down" if expected is not None and v < expected else "up"

    def _exhaustion(self) -> float | None:
        """Forecast over the trend window or its recent half, whichever climbs faster.

        A leak that started inside the window has flat points at its start that flatten the
        full-window slope; the recent half sees the current rate. The earlier forecast wins
        (the safer one for an operator).
        """
        pts = list(self._recent)[-self.trend_points:]
        way = "down" if self.direction == "down" else "up"
        etas = [time_to_exhaustion(p, self.capacity, way) for p in (pts, pts[len(pts) // 2:])]
        etas = [e for e in etas if e is not None]
        return min(etas) if etas else None

    def _trend(self) -> float | None:
        """Onset ts of a significant monotone trend in ``direction`` over the last trend_points, else None."""
        pts = list(self._recent)[-self.trend_points:]
        n = len(pts)
        if n < self.trend_points:
            return None
        vals = [p[1] for p in pts]
        s = 0
        for i in range(n - 1):
            vi = vals[i]
            for j in range(i + 1, n):
                d = vals[j] - vi
                s += (d > 0) - (d < 0)
        tau = s / (n * (n - 1) / 2)
        want = {"up": 1, "down": -1}.get(self.direction, 1 if tau >= 0 else -1)
        if tau * want < self.trend_mk:
            return None
        fit = theil_sen(pts)
        if fit is None:
            return None
        slope = fit[0]
        rise = slope * (pts[-1][0] - pts[0][0]) * want
        resid = sorted(abs(vals[k] - (fit[1] + slope * (pts[k][0] - pts[-1][0]))) for k in range(n))
        noise = max(1.4826 * resid[n // 2], 1e-9 + 1e-4 * abs(vals[-1]))
        if not math.isfinite(rise) or rise < self.trend_min_rise * noise:
            return None
        return pts[0][0]

    @classmethod
    def from_config(cls, service: str, metric: Any, detection: dict[str, Any] | None = None) -> "SeriesMonitor":
        """Build from ``services[].metrics[]`` (a :class:`aisre.config.MetricSpec` or its dict) and the
        ``detection`` config section (threshold, cooldown_minutes, min_consecutive, of_last, protect,
        exhaustion_horizon_minutes). The series key is ``"<service>:<metric name>"``."""
        get = (lambda k, d=None: metric.get(k, d)) if isinstance(metric, dict) else \
            (lambda k, d=None: getattr(metric, k, d))
        det = dict(detection or {})
        name = get("name")
        return cls(series=f"{service}:{name}", service=service, metric=name,
                   detector=get("detector", "default") or "default", params=dict(get("params", {}) or {}),
                   threshold=det.get("threshold", 0.99), direction=get("direction", "up") or "up",
                   capacity=get("capacity"), min_consecutive=int(det.get("min_consecutive", 3)),
                   of_last=det.get("of_last"), cooldown_s=60.0 * float(det.get("cooldown_minutes", 15)),
                   protect=bool(det.get("protect", True)),
                   exhaustion_horizon_s=60.0 * float(det.get("exhaustion_horizon_minutes", 360)))

    # ------------------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.PARAMS}

    def to_state(self) -> dict[str, Any]:
        return {"kind": "series_monitor", "v": 1, "config": self.config(),
                "detector_state": self.det.to_state(), "hits": list(self._hits),
                "recent": [list(p) for p in self._recent], "last_ts": self._last_ts,
                "onset_ts": self._onset_ts, "episode": self._episode, "misses": self._misses,
                "last_alarm_ts": self._last_alarm_ts, "last_alarm_rank": self._last_alarm_rank}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> "SeriesMonitor":
        if not isinstance(d, dict) or d.get("kind") != "series_monitor":
            raise ValidationError("not a SeriesMonitor state", what="monitor_state")
        m = cls(**d["config"])
        m.det = detector_from_state(d["detector_state"])
        m._hits.extend(int(h) for h in d.get("hits", ()))
        m._recent.extend((float(a), float(b)) for a, b in d.get("recent", ()))
        m._last_ts = d.get("last_ts")
        m._onset_ts = d.get("onset_ts")
        m._episode = int(d.get("episode", 0))
        m._misses = int(d.get("misses", 0))
        m._last_alarm_ts = d.get("last_alarm_ts")
        m._last_alarm_rank = int(d.get("last_alarm_rank", -1))
        return m
