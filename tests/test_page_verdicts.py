"""The pages' verdicts follow lotslib.verdicts: hand-made rows where 4 images give no verdict and
5 may, N/A rows that collapse, paired means, extra methods outside the ranking, ties that are no
change, and sanity sentences that state their n."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lotslib.metric_registry import METRICS
from lotslib.method_registry import get_method


# ------------------------------------------------------------------ chapter 3
def _target_rows(n_images: int, with_target: int, one_reference: bool = True, shift: float = 0.1):
    """Rows of lots / lots_class / lots_mean on ``n_images`` images; the first ``with_target``
    have class and mean targets (the others are N/A, each of its own class)."""
    rng = np.random.default_rng(0)
    base = {m.col: rng.uniform(0.2, 0.6, n_images) for m in METRICS.values()}
    rows = []
    for method in ("lots", "lots_class", "lots_mean"):
        for i in range(n_images):
            na = method != "lots" and i >= with_target
            r = {"model": "m", "method": method, "method_name": get_method(method).name, "image_id": f"im{i}",
                 "label": 100 + i, "top1": 100 + i, "flagged": na, "target_reference": "",
                 "na_reason": (f"no other reference image of class {100 + i} (thing, other (kind)) (its 1 reference "
                               "image is the evaluated one)") if na else ""}
            if method == "lots_class" and not na:
                r["target_reference"] = f"ref{i}"
            if method == "lots_mean" and not na:
                r["target_reference"] = "mean of 1" if one_reference else "mean of 3"
            for col, v in base.items():
                r[col] = np.nan if na else v[i] + (shift if method != "lots" else 0.0) + rng.normal(0, 0.001)
            rows.append(r)
    return pd.DataFrame(rows)


def test_na_rows_collapse_into_one_line_per_reason_with_a_count():
    from lotsbook.pages.targets import na_rows, na_summary

    df = _target_rows(19, 1)
    assert len(na_rows(df)) == 36  # 18 images x (class, mean), every reason naming its own class
    s = na_summary(df)
    assert len(s) == 1 and s["rows"].iloc[0] == 36 and s["images"].iloc[0] == 18 and s["classes"].iloc[0] == 18
    assert s.index[0] == "no other reference image of its class (its 1 reference image is the evaluated one)"
    assert s["methods"].iloc[0] == "LOTS (class F_t), LOTS (mean F_t)"
    assert na_summary(_target_rows(5, 5)).empty


def test_target_tests_pair_the_same_images_and_need_five():
    from lotsbook.pages.targets import target_tests

    df = _target_rows(19, 4)
    t = target_tests(df)
    lab = METRICS["avg_drop"].label
    row = t.loc[("zero vs class", lab)]
    lots = df[(df["method"] == "lots")].set_index("image_id")["avg_drop"]
    # the zero column is the mean over the 4 paired images, not over all 19
    assert row["n"] == 4 and row["zero"] == pytest.approx(lots.iloc[:4].mean() * METRICS["avg_drop"].scale)
    assert row["zero"] != pytest.approx(lots.mean() * METRICS["avg_drop"].scale)
    assert (t["verdict"] == "too few images").all() and t["p (Holm)"].isna().all()
    five = target_tests(_target_rows(19, 5))
    assert (five["n"] == 5).all() and not (five["verdict"] == "too few images").any()


def test_target_sentence_says_class_and_mean_coincide_and_no_verdict_from_four():
    from lotsbook.pages.targets import single_reference, target_sentence

    one = _target_rows(19, 1)
    assert single_reference(one) == 1
    s = target_sentence(one)
    assert "class and mean rows coincide" in s and "too few images (n = 1)" in s and "no verdict" in s
    four = target_sentence(_target_rows(19, 4, one_reference=False))
    assert "coincide" not in four and "(n = 4)" in four
    assert target_sentence(_target_rows(19, 5, one_reference=False)) == ""  # five images: a verdict may be drawn


def _wide(ns, means, labels=("zero", "class", "mean"), metric="avg_drop"):
    lab = METRICS[metric].label
    idx = pd.MultiIndex.from_tuples([("m", r) for r in labels], names=["model", "method"])
    return pd.DataFrame({(lab, "mean"): means, (lab, "ci_low"): means, (lab, "ci_high"): means,
                         (lab, "n"): ns}, index=idx)


def _bold_cells(monkeypatch, wide, **kw):
    from lotsbook import plots

    shown = []
    monkeypatch.setattr(plots, "_show", shown.append)
    plots.summary_table(wide, "Table.", **kw)
    cells = {k for k, v in shown[0]._compute().ctx.items() if ("font-weight", "bold") in v}
    return cells, shown[0].to_html()


def test_no_bold_from_one_row_with_enough_images_and_no_interval_from_four(monkeypatch):
    # chapter 3 in the embedded build: the zero row on 19 images, class and mean on 1
    cells, html = _bold_cells(monkeypatch, _wide([19, 1, 1], [30.0, 10.0, 10.0]))
    assert cells == set()  # the n = 19 row alone is not "best" against rows of n = 1
    assert "one row is not the best of anything" in html and "n = 1: too few for an interval" in html
    cells, html = _bold_cells(monkeypatch, _wide([19, 4, 5], [30.0, 10.0, 20.0]))
    assert cells == {(2, 0)}  # n = 5 may be bold, n = 4 may not
    assert "n = 4: too few for an interval" in html and "n = 5: too few" not in html


def test_extra_methods_are_never_bold_nor_ranked(monkeypatch):
    from lotsbook.pages.benchmark import extra_rows

    rows = ("Grad-CAM", "Sobel edges", "LOTS", "LOTS (class logit)")
    wide = _wide([10, 10, 10, 10], [30.0, 5.0, 20.0, 1.0], labels=rows)
    wide, extra = extra_rows(wide)
    assert list(wide.index.get_level_values(1)) == ["Grad-CAM", "LOTS", "Sobel edges", "LOTS (class logit)"]
    assert extra == ["Sobel edges", "LOTS (class logit)"]
    cells, html = _bold_cells(monkeypatch, wide, unranked=extra)
    assert cells == {(1, 0)}  # LOTS (20) is the best of the thesis's methods; the extras' 5 and 1 are not bold
    assert "outside the ranking" in html


def test_rank_table_ranks_only_the_thesis_methods(monkeypatch):
    from lotsbook import plots

    rows = ("Grad-CAM", "LOTS", "Sobel edges")
    ours = _wide([10, 10, 10], [30.0, 20.0, 1.0], labels=rows)
    thesis = pd.DataFrame({METRICS["avg_drop"].label: [30.0, 20.0]},
                          index=pd.MultiIndex.from_tuples([("m", "Grad-CAM"), ("m", "LOTS")]))
    shown = []
    monkeypatch.setattr(plots, "_show", shown.append)
    plots.rank_table(ours, thesis, "Ranks.", ranked=["Grad-CAM", "LOTS"])
    t = shown[0].data
    assert list(t.index) == ["Grad-CAM", "LOTS"] and t.iloc[:, 0].tolist() == [2.0, 1.0]
    assert "Sobel edges are outside the ranking" in shown[0].to_html()


# ------------------------------------------------------------------ chapter 4
def _bench_rows(lots_shift: float, n: int, methods=("random", "gradcam", "gradcampp", "lots", "edge")):
    rng = np.random.default_rng(1)
    base = rng.uniform(20, 40, n)
    out = []
    for m in methods:
        for i in range(n):
            v = base[i] + rng.normal(0, 0.3) + (lots_shift if m == "lots" else 0.0) + (30 if m == "random" else 0)
            out.append({"model": "m", "method": m, "image_id": f"im{i}", "flagged": False,
                        **{k.col: base[i] / 100 + rng.normal(0, 0.01) for k in METRICS.values()}, "avg_drop": v})
    return pd.DataFrame(out)


def test_lots_is_tested_against_every_cam_with_holm_across_the_table():
    from lotsbook.pages.benchmark import best_cam_tests

    t = best_cam_tests(_bench_rows(-5.0, 8))
    assert len(t) == 2 * len(METRICS)  # Holm across every (metric, CAM method) comparison of the table
    t = t.xs(METRICS["avg_drop"].label, level="metric")
    cams = list(t.index.get_level_values("CAM method"))
    assert cams == ["Grad-CAM", "Grad-CAM++"]  # every CAM, not Random-CAM, not the edge baseline
    # 8 pairs all one way: p = 2/256 uncorrected, but 10 comparisons in the family: 0.078, no verdict
    assert t["p-value"].tolist() == pytest.approx([2 / 256] * 2)
    assert t["p (Holm)"].tolist() == pytest.approx([0.078125] * 2)
    assert (t["verdict"] == "no significant difference").all()
    t12 = best_cam_tests(_bench_rows(-5.0, 12)).xs(METRICS["avg_drop"].label, level="metric")
    assert (t12["verdict"] == "LOTS better").all()
    four = best_cam_tests(_bench_rows(-5.0, 4))
    assert (four["verdict"] == "too few images").all()


def test_a_tie_under_both_conventions_is_no_change_and_opposite_signs_are():
    from lotsbook.pages.benchmark import convention_verdict

    tie = convention_verdict(_bench_rows(0.0, 8), _bench_rows(0.05, 8), ["avg_drop"], "black fill", "mean fill")
    assert tie["changed"] == 0 and set(tie["table"]["verdict changes"]) == {"no"}
    flip = convention_verdict(_bench_rows(-5.0, 8), _bench_rows(5.0, 8), ["avg_drop"], "black fill", "mean fill")
    assert flip["changed"] == 2 and set(flip["table"]["verdict changes"]) == {"yes"}
    assert "LOTS better with the black fill" in flip["text"] and "LOTS worse with the mean fill" in flip["text"]
