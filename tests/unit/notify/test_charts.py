"""render_chart: a real PNG, deterministic, with band and onset drawn; bad input is typed."""
from __future__ import annotations

import math

import numpy as np
import pytest

from aisre.errors import ValidationError
from aisre.notify.charts import render_chart

T0 = 1795828500.0


def _series(n=120):
    return [(T0 + 60 * i, 60.0 + (0.5 * (i - 80) if i > 80 else 0) + math.sin(i) ) for i in range(n)]


def _pixels(path):
    import matplotlib.image as mpimg
    return mpimg.imread(path)


def test_png_is_deterministic_and_shows_band_and_onset(tmp_path):
    a = render_chart(_series(), title="checkout memory_pct", expected=60, lower=55, upper=65,
                     onset_ts=T0 + 80 * 60, path=str(tmp_path / "a.png"))
    b = render_chart(_series(), title="checkout memory_pct", expected=60, lower=55, upper=65,
                     onset_ts=T0 + 80 * 60, path=str(tmp_path / "b.png"))
    data = open(a, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data == open(b, "rb").read()
    img = _pixels(a)
    assert img.shape[:2] == (320, 800)
    rgb = img[..., :3]
    orange = np.all(np.abs(rgb - np.array([0xe6, 0x55, 0x0d]) / 255) < 0.05, axis=-1)
    blue_band = np.all(np.abs(rgb - np.array([0.79, 0.89, 0.94])) < 0.06, axis=-1)
    assert orange.sum() > 100 and blue_band.sum() > 1000     # the onset line and the band are drawn
    c = render_chart(_series(), title="checkout memory_pct", path=str(tmp_path / "c.png"))
    assert open(c, "rb").read() != data


def test_nan_points_are_dropped_and_empty_is_an_error(tmp_path):
    pts = _series(10) + [(T0 + 9999, float("nan")), (float("inf"), 1.0), ("x", 2)]
    assert render_chart(pts, title="t", path=str(tmp_path / "n.png"))
    with pytest.raises(ValidationError):
        render_chart([(T0, float("nan"))], title="t", path=str(tmp_path / "e.png"))
    with pytest.raises(ValidationError):
        render_chart(_series(10), title="t", lower=[1, 2], upper=[3, 4], path=str(tmp_path / "m.png"))


def test_per_point_band(tmp_path):
    pts = _series(50)
    assert render_chart(pts, title="t", expected=[v for _, v in pts], lower=[v - 2 for _, v in pts],
                        upper=[v + 2 for _, v in pts], path=str(tmp_path / "p.png"))
