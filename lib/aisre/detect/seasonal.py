"""Seasonal profile: a robust running baseline per time-of-day (or time-of-week) bucket."""
from __future__ import annotations

import math

from aisre.detect._stream import StreamingDetector, number_in, positive_int, scale_floor


class SeasonalProfile(StreamingDetector):
    """Per-bucket EW mean and EW mean absolute deviation; needs timestamps.

    ``period_s`` = 86400 (daily) or 604800 (weekly); ``bucket_s`` the bucket width. A bucket scores
    once it has ``min_per_bucket`` points; before that (and without a timestamp) the score is 0.
    ``score = |x - mean_b| / (1.2533 * mad_b)`` (1.2533 turns a mean absolute deviation into an
    sd for Gaussian noise).
    """

    name = "seasonal_profile"
    PARAMS = ("period_s", "bucket_s", "alpha", "min_per_bucket", "rel_floor", "abs_floor")
    STATE = ("_buckets",)

    def __init__(self, period_s: int = 86400, bucket_s: int = 3600, alpha: float = 0.1,
                 min_per_bucket: int = 3, rel_floor: float = 1e-3, abs_floor: float = 1e-9) -> None:
        self.period_s = positive_int("period_s", period_s, 60)
        self.bucket_s = positive_int("bucket_s", bucket_s, 1)
        if self.bucket_s > self.period_s:
            self.bucket_s = self.period_s
        self.alpha = number_in("alpha", alpha, 1e-6, 1.0)
        self.min_per_bucket = positive_int("min_per_bucket", min_per_bucket, 1)
        self.rel_floor = number_in("rel_floor", rel_floor, 0.0, 1.0)
        self.abs_floor = number_in("abs_floor", abs_floor, 0.0, 1e300)
        self._buckets: dict[str, list[float]] = {}      # key -> [n, mean, mad]  (str keys: JSON-safe)

    def _key(self, ts: float) -> str:
        return str(int((ts % self.period_s) // self.bucket_s))

    def _learn(self, v: float, ts: float | None) -> None:
        if ts is None:
            return
        b = self._buckets.get(self._key(ts))
        if b is None:
            self._buckets[self._key(ts)] = [1, v, 0.0]
            return
        n, mean, mad = b
        n += 1
        a = max(self.alpha, 1.0 / n)
        dev = abs(v - mean)
        mad = dev if n == 2 else mad + a * (dev - mad)
        mean += a * (v - mean)
        b[0], b[1], b[2] = n, mean, mad if math.isfinite(mad) else 1e300

    def _stats(self, ts: float | None):
        if ts is None:
            return None
        b = self._buckets.get(self._key(ts))
        if b is None or b[0] < self.min_per_bucket:
            return None
        scale = max(1.2533 * b[2], scale_floor(b[1], self.rel_floor, self.abs_floor))
        return b[1], scale

    def _score(self, v: float, ts: float | None) -> float:
        st = self._stats(ts)
        if st is None:
            return 0.0
        return abs(v - st[0]) / st[1]

    def _band(self, ts: float | None, z: float = 3.0):
        st = self._stats(ts)
        if st is None:
            return (None, None, None)
        return (st[0], st[0] - z * st[1], st[0] + z * st[1])

    def _get_state(self):
        return {"_buckets": {k: list(v) for k, v in self._buckets.items()}}

    def _set_state(self, state):
        self._buckets = {str(k): [int(v[0]), float(v[1]), float(v[2])] for k, v in state.get("_buckets", {}).items()}
