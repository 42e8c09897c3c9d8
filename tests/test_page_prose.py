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


# ------------------------------------------------------------------ chapters 1, 3/4, 6 and 8: "What this shows"
def test_attack_summary_states_n_and_says_what_the_cap_means_only_from_five_photos():
    from lotsbook.pages import attack

    def text(n, reached=0):
        return attack.attack_summary(np.full(n, 40.0), np.full(n, 10.0), [True] * reached + [False] * (n - reached),
                                     0.1, 500, 75.0, 60.0, 5.0)
    four, five = text(4), text(5)
    assert "these 4 photos" in four and "from 40.00 to 10.00 (25% of its start" in four and "0 of 4 runs" in four
    assert "too few images (n = 4)" in four and "iteration cap, not τ" not in four
    assert "too few" not in five and "iteration cap, not τ, ends LOTS" in five
    assert "40% of the runs stopped at τ" in text(5, reached=2)


def _tests(n, verdicts):
    idx = pd.MultiIndex.from_tuples([("net", metric, cam) for metric in ("Avg Drop ↓", "Coherency ↑")
                                     for cam in ("Grad-CAM", "HiRes-CAM")], names=["model", "metric", "CAM method"])
    return pd.DataFrame({"n": n, "verdict": verdicts}, index=idx)


def test_tests_summary_counts_the_tables_verdicts_and_draws_none_from_four_images():
    from lotsbook.pages.benchmark import tests_summary

    few = tests_summary(_tests(4, ["too few images"] * 4))[0]
    assert "too few images (n = 4)" in few and "no verdict" in few and "worse" not in few
    five = tests_summary(_tests(5, ["no significant difference", "no significant difference", "LOTS worse",
                                    "LOTS better"]))[0]
    assert "n = 5 images" in five and "Coherency ↑: LOTS worse in 1 of 2, better in 1 of 2" in five
    assert "no significant difference on Avg Drop ↓" in five and "too few" not in five


def test_unseen_summary_gives_the_remaining_share_and_compares_targets_only_from_five_photos():
    from lotsbook.pages.unseen import unseen_summary

    def dist(n):
        rows = [{"photo": f"p{i}", "target": t, "distance before": 10.0, "distance after": after,
                 "iterations": 40, "reached τ": "no"} for i in range(n) for t, after in (("extracted", 2.0),
                                                                                       ("zero", 5.0))]
        return pd.DataFrame(rows).set_index(["photo", "target"])
    two = unseen_summary(dist(2))
    assert "extracted target 10.00 → 2.00 (20% left)" in two and "too few images (n = 2)" in two
    five = unseen_summary(dist(5))
    assert "too few" not in five and "smaller share on 5 of 5 photos" in five


def test_sanity_overview_marks_each_check_below_five_as_a_description():
    from lotsbook.pages.sanity import sanity_overview

    lv = pd.Series(["changes", "same map", "changes"])
    three = sanity_overview(["A", "B"], ["C"], lv, 3, 1, 5)
    assert "3 photos, too few images (n = 3): a description" in three and "2 of 3 methods pass" in three
    assert "1 mosaic, too few images (n = 1)" in three and "ROAD on 5 photos." in three
    assert "too few" not in sanity_overview(["A"], [], lv, 5, 6, 5)


# ------------------------------------------------------------------ chapter 4: two tables of the same quantity
def test_coherency_note_explains_a_difference_only_when_there_is_one():
    from lotsbook.pages.benchmark import coherency_note

    same = coherency_note(79.71, 79.68, True, 4)
    assert "79.7% here, the benchmark row's value" in same and "points" not in same
    other = coherency_note(79.2, 79.7, False, 4)
    assert "79.2% here against 79.7%" in other and "-0.5 points" in other and "batch of up to 4" in other


def test_timing_gap_names_both_tables_numbers_and_their_ratio():
    from lotsbook.pages.benchmark import timing_gap
    from lotslib.benchmark.timing import PATHS

    cut, stock = list(PATHS)
    methods = ["Grad-CAM", "HiRes-CAM", "SmoothGrad-CAM++"]
    paths = pd.DataFrame({("net", cut): [60.0, 40.0, 700.0], ("net", stock): [120.0, 80.0, 2000.0]}, index=methods)
    t53 = pd.DataFrame({("this run", "net"): [30.0, 40.0, 100.0], ("thesis", "resnet50"): [1.0, 2.0, 3.0]},
                       index=methods)
    gap = timing_gap(paths, t53)
    assert gap["here"] == 60.0 and gap["table"] == 30.0 and gap["ratio"] == pytest.approx(1.5)  # SmoothGrad left out
    assert "Grad-CAM 60.0 ms here and 30.0 ms there (net)" in gap["text"]
    assert timing_gap(paths, t53.rename(columns={"net": "other"}))["text"] == ""


def test_cam_path_timing_times_the_map_of_a_given_top1_class(monkeypatch):
    import lotslib.benchmark.timing as timing

    seen = []
    monkeypatch.setattr(timing, "explain_with_info", lambda method, model, x, targets=None, **kw: seen.append(targets))

    class Net(torch.nn.Module):
        name = "toy"

        def forward(self, x):
            return x.flatten(1)[:, :3]

    class Images:
        def batch(self, model):
            return torch.eye(3).reshape(3, 3, 1, 1)

    rows = timing.cam_path_timing(Net(), ["gradcam"], Images())
    assert len(rows) == len(timing.PATHS) and all(t is not None for t in seen)  # never found inside the timed call
    assert [int(t) for t in seen[1:4]] == [0, 1, 2]  # each image's own top-1 class


def test_the_benchmark_summary_is_written_from_the_tests_tables_own_verdicts(monkeypatch):
    from lotsbook.pages import benchmark
    from lotslib.method_registry import method_name

    rng = np.random.default_rng(0)
    df = pd.DataFrame([{"model": "net", "method": m, "method_name": method_name(m), "image_id": f"im{i}",
                        "avg_drop": 20 + rng.random(), "increase": 0.0, "insertion": 50 + rng.random(),
                        "coherency": 90.0 + rng.random() - 20 * (m == "lots"), "deletion": 40 + rng.random(),
                        "ms_per_map": 1000.0 if m == "lots" else 20.0 + i, "flagged": False, "flag": "",
                        "na_reason": "", "degenerate": False, "threads": 1}
                       for m in benchmark.THESIS_METHODS for i in range(12)])
    said = []
    monkeypatch.setattr(benchmark, "note", said.append)
    benchmark.show_benchmark_summary(df)
    worse = benchmark.best_cam_tests(df).xs("Coherency ↑", level="metric")["verdict"].eq("LOTS worse").sum()
    assert worse == 5 and "n = 12 images: Coherency ↑: LOTS worse in 5 of 5" in said[0]
    assert "a LOTS map takes 39 times as long as one of" in said[0]  # 1000 ms ÷ a CAM map's mean 25.5 ms


def test_a_run_table_has_one_header_row_headed_parameter():
    html = run_table(BookProfile(), "2").to_html()
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert head.count("<tr>") == 1 and ">parameter</th>" in head
