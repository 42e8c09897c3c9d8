"""The LOTS variants: the class logit (signed, per-step fall by hand), another class's
reference image (seeded, N/A when none), one cell of the last conv block (its map stays inside
the cell's receptive field, known by construction)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import TinyLinear, TinyNet, noise_image
from torch import nn

from lotslib import benchmark as B
from lotslib import explain_with_info
from lotslib import lots_variants as LT, targets as TG
from lotslib import receptive_field as RF
from lotslib.targets import open_reference, reference_targets
from lotslib.tensors import id_seed
from lotslib.data import folder
from lotslib.errors import DatasetError, ParameterError
from lotslib.attack import LocationObjective, LogitObjective, lots
from lotslib.method_registry import METHODS, default_params


def rand_images(n, hw=4, seed=1):
    return torch.rand(n, 3, hw, hw, generator=torch.Generator().manual_seed(seed)) * 0.6 + 0.2


# ------------------------------------------------------------------ class logit


def test_class_logit_falls_every_step_by_the_hand_computed_amount():
    """Linear logits z = Wx + b: the step -alpha w_c / max|w_c| lowers z_c by alpha ||w_c||^2 / max|w_c|."""
    m = TinyLinear()
    x = rand_images(3)
    cls = torch.tensor([0, 2, 4])
    alpha, iters = 0.01, 12  # 12 steps of 0.01 from pixels in [0.2, 0.8]: nothing is clamped
    r = lots(m, x, iters=iters, alpha=alpha, objective=LogitObjective(cls, stop="iters"))
    w = m.lin.weight[cls]
    fall = alpha * (w**2).sum(1) / w.abs().amax(1)
    z0 = m(x).gather(1, cls[:, None])[:, 0]
    expect = z0[:, None] - fall[:, None] * torch.arange(iters + 1)
    assert torch.allclose(r.trace.distances, expect, atol=1e-4)
    assert (r.trace.distances.diff(dim=1) < 0).all()  # down at every step
    assert r.trace.iterations.tolist() == [iters] * 3 and r.trace.stop_reason == ["max_iters"] * 3
    assert r.trace.params["objective"] == "logit" and r.trace.params["stop"] == "iters"


def test_a_negative_logit_is_still_pushed_down():
    """The signed logit: |z_c| would step the other way once z_c < 0 (FAME's fixed bug 7)."""
    m = TinyLinear()
    with torch.no_grad():
        m.lin.bias[1] = -40.0
    x = rand_images(2)
    assert (m(x)[:, 1] < 0).all()
    r = lots(m, x, iters=5, alpha=0.01, objective=LogitObjective(1, stop="iters"))
    assert (r.trace.distances.diff(dim=1) < 0).all() and (r.trace.distances[:, -1] < r.trace.distances[:, 0]).all()
    # the first step moves every pixel against w_1 (descending z_1), not along it
    r1 = lots(m, x, iters=1, alpha=0.01, objective=LogitObjective(1, stop="iters"))
    w = m.lin.weight[1].view(3, 4, 4)
    assert torch.allclose(r1.x_adv - x, (-0.01 * w / w.abs().max()).expand_as(x), atol=1e-6)


def test_rank_stop_ends_when_the_class_leaves_top1_and_margin_stop_after_the_fall():
    m = TinyLinear(seed=3)
    x = rand_images(2, seed=4)
    top = m(x).argmax(1)
    r = lots(m, x, iters=400, alpha=0.01, objective=LogitObjective(stop="rank"))
    k = r.trace.iterations
    assert r.trace.converged.all() and r.trace.stop_reason == ["converged"] * 2
    assert (r.trace.top1_after != top).all() and torch.equal(r.trace.top1_before, top)
    for j in range(2):  # one step fewer and the class is still top-1
        shorter = lots(m, x[j : j + 1], iters=int(k[j]) - 1, alpha=0.01,
                       objective=LogitObjective(int(top[j]), stop="iters"))
        assert int(m(shorter.x_adv).argmax(1)) == int(top[j])
    # a class that is not top-1: it stops once it lost a rank, not before its first step
    logits = m(x)
    second = logits.argsort(1, descending=True)[:, 1]
    r2 = lots(m, x, iters=400, alpha=0.01, objective=LogitObjective(second))
    after = m(r2.x_adv)
    rank = (after > after.gather(1, second[:, None])).sum(1)
    assert (r2.trace.iterations > 0).all() and (rank > 1).all() and r2.trace.converged.all()
    # margin: the last value is at least `margin` below the start, the one before it is not
    r3 = lots(m, x, iters=400, alpha=0.01, objective=LogitObjective(stop="margin", margin=0.5))
    d = r3.trace.distances
    for j in range(2):
        kj = int(r3.trace.iterations[j])
        assert d[j, kj] <= d[j, 0] - 0.5 < d[j, kj - 1]


def test_lots_logit_is_a_class_specific_table_5_2_method():
    net = TinyNet(0)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    a = explain_with_info("lots_logit", net, x, targets=[0, 0], iters=8, filter_size=5, stop="iters")
    b = explain_with_info("lots_logit", net, x, targets=[5, 5], iters=8, filter_size=5, stop="iters")
    assert a.maps.shape == (2, 32, 32) and float(a.maps.amax()) == 1.0 and float(a.maps.amin()) == 0.0
    assert not torch.allclose(a.maps, b.maps, atol=1e-3)  # another class, another map
    assert torch.allclose(a.trace.distances[:, 0], net(x)[:, 0], atol=1e-5)  # the trace holds the logit
    assert "lots_logit" in METHODS and METHODS["lots_logit"].name == "LOTS (class logit)"
    p = default_params("lots_logit")
    assert p["stop"] == "rank" and p["iters"] == 500 and "tau" not in p and "target" not in p
    calls = net.calls
    for bad, needle in (({"stop": "top5"}, "stop="), ({"margin": -1.0}, "margin="), ({"tau": 0.1}, "tau")):
        with pytest.raises(ParameterError, match=needle):
            explain_with_info("lots_logit", net, x, **bad)
    assert net.calls == calls  # rejected before any compute


# ------------------------------------------------------------------ location


class KnownField(nn.Module):
    """Three 3x3 convolutions (strides 1, 2, 2; padding 1) on 32x32 pixels -> an 8x8 block whose
    cell (i, j) sees input rows 4i-4 .. 4i+4 (and columns likewise), clipped to the image."""

    input_size = 32

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.c1, self.c2 = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.c3, self.fc = nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.Linear(8, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.cam_layer = self.c3
        self.name, self.weights_id = "knownfield", "knownfield:seed0"
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.fc(self.c3(F.relu(self.c2(F.relu(self.c1(x))))).mean((2, 3)))


def hand_box(i, j):
    return [max(0, 4 * i - 4), max(0, 4 * j - 4), min(32, 4 * i + 5), min(32, 4 * j + 5)]


def test_receptive_field_boxes_match_the_hand_computation():
    net = KnownField()
    assert RF.feature_map_size(net) == (8, 8)
    cells = RF.grid_cells(8, 8, 3)
    assert cells[:, 0, 0].tolist() == [1, 4, 6] and cells.shape == (3, 3, 2)
    assert RF.grid_cells(5, 5, 7).shape == (5, 5, 2)  # a map smaller than the grid: every cell
    assert RF.grid_cells(14, 14)[:, 0, 0].tolist() == list(range(1, 14, 2))
    boxes = RF.receptive_field_boxes(net, cells)
    assert boxes.tolist() == [[hand_box(int(i), int(j)) for i, j in row] for row in cells.tolist()]
    assert RF.cell_boxes([[1, 2]], (8, 8), (32, 32)).tolist() == [[4, 8, 8, 12]]
    with pytest.raises(ParameterError, match="outside the 8x8"):
        RF.receptive_field_boxes(net, [[8, 0]])


def test_location_maps_stay_inside_the_cells_receptive_field():
    net = KnownField()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 0.6 + 0.2
    sharp = LT.location_maps(net, x, grid=3, iters=6, alpha=0.02, filter_size=1)
    assert sharp.shape == (3, 3, 32, 32) and sharp.amin() >= 0 and sharp.amax() <= 1
    rf = LT.location_boxes(net, x, grid=3)
    share = RF.mass_inside(sharp, rf)
    assert torch.allclose(share, torch.ones(3, 3))  # no gradient, hence no perturbation, outside the field
    blurred = RF.mass_inside(LT.location_maps(net, x, grid=3, iters=6, alpha=0.02, filter_size=5), rf)
    assert (blurred > 0.8).all()  # a 5x5 blur spills a little over the box's edge
    under = RF.mass_inside(sharp, LT.location_boxes(net, x, grid=3, kind="cell"))
    assert (under < share).all()  # the 4x4 pixels under a cell hold only part of what it sees
    # the objective falls: sum_c |A[c,i,j]| of the cell
    r = lots(net, x.expand(2, -1, -1, -1), iters=6, alpha=0.02, objective=LocationObjective([[1, 1], [6, 4]]))
    assert (r.trace.distances[:, -1] < r.trace.distances[:, 0]).all() and r.trace.params["objective"] == "location"
    with pytest.raises(ParameterError, match="outside the 8x8"):
        lots(net, x, iters=2, objective=LocationObjective([9, 9]))
    with pytest.raises(ParameterError, match="feature objective"):
        lots(net, x, iters=2, tau=0.5, objective=LocationObjective([1, 1]))


# ------------------------------------------------------------------ other class

WNIDS = {3: "n01491361", 5: "n01496331", 7: "n01498041"}


def _labelled(root, files):
    root.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(files):
        noise_image(root / name, seed=sum(name.encode()) * 10 + k)  # distinct content per name
    rows = "".join(f"{name},{WNIDS[c]},{c},class{c}\n" for name, c in files.items())
    (root / "labels.csv").write_text("file,wnid,class_index,name\n" + rows)
    return root


def test_other_class_reference_is_another_class_seeded_and_clearly_refused_without_one(tmp_path):
    ref = open_reference(_labelled(tmp_path / "ref", {"a3.png": 3, "b3.png": 3, "a5.png": 5, "b5.png": 5,
                                                      "a7.png": 7}))
    drawn = [TG.other_class_reference(ref, 3, seed=s).id for s in range(16)]
    assert set(drawn) <= {"a5", "b5", "a7"} and len(set(drawn)) > 1  # never class 3, and really drawn
    assert drawn == [TG.other_class_reference(ref, 3, seed=s).id for s in range(16)]  # reproducible
    a5 = next(it for it in ref.items if it.id == "a5")
    assert all(TG.other_class_reference(ref, 7, seed=s, exclude_digest=a5.digest).id != "a5" for s in range(16))
    only3 = open_reference(_labelled(tmp_path / "only3", {"a3.png": 3, "b3.png": 3}))
    with pytest.raises(DatasetError, match="no reference image of a class other than 3"):
        TG.other_class_reference(only3, 3)
    net = TinyNet(0, name="tinyother")
    chosen = TG.other_class_reference(ref, 5, seed=3)
    with torch.no_grad():
        f = net(ref.select([chosen.id]).batch(net))[0]
    assert torch.allclose(TG.other_class_target(net, ref, 5, seed=3), f, atol=1e-6)


def test_benchmark_runs_lots_other_and_lots_logit(tmp_path):
    images = folder(_labelled(tmp_path / "eval", {"e3.png": 3, "e5.png": 5}))
    ref = open_reference(_labelled(tmp_path / "ref", {"r3.png": 3, "s3.png": 3}))  # class 3 only
    net = TinyNet(0, name="tinyother", weights_id="tinyother:seeded")
    t = reference_targets(net, "other", ref, images.items, images.labels, torch.tensor([0, 0]), "logits", seed=1)
    assert t.ok.tolist() == [False, True] and t.na_reasons[0].startswith("no reference image of a class other than 3")
    assert t.classes[1] == 3 and t.reference_ids[1] == TG.other_class_reference(ref, 5, id_seed(1, "e5")).id
    df = B.run([net], ["lots_other", "lots_logit"], images, reference=ref, cache_dir=tmp_path / "c", progress=False,
               params={"lots": {"iters": 3, "tau": 0.1, "filter_size": 5}, "metrics": {"steps": 4}})
    other = df[df["method"] == "lots_other"].set_index("image_id")
    assert other.loc["e3", "na_reason"] != "" and np.isnan(float(other.loc["e3", "coherency"]))
    assert other.loc["e5", "na_reason"] == "" and other.loc["e5", "target_reference"] in {"r3", "s3"}
    logit = df[df["method"] == "lots_logit"]
    assert (logit["na_reason"] == "").all() and logit["lots_iters"].between(1, 3).all()
    assert np.isfinite(logit[["avg_drop", "coherency", "insertion", "deletion"]].astype(float).to_numpy()).all()
    assert "LOTS (class logit)" in B.table_5_2(df).index.get_level_values("method")
