"""lotslib.verdicts: the rules every generated verdict follows, on hand-made cases."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lotslib import verdicts as V
from lotslib.errors import ParameterError


def test_too_few_pairs_is_four_not_five():
    assert V.too_few(4) == "too few images (n = 4)"
    assert V.too_few(5) is None
    assert V.too_few(float("nan")) == "too few images (n = 0)"
    # a huge, consistent difference on 4 images still gives no verdict; on 5 it may be judged
    assert V.verdict_word(4, 10.0, 0.0001, True) == V.TOO_FEW
    assert V.verdict_word(5, 10.0, 0.0001, True) == V.BETTER


def test_holm_by_hand():
    # sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running max 0.02, 0.03, 0.06, 0.06
    adj = V.holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(adj < 0.05) == [True, False, False, True]  # uncorrected, all four would be below 0.05
    assert V.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    nan = V.holm([0.01, float("nan"), 0.02])  # NaN stays NaN and is not counted in m = 2
    assert nan[0] == pytest.approx(0.02) and np.isnan(nan[1]) and nan[2] == pytest.approx(0.02)
    with pytest.raises(ParameterError):
        V.holm([0.2, 1.5])


def test_holm_verdicts_correct_the_family():
    t = pd.DataFrame({"n": [10, 10, 3], "mean_diff": [2.0, -2.0, 5.0], "p_value": [0.03, 0.04, 0.001],
                      "higher_is_better": [True, True, True]})
    out = V.holm_verdicts(t)
    # the n = 3 row is out of the family: m = 2, so 0.03 -> 0.06 and 0.04 -> 0.06: no verdict survives
    assert list(out["p_holm"][:2]) == pytest.approx([0.06, 0.06]) and np.isnan(out["p_holm"][2])
    assert list(out["verdict"]) == [V.NO_DIFFERENCE, V.NO_DIFFERENCE, V.TOO_FEW]
    one = V.holm_verdicts(t.iloc[:1])
    assert one["verdict"].iloc[0] == V.BETTER  # alone, 0.03 stays 0.03


def test_compare_each_every_method_with_the_direction():
    rng = np.random.default_rng(0)
    lots = rng.uniform(20, 30, 12)
    others = {"above": lots + 5 + rng.uniform(0, 1, 12), "below": lots - 5 - rng.uniform(0, 1, 12),
              "same": lots + rng.normal(0, 1, 12)}
    hi = V.compare_each(lots, others, higher_is_better=True)
    assert list(hi.index) == ["above", "below", "same"]
    assert hi.loc["above", "verdict"] == V.WORSE and hi.loc["below", "verdict"] == V.BETTER
    assert hi.loc["same", "verdict"] == V.NO_DIFFERENCE
    assert (hi["p_holm"] >= hi["p_value"]).all() and (hi["n"] == 12).all()
    assert hi.loc["above", "mean_diff"] < -5
    lo = V.compare_each(lots, others, higher_is_better=False)  # e.g. Average Drop: lower is better
    assert lo.loc["above", "verdict"] == V.BETTER and lo.loc["below", "verdict"] == V.WORSE
    four = V.compare_each(lots[:4], {k: v[:4] for k, v in others.items()}, True)
    assert (four["verdict"] == V.TOO_FEW).all()
    five = V.compare_each(lots[:5], {k: v[:5] for k, v in others.items()}, True)
    assert not (five["verdict"] == V.TOO_FEW).any()  # judged (5 pairs cannot reach p < 0.05 with Wilcoxon)


def test_verdict_change_rule():
    assert not V.verdict_changed(V.NO_DIFFERENCE, V.NO_DIFFERENCE)  # a tie under both
    assert V.verdict_changed(V.BETTER, V.NO_DIFFERENCE)  # significant under one only
    assert V.verdict_changed(V.NO_DIFFERENCE, V.WORSE)
    assert V.verdict_changed(V.BETTER, V.WORSE)  # opposite significant signs
    assert not V.verdict_changed(V.WORSE, V.WORSE)  # same sign, significant under both
    assert not V.verdict_changed(V.TOO_FEW, V.BETTER)  # no verdict to change


def test_printing():
    assert V.format_p(0.0123) == "p = 0.012"
    assert V.format_p(0.0004) == "p < 0.001"
    assert V.format_p(0.77) == "p = 0.77"
    assert V.format_p(float("nan")) == "p = n/a"
    assert V.yes_no(True) == "yes" and V.yes_no(np.bool_(False)) == "no"
    assert [V.format_p(p, cell=True) for p in (0.0123, 0.0004, 0.77, float("nan"))] == ["0.012", "< 0.001", "0.77",
                                                                                        "n/a"]


def test_family_note_counts_the_judged_comparisons():
    assert V.family_note([10, 12, 4]) == ("Holm-corrected across the 2 comparisons with at least 5 images; 1 with too "
                                          "few (n = 4) have no verdict")
    assert V.family_note([5]) == "Holm-corrected across the 1 comparison with at least 5 images"
    assert V.family_note([2, 2, 0]) == "no comparison has 5 images or more (n = 0, 2): no verdict"
