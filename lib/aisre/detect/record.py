"""Seasonal record: score a seasonal deviation only when it is the largest seen in a long while.

``seasonal_profile`` answers "how far is this point from what this hour of the day usually
looks like?" — a *level* question, so a noisy or drifting series keeps scoring on every bad hour.
:class:`SeasonalRecord` turns it into an *onset* question: the deviation ``s`` (robust-z units
from the inner :class:`~aisre.detect.seasonal.SeasonalProfile`) scores ``gain * s`` only when it
beats the **peak** of the deviations learned so far, and the peak decays with a half-life of
``half_life_s`` seconds of series time (default 30 days). So the first hour that looks unlike the
same hour of earlier days by more than anything in the last weeks scores; repeats of a known
deviation do not. This catches the contextual anomalies a level/transition novelty misses (a busy
night in a quiet-night series, a flat day in a daily cycle) without charging every noisy hour.

The profile's first ``settle_periods`` periods (default one day) only train it: its early
per-bucket estimates rest on a handful of points, and a peak learned from them would mask real
anomalies for weeks. Needs timestamps (the inner profile is keyed by time of day and the peak decays in series time);
without a timestamp a point scores 0 and is not learned by the profile.
"""
from __future__ import annotations

from typing import Any

from aisre.detect._stream import StreamingDetector, number_in, positive_int
from aisre.detect.seasonal import SeasonalProfile


class SeasonalRecord(StreamingDetector):
    name = "seasonal_record"
    PARAMS = ("period_s", "bucket_s", "alpha", "min_per_bucket", "half_life_s", "gain", "settle_periods")

    def __init__(self, period_s: int = 86400, bucket_s: int = 3600, alpha: float = 0.1,
                 min_per_bucket: int = 3, half_life_s: float = 30 * 86400.0, gain: float = 1.0,
                 settle_periods: float = 1.0) -> None:
        self.period_s = positive_int("period_s", period_s, 60)
        self.bucket_s = positive_int("bucket_s", bucket_s, 1)
        self.alpha = number_in("alpha", alpha, 1e-6, 1.0)
        self.min_per_bucket = positive_int("min_per_bucket", min_per_bucket, 1)
        self.half_life_s = number_in("half_life_s", half_life_s, 1.0, 1e10)
        self.gain = number_in("gain", gain, 1e-6, 1e6)
        self.settle_periods = number_in("settle_periods", settle_periods, 0.0, 1e6)
        self._first_ts: float | None = None
        self._profile = SeasonalProfile(self.period_s, self.bucket_s, self.alpha, self.min_per_bucket)
        self._peak = 0.0
        self._peak_ts: float | None = None

    def _decayed_peak(self, ts: float | None) -> float:
        if ts is None or self._peak_ts is None or ts <= self._peak_ts:
            return self._peak
        return self._peak * 0.5 ** ((ts - self._peak_ts) / self.half_life_s)

    def _settled(self, ts: float) -> bool:
        """The profile has seen ``settle_periods`` periods: its early, noisy estimates are over."""
        return self._first_ts is not None and ts - self._first_ts >= self.settle_periods * self.period_s

    def _learn(self, v: float, ts: float | None) -> None:
        if ts is None:
            return
        if self._first_ts is None:
            self._first_ts = ts
        if not self._settled(ts):
            self._profile.learn_one(v, ts)
            return
        s = self._profile.score_one(v, ts)
        self._peak = max(self._decayed_peak(ts), s)
        self._peak_ts = ts
        self._profile.learn_one(v, ts)

    def _score(self, v: float, ts: float | None) -> float:
        if ts is None or not self._settled(ts):
            return 0.0
        s = self._profile.score_one(v, ts)
        return self.gain * s if s > self._decayed_peak(ts) else 0.0

    def _band(self, ts: float | None):
        return self._profile.band(ts)

    def _get_state(self) -> dict[str, Any]:
        return {"_peak": self._peak, "_peak_ts": self._peak_ts, "_first_ts": self._first_ts,
                "_profile": self._profile.to_state()}

    def _set_state(self, state: dict[str, Any]) -> None:
        self._peak = float(state.get("_peak", 0.0))
        pts = state.get("_peak_ts")
        self._peak_ts = None if pts is None else float(pts)
        fts = state.get("_first_ts")
        self._first_ts = None if fts is None else float(fts)
        if "_profile" in state:
            self._profile = SeasonalProfile.from_state(state["_profile"])
