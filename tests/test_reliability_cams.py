"""Reliability, :func:`lotslib.explanation.explain`: bad tensors and bad parameters are
rejected before any compute (exact error class, a message naming the culprit and the fix);
constant images and zero gradients give zero maps with a warning; any image shape works.

Split from the former ``test_reliability.py``; the models are :mod:`helpers`' tiny CNNs on
32x32 input.
"""
from __future__ import annotations

import warnings

import pytest
import torch
from helpers import FlatNet, check_error, tinyrel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lotslib.explanation import DegenerateMapWarning, explain, explain_with_info
from lotslib.method_registry import METHODS
from lotslib.errors import InputRangeError, ParameterError
from lotslib.metrics import coherency_details

pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== explain
BAD_TENSORS = {
    "nan": (lambda: torch.rand(2, 3, 32, 32).index_put_((torch.tensor([1]),), torch.tensor(float("nan"))),
            ["NaN", "samples [1]", "Fix"]),
    "inf": (lambda: torch.full((1, 3, 32, 32), float("inf")), ["inf", "Fix"]),
    "normalized": (lambda: (torch.rand(1, 3, 32, 32) - 0.45) / 0.22, ["outside [0,1]", "Fix", "un-normalized"]),
    "uint8": (lambda: torch.zeros(1, 3, 32, 32, dtype=torch.uint8), ["dtype", "Fix"]),
    "no_batch": (lambda: torch.rand(3, 32, 32), ["(N,3,H,W)", "Fix"]),
    "gray": (lambda: torch.rand(1, 1, 32, 32), ["RGB", "Fix"]),
    "empty": (lambda: torch.rand(0, 3, 32, 32), ["empty", "Fix"]),
}


@pytest.mark.parametrize("method", ["gradcam", "lots", "smoothgradcampp"])
@pytest.mark.parametrize("case", sorted(BAD_TENSORS))
def test_explain_rejects_bad_tensors_before_compute(method, case):
    make, needles = BAD_TENSORS[case]
    net = tinyrel()
    with pytest.raises(InputRangeError) as e:
        explain(method, net, make())
    check_error(e, InputRangeError, *needles)
    assert net.calls == 0


BAD_PARAMS = [
    ("lots", {"tau": -0.1}, ["tau=-0.1", ">= 0"]),
    ("lots", {"iters": 0}, ["iters=0", ">= 1"]),
    ("lots", {"filter_size": 48}, ["filter_size=48", "odd"]),
    ("lots", {"alpha": float("nan")}, ["alpha=nan", "> 0"]),
    ("lots", {"layer": "conv5"}, ["layer='conv5'", "'logits'"]),
    ("lots", {"patience": 0}, ["patience=0", "positive"]),
    ("smoothgradcampp", {"n_samples": 0}, ["n_samples=0", ">= 1"]),
    ("smoothgradcampp", {"noise_level": float("inf")}, ["noise_level=inf", "finite"]),
    ("gradcam", {"tau": 0.1}, ["['tau']", "it takes"]),
    ("random", {"seed": 1.5}, ["seed=1.5", "int"]),
    ("layercam", {"batch_size": 0}, ["batch_size=0", "positive"]),
]


@pytest.mark.parametrize("method,params,needles", BAD_PARAMS, ids=[f"{m}-{next(iter(p))}" for m, p, _ in BAD_PARAMS])
def test_explain_rejects_bad_parameters_before_compute(method, params, needles):
    net = tinyrel()
    with pytest.raises(ParameterError) as e:
        explain(method, net, torch.rand(1, 3, 32, 32), **params)
    check_error(e, ParameterError, *needles)
    assert net.calls == 0
    # the same parameters through the metrics' second map (coherency) and the benchmark
    with pytest.raises(ParameterError):
        coherency_details(method, net, torch.rand(1, 3, 32, 32), torch.rand(1, 32, 32), [0], **params)
    assert net.calls == 0


@pytest.mark.parametrize("method", list(METHODS))
def test_constant_image_gives_zero_map_and_warning_for_every_method(method):
    net = tinyrel()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x[1] = 0.37  # a constant (grey) image
    kw = ({"iters": 2, "filter_size": 5} if method == "lots"
          else ({"n_samples": 2} if method == "smoothgradcampp" else {}))
    with pytest.warns(DegenerateMapWarning, match=r"samples \[1\].*constant image"):
        ex = explain_with_info(method, net, x, **kw)
    assert torch.equal(ex.maps[1], torch.zeros(32, 32)) and ex.maps[0].max() == 1.0
    assert ex.degenerate.tolist() == [False, True] and ex.ran.tolist() == [True, False]
    if method == "lots":  # LOTS never ran on the constant image: its trace has the other image only
        assert len(ex.trace.stop_reason) == 1 and torch.isfinite(ex.trace.distances).all()


def test_zero_gradient_lots_stops_cleanly_with_zero_map():
    net = FlatNet()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with pytest.warns(DegenerateMapWarning, match=r"samples \[0, 1\].*constant map"):
        ex = explain_with_info("lots", net, x, iters=50, filter_size=5)
    assert ex.trace.stop_reason == ["zero_gradient", "zero_gradient"]
    assert ex.trace.iterations.tolist() == [0, 0] and torch.equal(ex.x_adv, x)
    assert torch.equal(ex.maps, torch.zeros(2, 32, 32)) and ex.degenerate.all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    method=st.sampled_from(list(METHODS)),
    seed=st.integers(0, 1000),
)
def test_property_explain_any_shape(h, w, method, seed):
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(seed))
    kw = ({"iters": 2, "filter_size": 5} if method == "lots"
          else ({"n_samples": 2} if method == "smoothgradcampp" else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateMapWarning)
        m = explain(method, tinyrel(), x, **kw)
    assert m.shape == (2, h, w) and torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
