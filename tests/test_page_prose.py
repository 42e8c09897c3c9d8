"""The generated "What this shows" sentences and the per-page run tables, on hand-made inputs:
each sentence must flip where its numbers do (n below and at the verdict minimum, a monotonic
and a non-monotonic curve) and must carry the numbers it is written from."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lotsbook.chapter import run_parameters, run_table
from lotsbook.pages import parameters, qualitative, visualization
from lotsbook.profiles import CHAPTER_PARAMS, PARAM_LABELS, PARAM_NAMES, BookProfile
from lotslib.errors import InputRangeError, ParameterError
from lotslib.studies import top_overlap


# ------------------------------------------------------------------ run tables
def test_a_pages_run_table_lists_only_the_parameters_it_uses():
    rows = list(run_table(BookProfile(), "2").data.index)
    assert rows == [PARAM_LABELS[k] for k in run_parameters("2") if k != "image_path"]  # no folder: no row
    assert PARAM_LABELS["n_grid"] not in rows and PARAM_LABELS["steps"] not in rows  # chapter 2 uses neither
    assert PARAM_LABELS["iters"] in rows and PARAM_LABELS["figure_iters"] in rows  # LOTS runs there
    assert set(run_parameters("2")) == set(CHAPTER_PARAMS["2"])


def test_a_page_without_a_list_shows_every_parameter_and_chapter_settings_have_no_thesis_value():
    assert run_parameters("provenance") == [k for k in PARAM_NAMES
                                            if k not in ("cache_dir", "device", "seed", "ground_truth")]
    df = run_table(BookProfile(), "7").data
    assert df.loc[PARAM_LABELS["patience"], "thesis"] == ""  # not a thesis parameter
    assert df.loc[PARAM_LABELS["patience"], "this run"] == "50"
    assert df.loc[PARAM_LABELS["alpha"], "this run"] == "1/255"  # α in grey levels, not 0.00392157


# ------------------------------------------------------------------ chapter 2: the threshold curve
def _kept(drops, confs):
    return pd.DataFrame({"pixels kept (%)": [100.0, 50.0, 20.0, 10.0][:len(drops)],
                         "confidence on x ⊙ map (%)": confs, "drop (%)": drops},
                        index=pd.Index(["0.0", "0.5", "0.8", "0.9"][:len(drops)], name="quantile q"))


def test_threshold_summary_says_when_the_curve_is_not_monotonic_and_gives_the_numbers():
    bumpy = visualization.threshold_summary(_kept([20.0, 35.0, 0.0, 78.8], [60.0, 50.0, 90.0, 16.0]))
    assert "not monotonic" in bumpy and "35.0% at q = 0.5 to 0.0% at q = 0.8" in bumpy
    assert "n = 1" in bumpy and "78.8%" in bumpy and "at least the original's" in bumpy
    steady = visualization.threshold_summary(_kept([20.0, 35.0, 50.0, 78.8], [60.0, 50.0, 40.0, 16.0]))
    assert "not monotonic" not in steady and "never falls" in steady


# ------------------------------------------------------------------ chapter 5: the overlap of the top 10%
def test_top_overlap_is_one_for_the_same_map_zero_for_opposite_ones_and_random_near_chance():
    a = torch.rand(40, 30, 30, generator=torch.Generator().manual_seed(0))
    b = torch.rand(40, 30, 30, generator=torch.Generator().manual_seed(1))
    assert np.allclose(top_overlap(a, a), 1) and np.allclose(top_overlap(a, -a), 0)
    assert abs(top_overlap(a, b).mean() - 0.1 / 1.9) < 0.01
    half = torch.zeros(1, 10, 10)
    half[0, :1] = 1  # top 10% = the first row
    other = torch.zeros(1, 10, 10)
    other[0, 0, :5], other[0, 1, :5] = 1, 1  # shares 5 of its 10 pixels: IoU 5 / 15
    assert top_overlap(half, other)[0] == pytest.approx(1 / 3)
    with pytest.raises(InputRangeError):
        top_overlap(a, b[:, :10])
    with pytest.raises(ParameterError):
        top_overlap(a, b, 0)


def test_overlap_summary_states_n_median_range_and_generalises_only_from_five_images():
    four = qualitative.overlap_summary({"Figure 5.3 (net)": [0.1, 0.2, 0.3, 0.4]})
    assert "n = 4" in four and "median intersection over union of 0.25" in four and "0.10–0.40" in four
    assert "too few images (n = 4)" in four and "lie above" not in four
    five = qualitative.overlap_summary({"Figure 5.3 (net)": [0.01, 0.2, 0.3, 0.4, 0.5]})
    assert "too few" not in five and "4 of 5 images lie above the random level" in five


# ------------------------------------------------------------------ chapter 7: budget, α and blur studies
def _cams(ids, drop):
    return pd.DataFrame([{"method": m, "method_name": m.upper(), "image_id": i, "avg_drop": d,
                          "increase": 0.0, "insertion": 50.0, "deletion": 40.0}
                         for m, shift in (("gradcam", 0.0), ("hirescam", 1.0)) for i, d in zip(ids, drop + shift)])


def _curve(n, lots_drop):
    ids = [f"im{i}" for i in range(n)]
    rows = [{"image_id": i, "cap": cap, "avg_drop": d + (cap == 10) * 10.0, "increase": 0.0, "insertion": 50.0,
             "deletion": 40.0} for cap in (10, 500) for i, d in zip(ids, lots_drop)]
    return pd.DataFrame(rows), ids


def test_budget_shape_gives_the_spread_and_draws_verdicts_only_from_five_photos():
    curve, ids = _curve(4, np.arange(4.0))
    text = parameters.budget_shape(curve, _cams(ids, np.arange(4.0) + 50))
    assert "n = 4" in text and "a spread of 10.0 points" in text and "too few images (n = 4)" in text
    curve, ids = _curve(8, np.arange(8.0))
    text = parameters.budget_shape(curve, _cams(ids, np.arange(8.0) + 50))  # LOTS 50 points lower: better
    assert "too few" not in text and "At 500 iterations" in text and "Avg Drop: 2 better, 0 worse" in text


def _alpha_rows(n, dist):
    return pd.DataFrame([{"image_id": f"im{i}", "alpha_255": k, "iterations": 40, "distance": d + i * 0.01,
                          "pearson_vs_reference": 1.0 if k == 1 else 0.9, "avg_drop": 30.0 + k + i}
                         for i in range(n) for k, d in zip((0.5, 1, 2, 4), dist)])


def test_alpha_shape_says_whether_the_distance_falls_and_tests_only_from_five_photos():
    falls = parameters.alpha_shape(_alpha_rows(3, (11.0, 7.0, 5.0, 3.0)), 1 / 255)
    assert "falls as α grows" in falls and "n = 3" in falls and "too few images (n = 3)" in falls
    bumpy = parameters.alpha_shape(_alpha_rows(6, (11.0, 7.0, 8.0, 3.0)), 1 / 255)
    assert "does not fall steadily" in bumpy and "too few" not in bumpy and "Holm-corrected" in bumpy


def _filter_rows(n, best_drop):
    ids = [f"im{i}" for i in range(n)]
    rows = [{"image_id": i, "filter_size": k, "sigma": s, "avg_drop": (best_drop if (k, s) == (49, "15") else 40.0) + j}
            for j, i in enumerate(ids) for k in (25, 49) for s in ("default", "15")]
    return pd.DataFrame(rows), ids


def test_filter_shape_compares_the_best_setting_with_the_cams_only_from_five_photos():
    pp, ids = _filter_rows(3, 5.0)
    few = parameters.filter_shape(pp, _cams(ids, np.full(3, 30.0)), 49)
    assert "n = 3" in few and "too few images (n = 3)" in few and "49 × 49, σ 15" in few and "LOTS better" not in few
    pp, ids = _filter_rows(8, 5.0)
    many = parameters.filter_shape(pp, _cams(ids, np.full(8, 30.0)), 49)
    assert "LOTS better: 2" in many and "picked after looking" in many
    pp, ids = _filter_rows(8, 39.0)  # the best setting is no lower than the CAMs: LOTS worse
    assert "LOTS worse: 2" in parameters.filter_shape(pp, _cams(ids, np.full(8, 10.0)), 49)
