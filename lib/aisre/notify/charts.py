"""Metric charts for reports: a PNG of the series, its expected band and the onset, via matplotlib Agg.

Deterministic: the same inputs give byte-identical PNGs (fixed size and DPI, no timestamp or
software metadata, UTC axis labels), so charts can be compared and deduplicated.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
from typing import Sequence

from aisre.errors import ValidationError
from aisre.notify.escape import clean

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 3.2, 100
MAX_POINTS = 5000


def _finite(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for p in points:
        try:
            ts, v = float(p[0]), float(p[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(ts) and math.isfinite(v):
            out.append((ts, v))
    out.sort()
    if len(out) > MAX_POINTS:  # keep the shape, drop density
        step = math.ceil(len(out) / MAX_POINTS)
        out = out[::step]
    return out


def _band(values: float | Sequence[float] | None, n: int) -> list[float] | None:
    if values is None:
        return None
    if isinstance(values, (int, float)):
        return [float(values)] * n if math.isfinite(values) else None
    vals = [float(v) for v in values]
    if len(vals) != n:
        raise ValidationError(f"band has {len(vals)} values for {n} points", what="chart")
    return vals


def render_chart(points: Sequence[tuple[float, float]], *, title: str, expected: float | Sequence[float] | None = None,
                 lower: float | Sequence[float] | None = None, upper: float | Sequence[float] | None = None,
                 onset_ts: float | None = None, path: str, unit: str = "") -> str:
    """Write a PNG of ``points`` (``(ts, value)``) to ``path`` and return ``path``.

    ``expected``/``lower``/``upper`` are one value or one per point (after NaNs are dropped); the
    band is shaded and the expected line dashed; ``onset_ts`` is a red vertical line. Raises
    :class:`ValidationError` when no finite point is left.
    """
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    pts = _finite(points)
    if not pts:
        raise ValidationError("nothing to chart: no finite points", what="chart")
    xs = [_dt.datetime.fromtimestamp(t, tz=_dt.timezone.utc).replace(tzinfo=None) for t, _ in pts]
    ys = [v for _, v in pts]
    n = len(pts)
    exp, lo, hi = _band(expected, n), _band(lower, n), _band(upper, n)

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    if lo is not None and hi is not None:
        ax.fill_between(xs, lo, hi, color="#9ecae1", alpha=0.5, linewidth=0, label="expected band")
    if exp is not None:
        ax.plot(xs, exp, color="#3182bd", linestyle="--", linewidth=1, label="expected")
    ax.plot(xs, ys, color="#252525", linewidth=1.5, label="observed")
    if onset_ts is not None and math.isfinite(onset_ts):
        onset = _dt.datetime.fromtimestamp(onset_ts, tz=_dt.timezone.utc).replace(tzinfo=None)
        ax.axvline(onset, color="#e6550d", linewidth=1.5, label=f"onset {onset:%H:%M} UTC")
    ax.set_title(clean(title, 120), fontsize=10)
    ax.set_xlabel("UTC", fontsize=8)
    if unit:
        ax.set_ylabel(clean(unit, 20), fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
    ax.tick_params(labelsize=7)
    import matplotlib.dates as mdates
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def chart_for_signal(signal, *, path: str, window: Sequence[tuple[float, float]] = ()) -> str | None:
    """Chart one metric signal from ``window`` points (or ``signal.evidence['window']``); None if none."""
    pts = list(window) or list(signal.evidence.get("window", ()) if hasattr(signal, "evidence") else ())
    if not pts:
        return None
    return render_chart(pts, title=f"{signal.service} {signal.name}", expected=signal.expected,
                        lower=signal.lower, upper=signal.upper, onset_ts=signal.onset_ts, path=path)
