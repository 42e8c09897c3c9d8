"""Reliability, :func:`lotslib.visualize.lots_map`: property-based, any shape and
any perturbation gives a finite map in [0, 1] (a zero map for a zero perturbation).

Split from the former ``test_reliability.py``.
"""
from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lotslib.visualize import ZeroPerturbationWarning, lots_map

pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== property-based
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    fs=st.sampled_from([1, 3, 5, 9, 49, 101]),
    kind=st.sampled_from(["dense", "one_pixel", "one_channel", "saturate", "none"]),
    scale=st.floats(0.0, 1.0, allow_subnormal=True),
    seed=st.integers(0, 2**16),
)
def test_property_lots_map_any_shape_any_perturbation(n, h, w, fs, kind, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, h, w, generator=g)
    if kind == "dense":
        xa = x + scale * (2 * torch.rand(n, 3, h, w, generator=g) - 1)
    elif kind == "one_pixel":
        xa = x.clone()
        xa[:, :, int(seed % h), int(seed % w)] += scale
    elif kind == "one_channel":
        xa = x.clone()
        xa[:, seed % 3] -= scale
    elif kind == "saturate":
        xa = torch.where(x > 0.5, torch.ones_like(x), torch.zeros_like(x))
    else:
        xa = x.clone()
    xa = xa.clamp(0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroPerturbationWarning)
        m = lots_map(x, xa, filter_size=fs)
    assert m.shape == (n, h, w) and m.dtype == torch.float32
    assert torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    moved = (xa - x).abs().flatten(1).amax(1) > 0
    for i in range(n):  # a zero perturbation gives a zero map; a visible one a map reaching 1
        if not moved[i]:
            assert m[i].max() == 0
