"""lotslib.wrap: any classifier behind the same wrapper."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from lotslib import explain, wrap
from lotslib.errors import ParameterError


@pytest.fixture(scope="module")
def rewrapped(lite0):
    """The Lite0 network wrapped by hand with its own normalization and CAM layer."""
    return wrap(lite0.net, mean=lite0.mean.flatten().tolist(), std=lite0.std.flatten().tolist(), input_size=224,
                cam_layer=lite0.cam_layer, name="lite0-wrapped")


#: the cheapest settings that still run each method
SMALL_PARAMS = {"smoothgradcampp": {"n_samples": 2}}

@pytest.mark.parametrize("method, params", [("gradcam", {}), ("layercam", {}), ("lots", {"iters": 3})])
def test_wrap_gives_the_maps_load_model_gives(rewrapped, lite0, chelsea, method, params):
    assert torch.equal(rewrapped(chelsea), lite0(chelsea))
    a = explain(method, rewrapped, chelsea, **params)
    b = explain(method, lite0, chelsea, **params)
    assert a.shape == (1, 224, 224) and torch.allclose(a, b, atol=1e-6)
    assert rewrapped.categories[int(lite0(chelsea).argmax())] == lite0.categories[int(lite0(chelsea).argmax())]
    assert torch.allclose(rewrapped.features(chelsea, "penultimate"), lite0.features(chelsea, "penultimate"))


def _tiny():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 5))


def test_wrap_rejects_bad_arguments_before_any_compute():
    net = _tiny()
    with pytest.raises(ParameterError, match="cam_layer='layer9' is not a submodule"):
        wrap(net, mean=(0, 0, 0), std=(1, 1, 1), input_size=32, cam_layer="layer9")
    with pytest.raises(ParameterError, match="must be a submodule"):
        wrap(net, mean=(0, 0, 0), std=(1, 1, 1), input_size=32, cam_layer=nn.ReLU())
    with pytest.raises(ParameterError, match="mean=.*three finite values"):
        wrap(net, mean=(0.5, 0.5), std=(1, 1, 1), input_size=32, cam_layer="0")
    with pytest.raises(ParameterError, match="std=.*all > 0"):
        wrap(net, mean=(0, 0, 0), std=(1, 0, 1), input_size=32, cam_layer="0")
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 5))
    with pytest.raises(ParameterError, match="rejects a \\(1, 3, 64, 64\\) input"):
        wrap(flat, mean=(0, 0, 0), std=(1, 1, 1), input_size=64, cam_layer="1")
    m = wrap(net, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), input_size=32, cam_layer="0", name="tiny")
    assert m.categories == [f"class {i}" for i in range(5)] and m.name == "tiny"
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(m(x), net((x - 0.5) / 0.25))
    maps = explain("gradcam", m, x)
    assert maps.shape == (2, 32, 32) and float(maps.min()) >= 0 and float(maps.max()) <= 1


def test_any_torchvision_model_by_prefixed_name(tmp_path):
    """load_model("torchvision:<name>"): the weight enum's transforms and categories, a default
    CAM layer per family, a local checkpoint, and clear errors."""
    import torchvision

    from lotslib import load_model
    from lotslib.errors import UnknownModelError

    m = load_model("torchvision:resnet18", weights=None)
    tf = torchvision.models.ResNet18_Weights.DEFAULT.transforms()
    assert (m.resize_size, m.input_size) == (tf.resize_size[0], tf.crop_size[0]) and len(m.categories) == 1000
    assert m.cam_layer is m.net.layer4[-1]
    x = torch.rand(2, 3, 224, 224)
    maps = explain("gradcam", m, x)
    assert maps.shape == (2, 224, 224) and torch.isfinite(maps).all()
    ckpt = tmp_path / "resnet18.pth"
    torch.save(m.net.state_dict(), ckpt)
    again = load_model("torchvision:resnet18", weights=str(ckpt))
    assert torch.equal(again(x), m(x)) and again.weights_id.endswith("resnet18.pth")
    with pytest.raises(UnknownModelError, match="no classification model 'resnet9'"):
        load_model("torchvision:resnet9")
    with pytest.raises(UnknownModelError, match="MaxViT"):
        load_model("torchvision:maxvit_t", weights=None)


@pytest.mark.parametrize("arch", ["vit_b_16", "swin_t"])
def test_vision_transformers_get_spatial_maps_from_every_method(arch):
    """torchvision ViT and Swin (random init): the reshape transform is picked, all seven methods
    give (N,224,224) maps in [0,1] without NaN, and the gradient reaches the input."""
    from lotslib import load_model
    from lotslib.method_registry import METHODS

    torch.manual_seed(0)
    m = load_model(f"torchvision:{arch}", weights=None)
    head = m.net.heads.head if arch.startswith("vit") else m.net.head
    torch.nn.init.normal_(head.weight, std=0.02)  # torchvision zero-initialises ViT's head: no gradient at all
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    xg = x.clone().requires_grad_(True)
    m(xg)[0].max().backward()
    assert float(xg.grad.abs().max()) > 0
    for method in METHODS:
        params = SMALL_PARAMS.get(method, {"iters": 2} if method.startswith("lots") else {})
        maps = explain(method, m, x, **params)
        assert maps.shape == (1, 224, 224) and torch.isfinite(maps).all(), method
        assert float(maps.min()) >= 0 and float(maps.max()) == 1.0, method  # a real (non-constant) map
    assert m.features(x, "penultimate").shape[1] == head.in_features  # LOTS's pre-logits features


def test_timm_models_by_prefixed_name():
    """timm:<name> (the optional extra): DeiT gets the token reshape, a CNN its last stage, and
    every method gives (N,224,224) maps; an unknown name gets a clear error."""
    pytest.importorskip("timm", reason="timm is the optional extra lots-book[timm]")
    from lotslib import load_model
    from lotslib.errors import UnknownModelError
    from lotslib.method_registry import METHODS

    torch.manual_seed(0)
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    deit = load_model("timm:deit_tiny_patch16_224", weights=None)
    assert deit.cam_layer is deit.net.blocks[-1].norm1 and deit.reshape_transform is not None
    for method in METHODS:
        params = SMALL_PARAMS.get(method, {"iters": 2} if method.startswith("lots") else {})
        maps = explain(method, deit, x, **params)
        assert maps.shape == (1, 224, 224) and torch.isfinite(maps).all() and float(maps.max()) == 1.0, method
    cnn = load_model("timm:resnet18", weights=None)
    assert cnn.cam_layer is cnn.net.layer4 and explain("gradcam", cnn, x).shape == (1, 224, 224)
    with pytest.raises(UnknownModelError, match="timm has no model"):
        load_model("timm:not_a_model")


def test_a_file_that_is_not_the_models_checkpoint_gets_a_clear_error(tmp_path):
    from lotslib import load_model
    from lotslib.errors import WeightsNotFoundError
    from lotslib.models import load_checkpoint

    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    wrong = tmp_path / "wrong.pth"
    torch.save(nn.Linear(2, 2).state_dict(), wrong)
    for bad in (text, wrong):
        with pytest.raises(WeightsNotFoundError, match=f"{bad.name} is not a usable checkpoint of Sequential"):
            load_checkpoint(_tiny(), bad)
    with pytest.raises(WeightsNotFoundError, match="is not a usable checkpoint of ResNet"):
        load_model("torchvision:resnet18", weights=str(wrong))
    with pytest.raises(WeightsNotFoundError, match="does not exist. Fix: check the path"):
        load_model("efficientnet_lite0", weights=str(tmp_path / "nope.pth"))
