"""Sentences that state a result are written from the numbers: the same
function on two inputs whose numbers differ gives different verdicts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lotsbook.pages.benchmark import convention_verdict


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
    assert "against Grad-CAM: LOTS better with the first" in flip["text"]
    assert "but LOTS worse with the second" in flip["text"] and "p = 0.031" in flip["text"]  # 2/64: 6 pairs, exact
    assert keep["text"] != flip["text"]
    t = flip["table"]
    assert t["verdict (first)"].iloc[0] == "LOTS better" and t["verdict (second)"].iloc[0] == "LOTS worse"
    assert t["verdict changes"].iloc[0] == "yes" and keep["table"]["verdict changes"].iloc[0] == "no"
    assert abs(t["LOTS (second)"].iloc[0] - flipped.loc[flipped["method"] == "lots", "avg_drop"].mean()) < 1e-9


def test_no_verdict_change_from_a_tie_or_from_too_few_images():
    """The score='max' case of the issue: 40.7 vs 40.7 under both conventions is a tie, not a
    change; and with 4 images no verdict is drawn at all."""
    tie = _rows(lots_drop=30.0, cam_drop=30.0)
    worse = _rows(lots_drop=40.0, cam_drop=30.0)
    v = convention_verdict(tie, _rows(lots_drop=30.2, cam_drop=30.0), ["avg_drop"], "first", "second")
    assert v["changed"] == 0 and "no significant difference" in v["text"]
    assert convention_verdict(tie, worse, ["avg_drop"], "first", "second")["changed"] == 1  # significant under one
    few = convention_verdict(_rows(20.0, 30.0, n=4), _rows(40.0, 30.0, n=4), ["avg_drop"], "first", "second")
    assert few["changed"] == 0 and "fewer than 5 images (n = 4)" in few["text"]


def test_perturbation_summary_known_answers():
    """A change on 16 of 1024 pixels holds all the mass: 1/64 of the pixels holds half of it
    (the concentrated verdict); the same change everywhere is an even spread (the spread
    verdict). Sizes are in 1/255 units."""
    import torch

    from lotsbook.pages.attack import perturbation_summary

    x = torch.full((2, 3, 32, 32), 0.5)
    spot = x.clone()
    spot[:, :, :4, :4] += 4 / 255
    s = perturbation_summary(x, spot)
    assert abs(s["max_change"] - 4) < 1e-3 and abs(s["mean_change"] - 4 * 16 / 1024) < 1e-3
    assert s["half_mass_pct"] < 2 and "concentrated in a small part" in s["text"] and "almost invisible" in s["text"]
    even = perturbation_summary(x, x + 12 / 255)
    assert even["half_mass_pct"] > 49 and "spread over much" in even["text"] and "visible in places" in even["text"]


def test_paired_mde_hand_computation_and_simulated_power():
    """MDE = (t_{n-1,0.975} + t_{n-1,0.8}) s / sqrt(n): by hand for n = 100, s = 1; and a
    simulated paired t-test at that shift rejects in about 80 % of the trials."""
    import numpy as np
    from scipy.stats import t, ttest_1samp

    from lotslib.stats import paired_mde

    d = np.random.default_rng(0).standard_normal(100)
    d = (d - d.mean()) / d.std(ddof=1)  # s = 1 exactly
    assert abs(paired_mde(d) - (t.ppf(0.975, 99) + t.ppf(0.8, 99)) / 10) < 1e-12
    assert abs(paired_mde(d) - 0.2829) < 1e-3
    assert paired_mde(d[:25]) > paired_mde(d)  # fewer pairs detect less
    rng = np.random.default_rng(1)
    mde = paired_mde(d[:30])  # s of these 30 is not 1: the power is for their own spread
    s = d[:30].std(ddof=1)
    hits = [ttest_1samp(rng.normal(mde, s, 30), 0).pvalue < 0.05 for _ in range(2000)]
    assert 0.76 < np.mean(hits) < 0.84


def _synthetic_rows(lots_shift: float, n: int = 40):
    """Benchmark rows of Random-CAM, Grad-CAM and LOTS on ``n`` images: LOTS's Average Drop is
    Grad-CAM's plus ``lots_shift`` (a fraction) plus small noise; other metrics equal."""
    import numpy as np
    import pandas as pd

    from lotslib.metric_registry import METRICS
    from lotslib.method_registry import get_method

    rng = np.random.default_rng(0)
    base = {m.col: rng.uniform(0.2, 0.6, n) for m in METRICS.values()}
    rows = []
    for method in ("random", "gradcam", "lots"):
        for i in range(n):
            r = {"model": "toy", "method": method, "method_name": get_method(method).name, "image_id": f"im{i}",
                 "flagged": False, "na_reason": ""}
            for col, v in base.items():
                r[col] = v[i] + (0.3 if method == "random" else 0.0)
            if method == "lots":
                r["avg_drop"] = base["avg_drop"][i] + lots_shift + rng.normal(0, 0.01)
            rows.append(r)
    return pd.DataFrame(rows)


def test_recorded_study_verdicts_follow_the_rows():
    """The recorded study's sentences come from its rows: LOTS 10 points below Grad-CAM's
    Average Drop is 'better'; 10 points above is 'worse'; equal metrics 'do not differ' and
    state a detectable difference."""
    from lotsbook.pages.benchmark import recorded_study

    meta = {"params": {"lots": {"alpha": 1 / 255, "iters": 500, "tau": 0.1}}, "images": "toy"}
    better = recorded_study(_synthetic_rows(-0.10), meta)
    worse = recorded_study(_synthetic_rows(+0.10), meta)
    drop = [s for s in better["text"].split("\n\n") if s.startswith("**Avg Drop")][0]
    assert "LOTS" in drop and "is better than Grad-CAM" in drop and "best method LOTS" in drop
    drop_w = [s for s in worse["text"].split("\n\n") if s.startswith("**Avg Drop")][0]
    assert "is worse than Grad-CAM" in drop_w and "best method Grad-CAM" in drop_w
    ins = [s for s in better["text"].split("\n\n") if s.startswith("**Insertion")][0]
    assert "do not differ" in ins and "detected a mean difference of" in ins
    assert better["n"] == 40 and "40 images" in better["text"]


def test_no_bold_best_from_fewer_than_five_images(monkeypatch):
    """Chapter 3's case: a row on 1 image with the best mean is not bold against a row on 19;
    the row on 19 is bold (the best of those with enough images), and the caption says why."""
    from lotsbook import plots
    from lotslib.metric_registry import METRICS

    lab = METRICS["avg_drop"].label  # lower is better
    idx = pd.MultiIndex.from_tuples([("m", "zero"), ("m", "class"), ("m", "mean")], names=["model", "method"])
    wide = pd.DataFrame({(lab, "mean"): [30.0, 10.0, 40.0], (lab, "ci_low"): [25.0, 10.0, 35.0],
                         (lab, "ci_high"): [35.0, 10.0, 45.0], (lab, "n"): [19, 1, 19]}, index=idx)
    shown = []
    monkeypatch.setattr(plots, "_show", shown.append)
    plots.summary_table(wide, "Table.")
    html = shown[0].to_html()
    cells = {k for k, v in shown[0]._compute().ctx.items() if ("font-weight", "bold") in v}  # (row, column)
    assert cells == {(0, 0)}  # the n = 19 row with 30.0, not the n = 1 row with 10.0
    assert "1 of 3 rows rest on fewer than 5 images (n = 1): too few to name a best" in html
