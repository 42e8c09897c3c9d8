"""ROAD (opt-in metric), Focus on mosaics and the Sobel edge baseline."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from helpers import TinyNet
from lotslib import focus as FO
from lotslib import metric_registry as MR
from lotslib.baselines import edge_maps
from lotslib.errors import ParameterError


class LeftHalfNet(nn.Module):
    """Two classes; class 0's logit is 20 * (mean brightness of the left half - 0.5), class 1's is 0.

    The evidence for class 0 lies in the left half only: a map ranking the left half first is
    the perfect ordering, one ranking the right half first the anti-ordering."""

    def forward(self, x):
        z = 20.0 * (x[..., : x.shape[-1] // 2].mean((1, 2, 3)) - 0.5)
        return torch.stack([z, torch.zeros_like(z)], 1)


def _step_image(n=16):
    x = torch.zeros(1, 3, n, n)
    x[..., : n // 2] = 1.0
    return x


def test_road_perfect_ordering_beats_the_anti_ordering_on_a_toy_model():
    x = _step_image()
    cols = torch.linspace(1, 0, 16).expand(16, 16)  # left columns most relevant, decreasing to the right
    perfect, anti = cols[None], (1 - cols)[None]
    rp = MR.road_scores(LeftHalfNet(), x, perfect, [0])
    ra = MR.road_scores(LeftHalfNet(), x, anti, [0])
    # removing the evidence first destroys the class (about 5 of 9 percentiles remove the whole left half)
    assert rp.morf[0] < -40 and ra.morf[0] > -5
    # keeping the evidence longest preserves it; the anti-ordering removes it first
    assert rp.lerf[0] > -5 and ra.lerf[0] < -40
    assert not rp.degenerate[0] and not ra.degenerate[0]


def test_road_equals_upstream_without_ties_and_keeps_pixels_with_ties():
    """Without ties the rank order selects the pixels pytorch-grad-cam selects (same scores);
    with a map that is 0 on half the image, upstream's threshold keeps no pixel at all."""
    from pytorch_grad_cam.metrics.perturbation_confidence import RemoveMostRelevantFirst
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer, ROADMostRelevantFirstAverage
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    net = TinyNet(0)
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    m = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(1))
    ours = MR.road_scores(net, x, m, [2], percentiles=(30, 70))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        up = ROADMostRelevantFirstAverage([30.0, 70.0])(x, m.numpy(), [ClassifierOutputSoftmaxTarget(2)], net)
    assert ours.morf[0] == pytest.approx(100 * float(up[0]), abs=1e-4)
    tied = torch.zeros(16, 16)
    tied[:, 8:] = torch.rand(16, 8, generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        black = RemoveMostRelevantFirst(10, NoisyLinearImputer(noise=0.0))(x[0], tied)  # should remove 90 %
        r = MR.road_scores(net, x, tied[None], [0], percentiles=(10,))
    assert float(black.abs().max()) == 0.0  # every pixel removed: a black image
    assert np.isfinite(r.morf).all() and not r.degenerate[0]
    const = MR.road_scores(net, x, torch.zeros(1, 16, 16), [0], percentiles=(50,))
    assert const.degenerate[0] and np.isfinite(const.morf[0])


def test_road_is_opt_in_and_table_5_2_gains_its_columns():
    from lotslib import sanity
    from lotslib.benchmark import table_5_2

    assert not set(m.key for m in MR.ROAD_METRICS) & set(MR.METRICS)  # not computed by default
    net = TinyNet(0)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    maps = {"gradcam": torch.rand(2, 32, 32), "edge": edge_maps(x, 5)}
    keys = [m.key for m in MR.ROAD_METRICS]
    rows = sanity.score_maps(net, x, maps, [0, 1], ["avg_drop"] + keys, metric_params={"road_percentiles": (30, 70)})
    assert np.allclose(rows["road"], (rows["road_lerf"] - rows["road_morf"]) / 2)
    try:
        for m in MR.ROAD_METRICS:
            MR.register_metric(m)
        t = table_5_2(rows, metrics=["avg_drop"] + keys)
        assert list(dict.fromkeys(t.columns.get_level_values(0))) == ["Avg Drop ↓", "ROAD MoRF ↓", "ROAD LeRF ↑",
                                                                      "ROAD ↑"]
        assert "Sobel edges" in t.index.get_level_values("method")
        with pytest.raises(ParameterError, match="road_percentiles"):
            MR.check_metric_params({"road_percentiles": [0, 50]})
    finally:
        for k in keys:
            MR.unregister_metric(k)
    assert list(MR.METRICS) == ["avg_drop", "avg_increase", "coherency", "insertion", "deletion"]


def test_focus_of_a_map_on_the_class_quadrant_is_100():
    m = torch.zeros(4, 8, 8)
    m[0, :4, :4] = 1.0  # exactly the top-left quadrant
    m[1, 4:, :] = 1.0  # both bottom quadrants
    m[2] = 1.0  # uniform
    q = np.array([[1, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 1]])
    f, degenerate = FO.focus_scores(m, q)
    assert f[0] == pytest.approx(100.0, abs=1e-6) and f[1] == pytest.approx(100.0, abs=1e-6)
    assert f[2] == pytest.approx(25.0, abs=1e-6)
    assert f[3] == 25.0 and degenerate.tolist() == [False, False, False, True]  # all-zero map: chance, flagged
    with pytest.raises(ParameterError, match="quadrants"):
        FO.focus_scores(m, q[:, :3])


def test_mosaics_tile_the_photos_in_their_quadrants():
    colours = torch.tensor([0.1, 0.4, 0.7, 1.0])
    x = colours.view(4, 1, 1, 1).expand(4, 3, 10, 12).clone()
    mos = FO.build_mosaics(x, [5, 6, 7, 8], arrangements=2)
    assert mos.x.shape == (2, 3, 10, 12)
    assert mos.photos.tolist() == [[0, 1, 2, 3], [3, 2, 1, 0]] and mos.classes[1].tolist() == [8, 7, 6, 5]
    tl, br = mos.x[0, 0, :5, :6], mos.x[0, 0, 5:, 6:]
    assert torch.allclose(tl, torch.tensor(0.1)) and torch.allclose(br, torch.tensor(1.0))
    assert torch.allclose(mos.x[1, 0, :5, :6], torch.tensor(1.0))  # photo 3 moved to the top left
    with pytest.raises(ParameterError, match="at least 4 photos"):
        FO.build_mosaics(x[:3], [1, 2, 3])


def test_focus_study_class_blind_maps_score_chance_by_construction():
    net = TinyNet(0)
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    res = FO.focus_study(net, x, [0, 1, 2, 3], ["gradcam", "edge"], arrangements=1, design="classes")
    r = res.rows
    assert len(r) == 2 * 4 and res.maps["edge"].shape == (4, 32, 32)
    edge = r[r["method"] == "edge"]
    assert edge["same_map"].all() and edge["focus"].mean() == pytest.approx(25.0, abs=1e-4)  # Quantus: float32
    v = FO.focus_verdict(r)
    assert v["table"].loc["Sobel edges", "class-blind"] and "by construction" in v["text"]


def test_edge_map_of_a_step_image_peaks_on_the_edge():
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1.0
    for size in (1, 9):
        m = edge_maps(x, size)[0]
        assert set(m.argmax(1).tolist()) <= {15, 16}  # every row peaks at the step
        assert float(m[:, :8].max()) < 0.05 and float(m[:, 24:].max()) < 0.05
    assert float(edge_maps(torch.full((1, 3, 8, 8), 0.3), 1).abs().max()) == 0.0  # a flat image has no edge


def test_edge_method_is_registered_model_free_and_not_a_cam():
    from lotslib import explain
    from lotslib.method_registry import CAM_METHODS, METHODS, get_method

    assert "edge" in METHODS and "edge" not in CAM_METHODS and get_method("edge").baseline
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    a, b = explain("edge", TinyNet(0), x, filter_size=5), explain("edge", TinyNet(1), x, targets=[3, 4], filter_size=5)
    assert torch.equal(a, b) and a.shape == (2, 32, 32)
    with pytest.raises(ParameterError, match="filter_size"):
        explain("edge", TinyNet(0), x, filter_size=4)


def test_target_mosaics_two_of_the_class_two_of_others_shuffled():
    """Arias-Duart et al.'s design: class 7 has photos 1 and 4, so each mosaic holds both and two
    photos of two other classes, in positions that the seed shuffles."""
    x = torch.linspace(0.05, 0.95, 6).view(6, 1, 1, 1).expand(6, 3, 8, 8).clone()
    cls = [3, 7, 5, 5, 7, 9]
    assert FO.target_classes(cls) == [7, 5]
    mos = FO.target_mosaics(x, cls, per_class=3, seed=0)
    assert len(mos.x) == 6 and mos.targets.tolist() == [7, 7, 7, 5, 5, 5]
    for row, t, c in zip(mos.photos, mos.targets, mos.classes):
        assert (c == t).sum() == 2 and len(set(c[c != t].tolist())) == 2  # two others, of two different classes
        assert sorted(row[c == t].tolist()) == ([1, 4] if t == 7 else [2, 3])
    assert len({tuple(np.flatnonzero(c == t)) for c, t in zip(mos.classes[:3], mos.targets[:3])}) > 1  # shuffled
    again = FO.target_mosaics(x, cls, per_class=3, seed=0)
    assert (again.photos == mos.photos).all()  # seeded
    assert len(FO.target_mosaics(x, [1, 2, 3, 4, 5, 6]).x) == 0  # one photo per class: no mosaic


def test_focus_study_target_design_states_n_and_ranks_nothing_from_four():
    net = TinyNet(0)
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    cls = [0, 1, 2, 2, 1, 3]
    res = FO.focus_study(net, x, cls, ["gradcam", "edge"], arrangements=2)
    r = res.rows
    assert len(r) == 2 * 4 and (r["chance"] == 50.0).all()  # 2 classes x 2 mosaics, one target class each
    assert set(r["quadrants"].str.count(",")) == {1}  # two quadrants per target class
    v = FO.focus_verdict(r)
    assert v["n"] == 4 and v["best"] is None and "too few images (n = 4)" in v["text"] and "highest" not in v["text"]
    five = FO.focus_verdict(pd.concat([r, r[r["mosaic"] == 0].assign(mosaic=4)], ignore_index=True))
    assert five["n"] == 5 and five["best"] == "Grad-CAM" and "highest mean Focus is Grad-CAM" in five["text"]
    empty = FO.focus_study(net, x, [0, 1, 2, 3, 4, 5], ["gradcam"])
    assert empty.rows.empty and "n = 0" in FO.focus_verdict(empty.rows)["text"]
