"""The findings page's verdicts (lotsbook.findings) on hand-made result tables: each claim's
verdict follows the numbers (LOTS clearly better, clearly worse, tied, better than some CAM
methods only), no verdict from fewer than 5 paired images, LOTS against every CAM method,
and the Holm correction across all the claims' comparisons."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lotsbook import findings as F
from lotslib.verdicts import BETTER, MIN_PAIRS, NO_DIFFERENCE, WORSE, holm, too_few

CAMS = ["gradcam", "gradcampp", "smoothgradcampp", "layercam", "hirescam"]
TARGETS = ["lots_mean", "lots_class"]
#: the per-image columns of the benchmark rows and whether higher is better
COLUMNS = {"avg_drop": False, "increase": True, "coherency": True, "insertion": True, "deletion": False,
           "ms_per_map": False}
TESTABLE = [c.key for c in F.CLAIMS if c.expected]
UNTESTABLE = [c.key for c in F.CLAIMS if not c.expected]
EXPECTS_BETTER = [c.key for c in F.CLAIMS if c.expected == BETTER]
EXPECTS_WORSE = [c.key for c in F.CLAIMS if c.expected == WORSE]


def _rows(n: int, side, model: str = "toynet", targets: bool = True) -> pd.DataFrame:
    """A tidy result table of ``n`` images: LOTS, Random-CAM, the five CAM methods (and the
    mean/class targets). ``side`` maps each compared method to +1 (LOTS clearly better than
    it on every column), -1 (clearly worse) or 0 (a tie: differences symmetric around 0)."""
    side = {m: side for m in CAMS + TARGETS} if isinstance(side, int) else side
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        base = {c: 40 + 10 * rng.random() for c in COLUMNS}
        jitter = (0.1 + 0.01 * (i // 2)) * (1 if i % 2 == 0 else -1)  # pairs of +/- with equal size: a tie
        values = {"lots": dict(base), "random": {c: base[c] + 30 for c in COLUMNS}}
        for m in CAMS + (TARGETS if targets else []):
            s = side.get(m, 0)
            # the other method lies 10 (+ a distinct amount) on the worse side of LOTS when s = +1
            values[m] = {c: base[c] + (jitter if s == 0 else -s * (10 + 0.01 * i) * (1 if higher else -1))
                         for c, higher in COLUMNS.items()}
        for m, v in values.items():
            rows.append({"model": model, "method": m, "image_id": f"img{i:03d}", **v})
    return pd.DataFrame(rows)


def _verdicts(rows) -> dict:
    return F.findings(rows, "toy data")["verdict"].to_dict()


def test_lots_clearly_better_reproduces_the_better_claims_only():
    v = _verdicts(_rows(20, +1))
    assert {k: v[k] for k in EXPECTS_BETTER} == dict.fromkeys(EXPECTS_BETTER, F.REPRODUCED)
    assert {k: v[k] for k in EXPECTS_WORSE} == dict.fromkeys(EXPECTS_WORSE, F.NOT_REPRODUCED)
    assert {k: v[k] for k in UNTESTABLE} == dict.fromkeys(UNTESTABLE, F.NOT_TESTABLE)


def test_the_verdicts_flip_when_lots_is_clearly_worse():
    v = _verdicts(_rows(20, -1))
    assert {k: v[k] for k in EXPECTS_BETTER} == dict.fromkeys(EXPECTS_BETTER, F.NOT_REPRODUCED)
    assert {k: v[k] for k in EXPECTS_WORSE} == dict.fromkeys(EXPECTS_WORSE, F.REPRODUCED)
    # the claims the thesis makes in both directions are there to flip
    assert EXPECTS_BETTER and EXPECTS_WORSE and "avg_drop" in EXPECTS_BETTER and "time" in EXPECTS_WORSE


def test_a_tie_reproduces_no_claim_and_says_no_difference():
    rows = _rows(20, 0)
    f = F.findings(rows, "toy data")
    assert set(f.loc[TESTABLE, "verdict"]) == {F.NOT_REPRODUCED}
    comps = F.claim_comparisons(rows)
    assert set(comps["verdict"]) == {NO_DIFFERENCE}
    assert np.allclose(comps["mean_diff"], 0, atol=1e-9)  # the symmetric jitter: LOTS minus CAM averages 0
    assert (comps["ci_low"] <= 0).all() and (comps["ci_high"] >= 0).all()


def test_better_than_some_cams_only_is_mixed():
    side = {"gradcam": +1, "gradcampp": +1, "smoothgradcampp": -1, "layercam": 0, "hirescam": 0,
            "lots_mean": +1, "lots_class": 0}
    v = _verdicts(_rows(20, side))
    assert {k: v[k] for k in TESTABLE} == dict.fromkeys(TESTABLE, F.MIXED)


def test_every_cam_method_is_compared_and_the_baseline_is_not():
    comps = F.claim_comparisons(_rows(20, +1))
    cams = comps[comps["claim"] == "avg_drop"]
    assert list(cams["other"]) == CAMS  # not only the best CAM, and not Random-CAM
    assert list(comps[comps["claim"] == "target"]["other"].unique()) == TARGETS
    # one comparison per (claim, metric, compared method)
    n_cam_claims = sum(1 for c in F.CLAIMS if c.against == "cams")
    assert len(comps) == n_cam_claims * len(CAMS) + 5 * len(TARGETS)
    # the effect is LOTS minus the other method, in the metric's unit: LOTS's drop is 10+ points lower
    d = cams.set_index("other")
    assert (d["mean_diff"] < -10).all() and (d["ci_high"] < 0).all() and (d["n"] == 20).all()
    inc = comps[(comps["claim"] == "avg_increase")]
    assert (inc["mean_diff"] > 100 * 10).all()  # Average Increase is a share: the column is scaled by 100


def test_fewer_than_min_pairs_is_not_testable_and_min_pairs_is():
    small = F.findings(_rows(MIN_PAIRS - 1, +1), "four images")
    assert set(small.loc[TESTABLE, "verdict"]) == {F.NOT_TESTABLE}
    assert all(too_few(MIN_PAIRS - 1) in r for r in small.loc[TESTABLE, "reason"])
    assert all(too_few(MIN_PAIRS - 1) in e for e in small.loc[TESTABLE, "evidence"])
    enough = F.findings(_rows(MIN_PAIRS, +1), "five images")
    assert F.NOT_TESTABLE not in set(enough.loc[TESTABLE, "verdict"])  # a verdict is drawn (here: no significance)


def test_holm_runs_across_all_the_claims_comparisons():
    rows = _rows(8, +1)  # 8 images all on one side: p = 2/256 for each comparison alone
    comps = F.claim_comparisons(rows)
    assert np.allclose(comps["p_holm"], holm(comps["p_value"]))
    assert (comps["p_value"] < 0.05).all() and (comps["p_holm"] >= 0.05).all()
    assert F.findings(rows, "8 images").loc["avg_drop", "verdict"] == F.NOT_REPRODUCED
    # the same numbers as a family of one comparison would have been significant
    one = rows[rows["method"].isin(["lots", "gradcam"])]
    claim = next(c for c in F.CLAIMS if c.key == "avg_drop")
    alone = F.findings(one, "8 images", claims=(claim,))
    assert alone.loc["avg_drop", "verdict"] == F.REPRODUCED


def test_missing_methods_make_a_claim_not_testable_with_the_reason():
    f = F.findings(_rows(20, +1, targets=False), "no target rows")
    assert f.loc["target", "verdict"] == F.NOT_TESTABLE
    assert "mean or class target" in f.loc["target", "reason"]
    assert f.loc["avg_drop", "verdict"] == F.REPRODUCED
    g = F.findings(_rows(20, +1).drop(columns="ms_per_map"), "no times")
    assert g.loc["time", "verdict"] == F.NOT_TESTABLE
    na = _rows(20, +1)
    na.loc[na["method"].isin(TARGETS), "avg_drop"] = np.nan  # as the benchmark writes a target it could not build
    h = F.findings(na, "N/A targets", claims=[c for c in F.CLAIMS if c.key == "target"])
    assert h.loc["target", "verdict"] == F.REPRODUCED  # the other four metrics still have their 20 images
    rows = na.drop(columns=[c for c in COLUMNS if c != "avg_drop"])
    assert "rows are N/A" in F.findings(rows, "N/A targets").loc["target", "reason"]


def test_untestable_claims_say_why_and_every_row_is_sourced():
    f = F.findings(_rows(20, +1), "toy data")
    assert list(f.index) == [c.key for c in F.CLAIMS]
    assert set(f["verdict"]) <= set(F.VERDICTS)
    for key in UNTESTABLE:
        assert f.loc[key, "reason"] and f.loc[key, "reason"] in f.loc[key, "evidence"]
    assert f["source"].str.contains("§").all()
    assert f.loc["avg_drop", "evidence"].startswith("toy data")
    assert "toynet (n = 20)" in f.loc["avg_drop", "evidence"]
    assert "Holm-corrected across the 40 comparisons" in f.loc["avg_drop", "evidence"]


def test_two_backbones_are_each_compared_in_one_family():
    rows = pd.concat([_rows(20, +1, model="net_a"), _rows(20, -1, model="net_b")])
    comps = F.claim_comparisons(rows)
    assert set(comps["model"]) == {"net_a", "net_b"}
    assert np.allclose(comps["p_holm"], holm(comps["p_value"]))
    assert set(F.findings(rows, "two backbones").loc[TESTABLE, "verdict"]) == {F.MIXED}


def test_the_thesis_column_counts_the_thesis_tables():
    by_key = {c.key: c for c in F.CLAIMS}
    drop = F.thesis_support(by_key["avg_drop"])
    assert "5 of 5 on resnet50" in drop and "0 of 5 on alexnet" in drop  # said of ResNet-50 only
    assert "5 of 5 on alexnet" in F.thesis_support(by_key["coherency"])
    assert F.thesis_support(by_key["time"]).count("5 of 5") == 4
    assert F.thesis_support(by_key["unseen"]) == ""


def test_the_sentences_count_the_verdicts():
    f = F.findings(_rows(20, -1), "toy data")
    text = F.findings_text(f, "toy data")
    n_rep = int((f["verdict"] == F.REPRODUCED).sum())
    assert text.startswith(f"On toy data, of the {len(f)} claims {n_rep} are reproduced")
    assert f"**{f.loc['time', 'claim']}** — reproduced: 5 comparisons, 5 LOTS worse." in text


@pytest.mark.parametrize("name", ["sample_study.csv"])
def test_the_recorded_study_is_judged(name):
    from lotsbook.results import recorded

    rows = recorded(name)
    if rows is None:
        pytest.skip(f"results/{name} is absent")
    f = F.findings(rows, "the recorded study")
    assert set(f["verdict"]) <= set(F.VERDICTS)
    assert f.loc["target", "verdict"] == F.NOT_TESTABLE  # the study has no target rows
    assert f.loc["time", "verdict"] == F.REPRODUCED  # LOTS is slower than every CAM on every image
