"""Algorithm 2 maps and the figure building blocks."""
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lotslib.errors import ParameterError
from lotslib.visualize import (
    ZeroPerturbationWarning,
    default_sigma,
    explanation_map,
    gaussian_blur,
    gaussian_kernel1d,
    lots_map,
    minmax,
    overlay,
    perturbation_view,
    threshold_map,
    to_gray,
)


def _square_pert(n=2, hw=64, box=(20, 30, 35, 45), amount=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, hw, hw, generator=g) * 0.8 + 0.1
    xa = x.clone()
    y0, y1, x0, x1 = box
    xa[:, :, y0:y1, x0:x1] += amount * torch.rand(n, 3, y1 - y0, x1 - x0, generator=g)
    return x, xa.clamp(0, 1)


def test_default_sigma_for_49_is_7_7():
    assert default_sigma(49) == pytest.approx(7.7)
    k = gaussian_kernel1d(49)
    assert k.shape == (49,) and float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(k.argmax()) == 24


def test_grayscale_is_itu601():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = 1.0
    assert torch.allclose(to_gray(x), torch.full((1, 2, 2), 0.299))


def test_square_perturbation_peaks_inside_square():
    x, xa = _square_pert()
    m = lots_map(x, xa, filter_size=49)
    assert m.shape == (2, 64, 64) and m.min() == 0 and m.max() == 1
    for i in range(2):
        r, c = divmod(int(m[i].argmax()), 64)
        assert 20 <= r < 30 and 35 <= c < 45


def test_filter_size_1_keeps_pixel_exact_peak():
    x = torch.full((1, 3, 32, 32), 0.5)
    xa = x.clone()
    xa[0, :, 7, 19] = 0.6
    xa[0, :, 3, 3] = 0.52
    m = lots_map(x, xa, filter_size=1)
    assert m[0, 7, 19] == 1.0
    assert m[0, 3, 3] == pytest.approx(0.2, abs=1e-4)
    assert (m > 0).sum() == 2


def test_zero_perturbation_gives_zero_map_and_warning():
    x = torch.rand(2, 3, 16, 16)
    xa = x.clone()
    xa[1, :, 4, 4] = 1.0 - xa[1, :, 4, 4]
    with pytest.warns(ZeroPerturbationWarning, match=r"\[0\]"):
        m = lots_map(x, xa, filter_size=5)
    assert torch.equal(m[0], torch.zeros(16, 16)) and m[1].max() == 1


@pytest.mark.parametrize("fs", [0, 2, 48, -1, 3.0])
def test_bad_filter_sizes(fs):
    with pytest.raises(ParameterError, match="filter_size"):
        lots_map(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), filter_size=fs)


def test_blur_preserves_constants_and_mass():
    c = torch.full((1, 20, 20), 0.3)
    assert torch.allclose(gaussian_blur(c, 49), c, atol=1e-6)
    d = torch.zeros(1, 41, 41)
    d[0, 20, 20] = 1
    b = gaussian_blur(d, 11)
    assert float(b.sum()) == pytest.approx(1.0, abs=1e-5) and int(b.argmax()) == 20 * 41 + 20


def test_figure_helpers():
    x, xa = _square_pert(n=1, hw=16, box=(2, 5, 2, 5))
    pv = perturbation_view(x, x)
    assert torch.allclose(pv, torch.full_like(x, 0.5))
    pv = perturbation_view(x, xa, gain=10)
    assert torch.allclose(pv, ((xa - x) * 10 + 0.5).clamp(0, 1))
    m = lots_map(x, xa, filter_size=3)
    e = explanation_map(x, m)
    assert torch.allclose(e, x * m[:, None])
    o = overlay(x, m)
    assert o.shape == x.shape and 0 <= o.min() and o.max() <= 1
    t = threshold_map(m, 0.8)
    assert (t > 0).float().mean() <= 0.21 and t.max() == 1


def test_minmax_constant_is_zero():
    assert torch.equal(minmax(torch.full((2, 3, 3), 4.0)), torch.zeros(2, 3, 3))


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    fs=st.sampled_from([1, 3, 7, 13, 49]),
    seed=st.integers(0, 10_000),
    scale=st.floats(0.0, 1.0),
)
def test_property_maps_in_unit_range_without_nan(h, w, fs, seed, scale):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, h, w, generator=g)
    xa = (x + scale * (torch.rand(2, 3, h, w, generator=g) - 0.5)).clamp(0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroPerturbationWarning)
        m = lots_map(x, xa, filter_size=fs)
    assert m.shape == (2, h, w)
    assert torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
