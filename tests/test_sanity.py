"""lotslib.sanity: cascading model randomisation, the random-logit test, and their verdicts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TinyNet
from lotslib import sanity
from lotslib.errors import ParameterError


@pytest.fixture(scope="module")
def x16():
    return torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def test_units_and_schedule():
    net = TinyNet(0)
    assert [n for n, _ in sanity.randomisation_units(net)] == ["conv1", "conv2", "fc"]  # cam_layer alias skipped
    assert sanity.cascade_schedule(21, 3) == [1, 11, 21]
    assert sanity.cascade_schedule(21, 1) == [21]
    assert sanity.cascade_schedule(3, 10) == [1, 2, 3]
    with pytest.raises(ParameterError, match="steps=0"):
        sanity.cascade_schedule(5, 0)


def test_randomise_top_reinitialises_only_the_top_units_of_a_copy():
    net = TinyNet(0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    one = sanity.randomise_top(net, 1, seed=5)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # the original is untouched
    assert not torch.equal(one.fc.weight, net.fc.weight)
    assert torch.equal(one.conv2.weight, net.conv2.weight) and torch.equal(one.conv1.weight, net.conv1.weight)
    assert one.cam_layer is one.conv2  # the copy's CAM layer is its own
    two = sanity.randomise_top(net, 2, seed=5)
    assert torch.equal(two.fc.weight, one.fc.weight)  # cumulative: the same top unit as with k=1
    assert not torch.equal(two.conv2.weight, net.conv2.weight)
    with pytest.raises(ParameterError, match="0..3"):
        sanity.randomise_top(net, 4)


def test_map_similarity_known_values():
    a = torch.arange(16.0).view(1, 4, 4) / 15
    rho, q = sanity.map_similarity(a, a.clone())
    assert rho[0] == 1.0 and q[0] == 1.0
    rho, _ = sanity.map_similarity(a, 1 - a)
    assert rho[0] == pytest.approx(-1.0)
    rho, q = sanity.map_similarity(a, torch.zeros(1, 4, 4))
    assert rho[0] == 0.0 and q[0] < 0.5
    with pytest.raises(ParameterError, match="same shape"):
        sanity.map_similarity(a, torch.zeros(1, 4, 5))


def test_randomising_every_layer_drives_gradcam_similarity_to_zero(x16):
    net = TinyNet(0)
    res = sanity.cascading_randomisation(net, x16, ["gradcam", "edge"], steps=3, seed=1)
    s = sanity.randomisation_summary(res.rows)
    assert list(res.maps) == [0, 1, 2, 3] and res.labels == ["original", "fc", "fc…conv2", "all"]
    assert s.loc[("Grad-CAM", 0), "spearman"] == 1.0
    assert abs(s.loc[("Grad-CAM", 3), "spearman"]) < 0.2  # every layer randomised: nothing of the map is left
    assert (s.xs("Sobel edges")["spearman"] == 1.0).all()  # the image-only map cannot change
    v = sanity.randomisation_verdict(res.rows)
    assert v["table"].loc["Grad-CAM", "passes"] and not v["table"].loc["Sobel edges", "passes"]
    assert "1 of 2 methods pass" in v["text"] and "Sobel edges (1.00)" in v["text"]
    assert all(p.requires_grad is False for p in net.parameters())  # the model itself was never touched


def test_original_maps_are_reused_not_recomputed(x16):
    net = TinyNet(0)
    fake = torch.rand(16, 32, 32, generator=torch.Generator().manual_seed(0))
    res = sanity.cascading_randomisation(net, x16, ["gradcam"], steps=1, original={"gradcam": fake})
    assert torch.equal(res.maps[0]["gradcam"], fake)


def test_other_classes_are_uniform_over_the_others_and_seeded():
    c = torch.tensor([0, 5, 9] * 300)
    o = sanity.other_classes(c, 10, seed=2)
    assert (o != c).all() and int(o.min()) >= 0 and int(o.max()) <= 9
    assert torch.equal(o, sanity.other_classes(c, 10, seed=2))
    counts = np.bincount(o[c == 5].numpy(), minlength=10)
    assert counts[5] == 0 and counts.min(initial=999, where=np.arange(10) != 5) > 15  # ~33 each of the 9 others
    with pytest.raises(ParameterError, match="n_classes"):
        sanity.other_classes(c, 1)


def test_random_logit_zero_lots_cannot_change_gradcam_does(x16):
    net = TinyNet(0)
    x = x16[:4]
    params = {"lots": {"iters": 3, "filter_size": 5}}
    res = sanity.random_logit_test(net, x, ["gradcam", "lots"], params=params, seed=0)
    r = res.rows.set_index(["method", "image"])
    assert (res.rows["class"] != res.rows["other_class"]).all()
    assert (r.loc["lots", "max_abs_diff"] == 0).all() and (r.loc["lots", "ssim"] == 1).all()
    assert r.loc["gradcam", "max_abs_diff"].max() > 0.1
    v = sanity.random_logit_verdict(res.rows)
    assert v["table"].loc["LOTS", "verdict"] == "same map"
    assert "by construction" in v["text"] and "largest pixel difference 0" in v["text"]


def test_method_params_pass_only_what_a_method_takes():
    p = {"iters": 40, "tau": 0.1, "alpha": 1 / 255, "filter_size": 49, "batch_size": 4, "steps": 16}
    out = sanity.method_params(["gradcam", "edge", "lots"], p)
    assert out["gradcam"] == {"batch_size": 4}
    assert out["edge"] == {"filter_size": 49, "batch_size": 4}
    assert out["lots"] == {"iters": 40, "tau": 0.1, "alpha": 1 / 255, "filter_size": 49, "batch_size": 4}


def _rows(values: dict, n: int = 2) -> pd.DataFrame:
    """Hand-made cascade rows: {method: [rho at step 0, 1, 2]} for ``n`` images (default two)."""
    out = []
    for m, rhos in values.items():
        for s, rho in enumerate(rhos):
            for i in range(n):
                out.append({"step": s, "units": s, "label": ["original", "fc", "all"][s], "method": m,
                            "method_name": m, "image": i, "spearman": rho, "ssim": rho, "edge_spearman": 0.3,
                            "degenerate": False})
    return pd.DataFrame(out)


def test_randomisation_verdict_from_numbers():
    v = sanity.randomisation_verdict(_rows({"gradcam": [1, 0.6, 0.1], "lots": [1, 0.9, 0.8]}, n=5), threshold=0.5)
    assert v["passed"] == ["Grad-CAM (0.10)"] and v["failed"] == ["LOTS (0.80)"]
    assert "1 of 2 methods pass" in v["text"] and "1 fails" in v["text"]
    assert "rank correlation of 0.80" in v["text"] and "the image, not the model" in v["text"]
    assert "network (fc) re-initialised, zero-target LOTS keeps a mean |ρ| of 0.90" in v["text"]
    assert v["table"].loc["LOTS", "why it fails"] == "|ρ| 0.80 > 0.5"
    assert v["table"].loc["Grad-CAM", "why it fails"] == ""
    v = sanity.randomisation_verdict(_rows({"gradcam": [1, 0.6, 0.1], "lots": [1, 0.5, -0.2]}, n=5), threshold=0.5)
    assert "depends on the learned weights" in v["text"] and "2 of 2 methods pass" in v["text"]
    # the same numbers on 4 photos: measured, but no conclusion on what the map depends on
    v = sanity.randomisation_verdict(_rows({"gradcam": [1, 0.6, 0.1], "lots": [1, 0.9, 0.8]}, n=4), threshold=0.5)
    assert "too few images (n = 4)" in v["text"] and "4 photos" in v["text"]
    assert "the image, not the model" not in v["text"] and "no conclusion" in v["text"]


def _road_rows(n: int) -> pd.DataFrame:
    ids = np.repeat([f"im{i}" for i in range(n)], 3)
    rows = pd.DataFrame({"method": ["gradcam", "lots", "edge"] * n, "image_id": ids,
                         "road_morf": [-30.0, -10.0, -12.0] * n, "road_lerf": [-2.0, -8.0, -9.0] * n})
    rows["road"] = (rows["road_lerf"] - rows["road_morf"]) / 2
    return rows


def test_road_verdict_ranks_by_combined_road():
    v = sanity.road_verdict(_road_rows(5))
    assert v["best"] == "Grad-CAM" and list(v["table"]["rank"]) == [1, 2, 3]
    assert "Zero-target LOTS ranks 3 of 3 (1.00)" in v["text"] and "does not have a higher mean" in v["text"]
    assert "over 5 photos" in v["text"]


def test_road_verdict_ranks_nothing_from_four_photos():
    v = sanity.road_verdict(_road_rows(4))
    assert v["best"] is None and v["table"]["rank"].isna().all()
    assert "too few images (n = 4)" in v["text"] and "ranks" not in v["text"].replace("ranked", "")
    assert "Grad-CAM 14.00" in v["text"]  # the values are still shown


def test_sanity_figures_render(x16):
    import matplotlib

    matplotlib.use("Agg")
    net = TinyNet(0)
    res = sanity.cascading_randomisation(net, x16[:2], ["gradcam", "edge"], steps=2)
    from lotsbook.pages import sanity as sanity_figures

    f1 = sanity_figures.randomisation_figure(x16[:2], res)
    f2 = sanity_figures.similarity_figure(res.rows)
    panels = [ax for ax in f1.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 3 and len(f1.axes) == 2 * 3 + 1 and len(f2.axes) == 2  # one jet colour bar


def test_baseline_verdict_counts_the_metrics_lots_wins():
    rows = pd.DataFrame({"method": ["lots", "lots", "edge", "edge"], "image_id": ["a", "b", "a", "b"],
                         "avg_drop": [20.0, 30.0, 60.0, 70.0], "insertion": [40.0, 40.0, 50.0, 60.0]})
    few = sanity.baseline_verdict(rows, ["avg_drop", "insertion"])
    assert few["better"] is None and "too few images (n = 2)" in few["text"] and "beats" not in few["text"]
    rows = pd.concat([rows.assign(image_id=rows["image_id"] + str(k)) for k in range(3)], ignore_index=True)  # 6
    v = sanity.baseline_verdict(rows, ["avg_drop", "insertion"])
    assert v["better"] == 1 and v["table"].loc["Avg Drop ↓", "better"] and not v["table"].loc["Insertion ↑", "better"]
    assert "1 of 2 metrics (Average Drop)" in v["text"] and "Insertion (55.0 vs 40.0)" in v["text"]
    with pytest.raises(ParameterError, match="Unknown metric"):
        sanity.baseline_verdict(rows, ["nope"])


def test_location_verdict_shares_and_chance():
    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, :4, :4] = 1.0  # all of the map in the first cell's area
    maps[0, 1] = 1.0  # spread over the whole image
    rf = torch.tensor([[[0, 0, 8, 8], [0, 0, 8, 8]]])
    cells = torch.tensor([[[0, 0, 4, 4], [0, 4, 4, 8]]])
    v = sanity.location_verdict(maps, rf, cells)
    t = v["table"]
    assert t["mass in cell area %"].tolist() == [100.0, 25.0] and t["cell area %"].tolist() == [25.0, 25.0]
    assert (t["mass in receptive field %"] == 100.0).all()
    assert "more than their area on 1 of 2 cells" in v["text"]


def test_lots_summary_has_one_bullet_per_check_with_numbers():
    cascade = _rows({"gradcam": [1, 0.6, 0.1], "lots": [1, 0.9, 0.8]})
    logit = pd.DataFrame({"method": ["lots", "gradcam"], "method_name": ["LOTS", "Grad-CAM"], "image": [0, 0],
                          "class": [1, 1], "other_class": [5, 5], "spearman": [1.0, 0.1], "ssim": [1.0, 0.2],
                          "max_abs_diff": [0.0, 0.9]})
    focus_table = pd.DataFrame({"Focus %": [25.0], "chance %": [25.0], "Focus on the mosaic's top-1 class %": [61.0],
                                "class-blind": [True]}, index=["LOTS"])
    text = sanity.lots_summary(cascade, logit, focus_table)
    lines = text.splitlines()
    assert len(lines) == 3 and all(line.startswith("- **") for line in lines)
    assert "fails on 2 photos (mean |ρ| 0.80" in lines[0] and "same map (SSIM 1.00" in lines[1]
    assert "too few images (n = 2): a measurement, not a verdict" in lines[0]
    assert "25.0% (chance 25%, by construction; 61.0% on the mosaic's top-1 class)" in lines[2]


def test_a_constant_map_fails_the_randomisation_test_instead_of_passing_by_degeneracy():
    """A constant map has Spearman 0 with any other map (map_similarity's convention): |rho| = 0
    is below every pass mark, yet the map shows nothing. It must fail."""
    a = torch.arange(16.0).view(1, 4, 4) / 15
    flat = torch.full((1, 4, 4), 0.5)
    assert sanity.map_similarity(a, flat)[0][0] == 0.0  # the degenerate value that used to pass
    rows = _rows({"gradcam": [1, 0.6, 0.1], "lots": [1, 0.0, 0.0]})
    v = sanity.randomisation_verdict(rows, threshold=0.5)
    assert v["table"].loc["LOTS", "passes"]  # without the constant flag, |rho| = 0 passes
    rows["constant"] = (rows["method"] == "lots") & (rows["step"] == 2) & (rows["image"] == 0)
    v = sanity.randomisation_verdict(rows, threshold=0.5)
    assert not v["table"].loc["LOTS", "passes"] and v["table"].loc["LOTS", "constant maps"] == 1
    assert v["table"].loc["Grad-CAM", "passes"] and "1 fails" in v["text"]
    assert "LOTS (0.00; a constant map on 1 of 2)" in v["failed"] and "no pass by degeneracy" in v["text"]
    assert v["table"].loc["LOTS", "why it fails"] == "constant map on 1 of 2 photos: no ranks, ρ undefined"
    for mark in (0.3, 0.5, 0.7, 1.0):  # at no pass mark does a constant map pass
        assert not sanity.randomisation_verdict(rows, threshold=mark)["table"].loc["LOTS", "passes"]
    rows = rows.drop(columns="constant")  # rows without the column: the degenerate flag (an all-zero map) counts
    rows["degenerate"] = (rows["method"] == "lots") & (rows["step"] == 0)
    assert not sanity.randomisation_verdict(rows)["table"].loc["LOTS", "passes"]


def test_cascade_rows_flag_constant_maps(x16):
    net = TinyNet(0)
    flat = torch.full((4, 32, 32), 0.5)
    res = sanity.cascading_randomisation(net, x16[:4], ["gradcam"], steps=1, original={"gradcam": flat})
    assert res.rows["constant"].all()  # the original is constant: every step's rho is undefined
    assert not sanity.randomisation_verdict(res.rows)["table"].loc["Grad-CAM", "passes"]
