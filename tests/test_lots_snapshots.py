"""One LOTS run serves every shorter budget: a snapshot equals a separate run stopped there,
the store answers the shorter budget from it, and the two step spaces on a hand-computed step."""
import numpy as np
import pytest
import torch
from helpers import TinyLinear, bench_images, tinyrel

from lotslib import lots_store as S
from lotslib.attack import lots
from lotslib.errors import ParameterError
from lotslib.params import BUDGETS, LotsParams


def _images(n, hw=4, seed=3):
    return torch.rand(n, 3, hw, hw, generator=torch.Generator().manual_seed(seed)) * 0.6 + 0.2


@pytest.mark.parametrize("extra", [{}, {"patience": 3, "min_delta": 0.05}])
def test_a_snapshot_is_bit_identical_to_a_run_stopped_there(extra):
    m = TinyLinear()
    x = _images(4)
    with torch.no_grad():
        f = m(x)
    # sample 2 starts at its target (converged at 0), sample 3 converges on the way
    t = torch.stack([torch.zeros(5), f[1] * 3, f[2], f[3] * 0.9])
    full = lots(m, x, target=t, iters=30, tau=0.5, alpha=0.02, snapshots=[4, 11, 30], **extra)
    assert full.trace.snapshot_state[30]["stop_reason"] == full.trace.stop_reason
    seen = set()
    for k in (4, 11):
        short = lots(m, x, target=t, iters=k, tau=0.5, alpha=0.02, **extra)
        assert torch.equal(full.trace.snapshots[k], short.x_adv)
        assert torch.equal(full.trace.distances[:, : k + 1], short.trace.distances)
        st = full.trace.snapshot_state[k]
        assert torch.equal(st["iterations"], short.trace.iterations)
        assert torch.equal(st["converged"], short.trace.converged)
        assert st["stop_reason"] == short.trace.stop_reason
        assert torch.equal(st["top1_after"], short.trace.top1_after)
        seen |= set(short.trace.stop_reason)
    assert "converged" in seen and "max_iters" in seen  # the case covers both kinds of sample


def test_the_store_answers_a_shorter_budget_from_the_longer_run(tmp_path):
    net = tinyrel()
    x = bench_images().head(3).batch(net)
    long = S.stored_lots(net, x, store_dir=tmp_path, iters=25)
    assert long.trace.params["cached"] == 0
    # BUDGETS below 25 were written as entries of their own
    assert S.snapshot_budgets({"iters": 25}) == [b for b in BUDGETS if b < 25] == [10, 20]
    read = S.stored_lots(net, x, store_dir=tmp_path, iters=20)
    assert read.trace.params["cached"] == 3
    direct = lots(net, x, iters=20)
    assert torch.equal(read.x_adv, direct.x_adv)
    assert torch.equal(read.trace.distances, direct.trace.distances)
    assert read.trace.iterations.tolist() == direct.trace.iterations.tolist()
    assert read.trace.top1_after.tolist() == direct.trace.top1_after.tolist()
    # the ledger counts the longer run's passes once: the snapshot read computed nothing
    counts = S.pass_counts(tmp_path)
    assert counts["runs_computed"] == 3 and counts["runs_read"] == 3
    # a budget that is not a snapshot is computed
    assert S.stored_lots(net, x[:1], store_dir=tmp_path, iters=15).trace.params["cached"] == 0
    # a decaying alpha keeps no snapshots: its step k depends on iters
    assert S.snapshot_budgets({"iters": 500, "alpha_final": 1e-4}) == []


class _Normed(TinyLinear):
    """TinyLinear behind a per-channel normalization, as lotslib.wrap puts it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.lin(((x - self.mean) / self.std).flatten(1))


def test_the_two_step_spaces_on_a_hand_computed_step():
    m = _Normed()
    x = _images(2)
    t = torch.randn(5, generator=torch.Generator().manual_seed(7))
    alpha = 0.05
    W, b = m.lin.weight, m.lin.bias
    z = ((x - m.mean) / m.std)
    gz = ((z.flatten(1) @ W.T + b - t) @ W).view_as(x)  # d/dz 1/2||Wz+b-t||^2
    gx = gz / m.std  # the pixel gradient
    # pixel space: x - alpha gx / max|gx|, clamped
    pix = lots(m, x, target=t, iters=1, tau=0.0, alpha=alpha)
    expect = (x - alpha * gx / gx.abs().flatten(1).amax(1).view(-1, 1, 1, 1)).clamp(0, 1)
    assert torch.allclose(pix.x_adv, expect, atol=1e-6)
    # normalized space: z - alpha gz / max|gz|, back in pixels, no clamp
    nrm = lots(m, x, target=t, iters=1, tau=0.0, alpha=alpha, step_space="normalized")
    z1 = z - alpha * gz / gz.abs().flatten(1).amax(1).view(-1, 1, 1, 1)
    assert torch.allclose(nrm.x_adv, z1 * m.std + m.mean, atol=1e-6)
    # in pixels the normalized step is at most alpha * max(std) wide
    assert (nrm.x_adv - x).abs().max() <= alpha * 0.5 + 1e-6
    assert nrm.trace.params["step_space"] == "normalized"
    with pytest.raises(ParameterError, match="step_space"):
        lots(m, x, iters=1, step_space="tensor")
    with pytest.raises(ParameterError, match="step_space"):
        LotsParams(step_space="tensor")
    with pytest.raises(ParameterError, match="model.std"):
        lots(TinyLinear(), x, iters=1, step_space="normalized")


def test_the_budget_curve_reads_the_stored_run_and_computes_nothing(lite0, tmp_path):
    from lotslib.data import embedded
    from lotslib.studies import iteration_study

    net, images = lite0, embedded("imagenet").head(2)
    S.cached_lots(net, images, iters=25, cache_dir=tmp_path)  # the protocol's run, as chapter 3 stores it
    before = S.pass_counts(tmp_path / "lots")
    curve = iteration_study(net, images, iters=25, checkpoints=BUDGETS, steps=4, cache_dir=tmp_path)
    after = S.pass_counts(tmp_path / "lots")
    assert after["computed"] == before["computed"] and after["runs_read"] == before["runs_read"] + 6
    assert sorted(curve["cap"].unique()) == [10, 20, 25]
    assert np.allclose(curve.loc[curve["cap"] == 25, "pearson_vs_final"], 1.0)


def _rows(values_by_cap, cam_value, n):
    import pandas as pd

    curve = pd.DataFrame([{"image_id": f"i{i}", "cap": cap, "avg_drop": v + 0.1 * i}
                          for cap, v in values_by_cap.items() for i in range(n)])
    cams = pd.DataFrame([{"method": "gradcam", "image_id": f"i{i}", "avg_drop": cam_value + 0.05 * i}
                         for i in range(n)])
    return curve, cams


def test_budget_verdicts_flip_where_the_numbers_do():
    from lotslib.studies import budget_flips, budget_verdicts
    from lotslib.verdicts import BETTER, NO_DIFFERENCE, TOO_FEW, WORSE

    # Average Drop (lower is better): LOTS far above Grad-CAM at 10 iterations, far below at 500
    curve, cams = _rows({10: 60.0, 40: 60.0, 500: 10.0}, 30.0, n=6)
    v = budget_verdicts(curve, cams, metrics=("avg_drop",)).set_index("cap")
    assert v.loc[10, "verdict"] == WORSE and v.loc[40, "verdict"] == WORSE and v.loc[500, "verdict"] == BETTER
    assert v.loc[500, "mean_diff"] < 0 and v.loc[500, "n"] == 6
    flips = budget_flips(v.reset_index())
    assert flips[["from_cap", "to_cap", "before", "after"]].values.tolist() == [[40, 500, WORSE, BETTER]]
    # a tie at every budget: no flip
    curve, cams = _rows({10: 30.0, 500: 30.0}, 30.0, n=6)
    curve["avg_drop"] += [0.3, -0.3, 0.2, -0.2, 0.1, -0.1] * 2
    v = budget_verdicts(curve, cams, metrics=("avg_drop",))
    assert set(v["verdict"]) == {NO_DIFFERENCE} and budget_flips(v).empty
    # four images: no verdict at all
    curve, cams = _rows({10: 60.0, 500: 10.0}, 30.0, n=4)
    v = budget_verdicts(curve, cams, metrics=("avg_drop",))
    assert set(v["verdict"]) == {TOO_FEW} and budget_flips(v).empty


def test_an_unclamped_walk_leaves_the_pixel_range_and_still_gets_a_map():
    """A normalized-space walk is not clamped (FAME's reading), so its image may leave [0,1]:
    lots_map maps it when told so, and refuses such an image otherwise."""
    from lotslib.errors import InputRangeError
    from lotslib.visualize import lots_map

    m, x = _Normed(), _images(2)
    t = torch.randn(5, generator=torch.Generator().manual_seed(7)) * 50
    nrm = lots(m, x, target=t, iters=30, tau=0.0, alpha=0.5, step_space="normalized")
    assert float(nrm.x_adv.min()) < 0 or float(nrm.x_adv.max()) > 1  # it left the range
    with pytest.raises(InputRangeError, match="outside"):
        lots_map(x, nrm.x_adv, filter_size=3)
    maps = lots_map(x, nrm.x_adv, filter_size=3, unclamped=True)
    assert maps.shape == (2, *x.shape[2:]) and float(maps.min()) == 0.0 and float(maps.max()) == 1.0
