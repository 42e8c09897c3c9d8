"""LOTS (Algorithm 1): analytic first step, per-sample stopping, batch == single, real weights."""
import pytest
import torch
from helpers import TinyLinear
from torch import nn

from lotslib.errors import InputRangeError, ParameterError
from lotslib.attack import lots


def rand_images(n, hw=4, seed=1):
    return torch.rand(n, 3, hw, hw, generator=torch.Generator().manual_seed(seed)) * 0.6 + 0.2


def test_first_step_equals_hand_computation():
    m = TinyLinear()
    x = rand_images(2)
    t = torch.randn(5)
    alpha = 0.01
    r = lots(m, x, target=t, iters=1, tau=0.0, alpha=alpha)
    W, b = m.lin.weight, m.lin.bias
    f = x.flatten(1) @ W.T + b
    g = (f - t) @ W  # d/dx 1/2||Wx+b-t||^2
    step = g * alpha / g.abs().amax(1, keepdim=True)
    expect = (x.flatten(1) - step).clamp(0, 1).view_as(x)
    assert torch.allclose(r.x_adv, expect, atol=1e-6)
    # the largest pixel change of each sample is exactly alpha (nothing clamped here)
    assert torch.allclose((r.x_adv - x).abs().flatten(1).amax(1), torch.full((2,), alpha), atol=1e-6)
    assert r.trace.iterations.tolist() == [1, 1]
    assert torch.allclose(r.trace.distances[:, 0], (f - t).norm(dim=1), atol=1e-5)


def test_clamp_keeps_pixels_in_range():
    m = TinyLinear()
    x = torch.cat([torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)])
    r = lots(m, x, target=torch.randn(5) * 10, iters=30, tau=0.0, alpha=0.2)
    assert r.x_adv.min() >= 0 and r.x_adv.max() <= 1


def test_converged_sample_is_frozen_while_others_continue():
    m = TinyLinear()
    x = rand_images(3)
    with torch.no_grad():
        f = m(x)
    # sample 1's target is its own features: it is converged before any step
    targets = torch.stack([torch.zeros(5), f[1], torch.zeros(5)])
    r = lots(m, x, target=targets, iters=25, tau=1e-4, alpha=0.01)
    assert torch.equal(r.x_adv[1], x[1])
    assert r.trace.converged.tolist() == [False, True, False]
    assert r.trace.stop_reason[1] == "converged"
    assert r.trace.iterations[1] == 0 and (r.trace.iterations[[0, 2]] == 25).all()
    # its distance history is held at the converged value
    assert torch.allclose(r.trace.distances[1], r.trace.distances[1, 0].expand(26))
    assert (r.trace.distances[[0, 2], -1] < r.trace.distances[[0, 2], 0]).all()


def test_stops_when_tau_reached():
    m = TinyLinear()
    x = rand_images(2)
    r = lots(m, x, target="zero", iters=400, tau=2.0, alpha=0.01)
    d = r.trace.distances
    for i in range(2):
        k = int(r.trace.iterations[i])
        if r.trace.converged[i]:
            assert d[i, k] <= 2.0 and (d[i, :k] > 2.0).all()


def test_batched_equals_one_at_a_time():
    m = TinyLinear()
    x = rand_images(4)
    t = torch.randn(4, 5)
    full = lots(m, x, target=t, iters=15, tau=0.5, alpha=0.02)
    chunks = lots(m, x, target=t, iters=15, tau=0.5, alpha=0.02, batch_size=3)
    singles = torch.cat([lots(m, x[i : i + 1], target=t[i], iters=15, tau=0.5, alpha=0.02).x_adv for i in range(4)])
    assert torch.allclose(full.x_adv, singles, atol=1e-6)
    assert torch.allclose(chunks.x_adv, singles, atol=1e-6)
    assert torch.equal(full.trace.iterations, chunks.trace.iterations)


def test_zero_gradient_stops_cleanly_without_nan():
    class Const(TinyLinear):
        def features(self, x, layer="logits"):
            return self(x) * 0 + 3.0

    m = Const()
    r = lots(m, rand_images(2), iters=10)
    assert r.trace.stop_reason == ["zero_gradient", "zero_gradient"]
    assert r.trace.iterations.tolist() == [0, 0]
    assert torch.isfinite(r.x_adv).all() and torch.isfinite(r.trace.distances).all()


def test_plateau_early_stop_saves_iterations():
    m = TinyLinear()
    x = rand_images(2)
    ref = lots(m, x, iters=300, tau=0.0, alpha=0.01)
    es = lots(m, x, iters=300, tau=0.0, alpha=0.01, patience=10, min_delta=0.01)
    assert all(r == "plateau" for r in es.trace.stop_reason)
    assert (es.trace.iterations < ref.trace.iterations).all()


@pytest.mark.parametrize(
    "kw",
    [dict(iters=0), dict(iters=2.5), dict(tau=-1.0), dict(alpha=0.0), dict(alpha=float("nan")),
     dict(distance="manhattan"), dict(batch_size=0)],
)
def test_invalid_parameters_rejected(kw):
    with pytest.raises(ParameterError):
        lots(TinyLinear(), rand_images(1), **kw)


@pytest.mark.parametrize(
    "x",
    [
        torch.full((1, 3, 4, 4), float("nan")),
        torch.full((1, 3, 4, 4), 1.5),
        torch.full((1, 3, 4, 4), -0.1),
        torch.rand(3, 4, 4),
        torch.rand(1, 4, 4, 4),
    ],
)
def test_bad_pixels_rejected(x):
    with pytest.raises(InputRangeError):
        lots(TinyLinear(), x, iters=1)


def test_target_shape_mismatch_and_cosine_zero():
    with pytest.raises(ParameterError, match="features"):
        lots(TinyLinear(), rand_images(1), target=torch.zeros(7), iters=1)
    with pytest.raises(ParameterError, match="cosine"):
        lots(TinyLinear(), rand_images(1), target="zero", distance="cosine", iters=1)


def test_cosine_distance_decreases():
    m = TinyLinear()
    x = rand_images(1)
    r = lots(m, x, target=torch.ones(5), distance="cosine", iters=40, tau=0.0, alpha=0.01)
    assert r.trace.distances[0, -1] < r.trace.distances[0, 0]


def test_zero_target_on_chelsea_lite0_logit_norm_falls_5x(lite0, chelsea):
    r = lots(lite0, chelsea, target="zero", iters=50)
    before = lite0(chelsea).norm().item()
    with torch.no_grad():
        after = lite0(r.x_adv).norm().item()
    assert before > 25
    assert after * 5 <= before, (before, after)
    assert r.trace.iterations.item() == 50
    # perturbation is small: 50 steps of at most 1/255 per pixel
    assert (r.x_adv - chelsea).abs().max() <= 50 / 255 + 1e-6


def test_penultimate_layer_target(lite0, chelsea):
    from lotslib.targets import image_target

    t = image_target(lite0, chelsea.flip(-1), layer="penultimate")
    r = lots(lite0, chelsea, target=t, layer="penultimate", iters=5)
    assert t.shape == (1280,)
    assert r.trace.distances[0, -1] < r.trace.distances[0, 0]


def test_saturated_image_stops_instead_of_spinning():
    class Sum(nn.Module):
        def forward(self, x):
            return x.flatten(1).sum(1, keepdim=True)

        def features(self, x, layer="logits"):
            return self(x)

    x = torch.zeros(1, 3, 4, 4)
    # reaching -10 needs pixels below 0: the clamp cancels every step
    r = lots(Sum(), x, target=torch.tensor([-10.0]), iters=50, tau=0.0)
    assert r.trace.stop_reason == ["saturated"]
    assert r.trace.iterations.item() == 0 and torch.equal(r.x_adv, x)


def test_snapshots_equal_shorter_runs():
    m = TinyLinear()
    x = rand_images(3)
    t = torch.randn(3, 5)
    full = lots(m, x, target=t, iters=20, tau=0.3, alpha=0.02, snapshots=[0, 5, 12, 20])
    assert torch.equal(full.trace.snapshots[0], x)
    assert torch.equal(full.trace.snapshots[20], full.x_adv)
    for k in (5, 12):
        short = lots(m, x, target=t, iters=k, tau=0.3, alpha=0.02)
        assert torch.allclose(full.trace.snapshots[k], short.x_adv, atol=1e-6)
    with pytest.raises(ParameterError, match="snapshots"):
        lots(m, x, iters=3, snapshots=[4])
