"""Sentences that state a result are written from the numbers (issue 11, item 6): the same
function on two inputs whose numbers differ gives different verdicts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lotslib.reports import convention_verdict


def _rows(lots_drop, cam_drop, n=6):
    """Benchmark-like rows: LOTS and Grad-CAM (plus the Random-CAM baseline) on n images."""
    rng = np.random.default_rng(0)
    out = []
    for method, mean in (("lots", lots_drop), ("gradcam", cam_drop), ("random", 90.0)):
        for i in range(n):
            out.append({"model": "m", "method": method, "image_id": f"im{i}", "avg_drop": mean + rng.normal(0, 0.5)})
    return pd.DataFrame(out)


def test_the_verdict_follows_the_numbers():
    base = _rows(lots_drop=20.0, cam_drop=30.0)       # LOTS drops less: better on Average Drop
    same = _rows(lots_drop=21.0, cam_drop=31.0)       # other values, same ordering
    flipped = _rows(lots_drop=40.0, cam_drop=30.0)    # LOTS now drops more: worse
    keep = convention_verdict(base, same, ["avg_drop"], "first", "second")
    flip = convention_verdict(base, flipped, ["avg_drop"], "first", "second")
    assert keep["changed"] == 0 and keep["pairs"] == 1 and "is the same in all 1" in keep["text"]
    assert flip["changed"] == 1 and "changes in 1 of 1" in flip["text"]
    assert "better than the best CAM method (Grad-CAM) with the first" in flip["text"]
    assert "worse than the best CAM method (Grad-CAM) with the second" in flip["text"]
    assert keep["text"] != flip["text"]
    t = flip["table"]
    assert bool(t["LOTS better (first)"].iloc[0]) and not bool(t["LOTS better (second)"].iloc[0])
    assert abs(t["LOTS (second)"].iloc[0] - flipped.loc[flipped["method"] == "lots", "avg_drop"].mean()) < 1e-9
