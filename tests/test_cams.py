"""lotslib.cams: one interface for the six CAMs and LOTS."""
import copy

import numpy as np
import pytest
import torch
from helpers import TinyCNN

from lotslib.explanation import DegenerateMapWarning, explain, explain_with_info
from lotslib.method_registry import CAM_METHODS, METHODS, default_params, get_method
from lotslib.errors import InputRangeError, ParameterError
from lotslib.visualize import minmax

SMALL = {"lots": {"iters": 3}, "lots_logit": {"iters": 3}, "smoothgradcampp": {"n_samples": 2}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def x2(lite0):
    from lotslib.data import embedded

    return embedded("imagenet").batch(lite0, [0, 1])


def test_methods_registry():
    assert list(METHODS) == ["random", "gradcam", "gradcampp", "smoothgradcampp", "layercam", "hirescam", "edge",
                             "lots", "lots_logit"]
    assert METHODS["smoothgradcampp"].name == "SmoothGrad-CAM++" and METHODS["random"].name == "Random-CAM"
    assert METHODS["gradcam"] is get_method("gradcam")  # a view of the records, as METRICS is of its Metric objects
    lots = default_params("lots")
    assert lots["iters"] == 500 and lots["filter_size"] == 49 and lots["target"] == "zero"


@pytest.mark.parametrize("method", list(METHODS))
def test_maps_shape_range_and_constant_image(method, lite0, x2):
    x = torch.cat([x2, torch.full((1, 3, 224, 224), 0.5)])
    with pytest.warns(DegenerateMapWarning, match="constant image"):
        ex = explain_with_info(method, lite0, x, **SMALL.get(method, {}))
    m = ex.maps
    assert m.shape == (3, 224, 224) and m.dtype == torch.float32
    assert torch.isfinite(m).all() and float(m.min()) >= 0.0 and float(m.max()) <= 1.0
    # real images: a full-range map; the constant image: all zeros, flagged
    assert m[:2].flatten(1).amax(1).tolist() == [1.0, 1.0]
    assert m[:2].flatten(1).amin(1).tolist() == [0.0, 0.0]
    assert float(m[2].abs().max()) == 0.0
    assert ex.degenerate.tolist() == [False, False, True]
    assert ex.targets.tolist() == lite0(x2).argmax(1).tolist() + [ex.targets[2].item()]
    # every hook is gone and the model is untouched
    assert not lite0.cam_layer._forward_hooks and not lite0.cam_layer._backward_hooks
    assert all(not p.requires_grad and p.grad is None for p in lite0.parameters())


def _library_reference(cls, model, x, targets):
    """pytorch-grad-cam used as documented, on an unfrozen copy (gradients through everything)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    ref = copy.deepcopy(model)
    for p in ref.parameters():
        p.requires_grad_(True)
    with cls(model=ref, target_layers=[ref.cam_layer]) as cam:
        out = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
    return minmax(torch.from_numpy(out))


@pytest.mark.parametrize("method", ["gradcam", "gradcampp", "layercam", "hirescam"])
def test_graph_cut_matches_unfrozen_pytorch_grad_cam(method, lite0, x2):
    from lotslib.cams import cam_class

    targets = [lite0(x2).argmax(1)[0].item(), 1]  # top-1 for one image, an arbitrary class for the other
    ours = explain(method, lite0, x2, targets=targets)
    ref = _library_reference(cam_class(method), lite0, x2, targets)
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_graph_cut_with_inplace_op_above_the_layer(method):
    net = TinyCNN()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ref = copy.deepcopy(net)
    for p in ref.parameters():
        p.requires_grad_(True)
    kw = {"n_samples": 3} if method == "smoothgradcampp" else {}
    fast = explain(method, net, x, targets=[0, 3], **kw)
    slow = explain_with_info(method, ref, x, targets=[0, 3], fast=False, **kw).maps
    assert torch.allclose(fast, slow, atol=1e-6)
    assert fast.flatten(1).amax(1).tolist() == [1.0, 1.0]


def test_graph_cut_skips_layers_below(lite0, x2):
    """Below the CAM layer nothing requires grad, so no backward pass runs there."""
    seen = []
    first = lite0.net._conv_stem
    h = first.register_forward_hook(lambda m, i, o: seen.append(o.requires_grad))
    try:
        explain("gradcam", lite0, x2[:1])
    finally:
        h.remove()
    assert seen and not any(seen)


def test_random_cam_is_seeded_and_batch_independent(lite0, x2):
    a = explain("random", lite0, x2, seed=[11, 12])
    b = explain("random", lite0, x2, seed=[11, 12])
    c = explain("random", lite0, x2, seed=[13, 14])
    assert torch.equal(a, b) and not torch.allclose(a, c)
    # image 1 with its own seed alone == image 1 inside the batch
    alone = explain("random", lite0, x2[1:], seed=[12])
    assert torch.allclose(alone[0], a[1], atol=1e-6)
    # the int form uses seed + i for image i
    assert torch.equal(explain("random", lite0, x2, seed=11), a)


def test_smoothgrad_without_noise_is_gradcampp(lite0, x2):
    """One noise-free sample: the averaged moments are Grad-CAM++'s own gradient powers."""
    sg = explain("smoothgradcampp", lite0, x2, n_samples=1, noise_level=0.0)
    pp = explain("gradcampp", lite0, x2)
    assert torch.allclose(sg, pp, atol=1e-4)


def test_smoothgrad_noise_is_seeded_and_changes_the_map(lite0, x2):
    a = explain("smoothgradcampp", lite0, x2, n_samples=3, noise_level=0.3, seed=[5, 6])
    b = explain("smoothgradcampp", lite0, x2, n_samples=3, noise_level=0.3, seed=[5, 6])
    pp = explain("gradcampp", lite0, x2)
    assert torch.equal(a, b)
    assert (a - pp).abs().max() > 1e-3


def test_lots_is_algorithm_1_plus_algorithm_2(lite0, x2):
    from lotslib.attack import lots
    from lotslib.visualize import lots_map

    ex = explain_with_info("lots", lite0, x2, iters=4, filter_size=9)
    direct = lots_map(x2, lots(lite0, x2, iters=4).x_adv, filter_size=9)
    assert torch.allclose(ex.maps, direct, atol=1e-6)
    assert ex.trace.iterations.tolist() == [4, 4]
    # a feature target per image is accepted
    t = torch.zeros(2, 1000)
    assert torch.allclose(explain("lots", lite0, x2, iters=4, filter_size=9, target=t), direct, atol=1e-6)


class Bomb(TinyCNN):
    def forward(self, x):  # any compute would fail loudly
        raise AssertionError("computed before validating parameters")


@pytest.mark.parametrize(
    "method, params",
    [
        ("nope", {}),
        ("gradcam", {"iters": 3}),
        ("smoothgradcampp", {"n_samples": 0}),
        ("smoothgradcampp", {"noise_level": -0.1}),
        ("random", {"seed": 1.5}),
        ("lots", {"iters": 0}),
        ("lots", {"filter_size": 48}),
        ("lots", {"target": "mean"}),
        ("layercam", {"batch_size": 0}),
    ],
)
def test_bad_parameters_raise_before_compute(method, params):
    with pytest.raises(ParameterError):
        explain(method, Bomb(), torch.rand(1, 3, 32, 32), **params)


def test_bad_inputs_and_targets():
    net = TinyCNN()
    with pytest.raises(InputRangeError):
        explain("gradcam", net, torch.rand(3, 32, 32))
    with pytest.raises(InputRangeError):
        explain("gradcam", net, torch.rand(1, 3, 32, 32) * 2)
    with pytest.raises(ParameterError):
        explain("gradcam", net, torch.rand(2, 3, 32, 32), targets=[1, 2, 3])
    with pytest.raises(ParameterError):
        explain("random", net, torch.rand(2, 3, 32, 32), seed=[1])


def test_batching_does_not_change_maps():
    net = TinyCNN()
    x = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    for method in ("gradcam", "random"):
        full = explain(method, net, x, seed=[1, 2, 3, 4, 5]) if method == "random" else explain(method, net, x)
        kw = {"seed": [1, 2, 3, 4, 5]} if method == "random" else {}
        chunked = explain(method, net, x, batch_size=2, **kw)
        assert torch.allclose(full, chunked, atol=1e-6)
    assert np.isfinite(full.numpy()).all()
