"""Models: real embedded weights classify real photos; the full profile's code path works
with random weights and fails clearly without weight files."""
import urllib.error

import pytest
import torch

from lotslib.data import embedded, photo
from lotslib.errors import UnknownModelError, WeightsNotFoundError
from lotslib.models import EMBEDDED_MODELS, FULL_MODELS, known_models, load_model, weights_fingerprint


def test_lite0_chelsea_top3_cats_and_coffee_espresso(lite0, chelsea):
    _, idx = lite0.predict(chelsea, k=3)
    names = {lite0.categories[i] for i in idx[0]}
    assert names == {"Egyptian cat", "tabby", "tiger cat"}
    coffee = lite0.preprocess(photo("coffee").image)[None]
    assert lite0.categories[int(lite0.predict(coffee)[1][0, 0])] == "espresso"


def test_lite0_on_foolbox_imagenet_samples(lite0):
    src = embedded("imagenet")
    assert len(src) == 20
    x = src.batch(lite0)
    assert x.shape == (20, 3, 224, 224) and 0 <= x.min() and x.max() <= 1
    top1 = lite0.predict(x)[1][:, 0].tolist()
    correct = sum(p == y for p, y in zip(top1, src.labels))
    assert correct >= 17, correct


@pytest.mark.parametrize("name,size", [("efficientnet_lite1", 240), ("efficientnet_lite2", 260)])
def test_lite1_lite2_real_weights(name, size):
    m = load_model(name)
    x = m.preprocess(photo("coffee").image)[None]
    assert x.shape == (1, 3, size, size)
    assert m.categories[int(m.predict(x)[1][0, 0])] == "espresso"


def test_normalization_happens_inside_wrapper(lite0, chelsea):
    # TF-style EfficientNet-Lite normalization: (x*255 - 127) / 128
    direct = lite0.net((chelsea * 255 - 127) / 128)
    assert torch.allclose(lite0(chelsea), direct, atol=1e-5)


def test_feature_layers_and_cam_layer(lite0, chelsea):
    assert lite0.features(chelsea).shape == (1, 1000)
    pen = lite0.features(chelsea, "penultimate")
    assert pen.shape == (1, 1280)
    # the penultimate features really are the classifier's input
    assert torch.allclose(lite0.classifier(pen), lite0(chelsea), atol=1e-4)
    acts = {}
    h = lite0.cam_layer.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    lite0(chelsea)
    h.remove()
    assert acts["a"].shape == (1, 1280, 7, 7) and acts["a"].min() >= 0  # after ReLU6
    with pytest.raises(ValueError, match="logits"):
        lite0.features(chelsea, "conv3")


def test_parameters_frozen_and_gradient_reaches_input(lite0, chelsea):
    assert not any(p.requires_grad for p in lite0.parameters())
    x = chelsea.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(lite0(x)[0].max(), x)
    assert g.shape == x.shape and g.abs().sum() > 0


@pytest.mark.parametrize("name", FULL_MODELS)
def test_full_profile_random_weights(name):
    m = load_model(name, weights=None)
    assert m.profile == "full" and len(m.categories) == 1000
    x = torch.rand(2, 3, 224, 224, requires_grad=True)
    acts = {}
    h = m.cam_layer.register_forward_hook(lambda mod, i, o: acts.setdefault("a", o))
    out = m(x)
    h.remove()
    assert out.shape == (2, 1000)
    a = acts["a"]
    assert a.dim() == 4 and a.shape[0] == 2 and a.shape[-1] >= 6  # a spatial map for CAMs
    (g,) = torch.autograd.grad(out[:, 0].sum(), x)
    assert g.abs().sum() > 0
    assert m.features(x.detach(), "penultimate").shape[0] == 2


def test_unknown_model_lists_known_ones():
    with pytest.raises(UnknownModelError) as e:
        load_model("vgg16")
    for k in known_models():
        assert k in str(e.value)


def test_full_profile_without_weights_names_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsNotFoundError) as e:
        load_model("resnet50")
    msg = str(e.value)
    assert "resnet50-11ad3fa6.pth" in msg and str(tmp_path) in msg and "TORCH_HOME" in msg


def test_full_profile_loads_checkpoint_from_torch_home(monkeypatch, tmp_path):
    """The real loading path: a weight file in $TORCH_HOME/hub/checkpoints is found and loaded."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    net = torchvision.models.densenet121(weights=None)
    ckpt = tmp_path / "hub" / "checkpoints" / "densenet121-a639ec97.pth"
    ckpt.parent.mkdir(parents=True)
    # torchvision's DenseNet files use the old 'norm.1' key style and carry no num_batches_tracked
    old = {
        k.replace("norm1", "norm.1").replace("conv2", "conv.2"): v
        for k, v in net.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    torch.save(old, ckpt)
    m = load_model("densenet121")
    assert torch.equal(m.net.features.conv0.weight, net.features.conv0.weight)
    assert m.weights_id.endswith("densenet121-a639ec97.pth")


def test_local_state_dict_and_fingerprint(tmp_path):
    a = load_model("alexnet", weights=None)
    path = tmp_path / "alex.pth"
    torch.save(a.net.state_dict(), path)
    b = load_model("alexnet", weights=str(path))
    assert weights_fingerprint(a) == weights_fingerprint(b)
    c = load_model("alexnet", weights=None)
    assert weights_fingerprint(c) != weights_fingerprint(a)


def test_embedded_names():
    assert set(EMBEDDED_MODELS) == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}


def test_torchvision_backbones_use_their_weights_transforms():
    """Resize 232 (ResNet-50 V2), 236 (ConvNeXt-Tiny), 256 (the others), crop 224,
    the values torchvision's weight enums carry."""
    import torchvision.models as tvm

    from lotslib.models import TORCHVISION_WEIGHTS, load_model

    for name, (enum_name, default) in TORCHVISION_WEIGHTS.items():
        tf = getattr(tvm, enum_name)[default].transforms()
        m = load_model(name, weights=None)
        assert (m.resize_size, m.input_size) == (tf.resize_size[0], tf.crop_size[0]), name
        assert m.preprocess(torch.rand(3, 300, 400)).shape == (3, 224, 224)
    assert {n: load_model(n, weights=None).resize_size for n in TORCHVISION_WEIGHTS} == {
        "alexnet": 256, "resnet50": 232, "densenet121": 256, "convnext_tiny": 236}
    assert load_model("efficientnet_lite0").resize_size == 256  # round(224 / 0.875)
