"""CAM maps do not depend on the device.

pytorch-grad-cam stores ``activation.cpu().detach()``: an alias on the CPU, a copy on a GPU.
AlexNet's last ReLU and DenseNet-121's ReLU after ``norm5`` are in place, so without care the
stored activation differs between the two. The GPU's copy is simulated here by patching the
store to clone; every CAM method must give the same maps either way.
"""
from __future__ import annotations

import pytest
import torch
from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients

from lotslib.explanation import explain
from lotslib.method_registry import CAM_METHODS
from lotslib.models import load_model

ORIGINAL = ActivationsAndGradients.save_activation


def _copying_save_activation(self, module, input, output):
    """What a GPU does: ``.cpu()`` of a CUDA tensor is a fresh copy."""
    return ORIGINAL(self, module, input, output.clone())


@pytest.fixture(scope="module", params=["alexnet", "densenet121"])
def random_net(request, one_thread):
    torch.manual_seed(0)
    return load_model(request.param, weights=None)


def _maps(net, x, method):
    params = {"n_samples": 2} if method == "smoothgradcampp" else {}
    return explain(method, net, x, targets=None, **params)  # the top-1 class: a non-constant map on both nets


@pytest.mark.parametrize("method", ["random", "gradcam", "gradcampp", "smoothgradcampp", "layercam", "hirescam"])
def test_cam_maps_are_the_same_with_aliased_or_copied_activations(random_net, method, monkeypatch):
    assert method in CAM_METHODS
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    aliased = _maps(random_net, x, method)
    monkeypatch.setattr(ActivationsAndGradients, "save_activation", _copying_save_activation)
    copied = _maps(random_net, x, method)
    assert aliased.shape == (1, 224, 224) and float(aliased.max()) > 0
    assert torch.allclose(aliased, copied, atol=1e-5), float((aliased - copied).abs().max())


def test_the_check_can_fail_without_the_shield(random_net, monkeypatch):
    """Without lotslib's copy after the CAM layer, aliasing changes the Grad-CAM map (the bug)."""
    from lotslib import cams

    monkeypatch.setattr(cams, "_shield_hook", lambda module, inputs, output: None)
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    aliased = _maps(random_net, x, "gradcam")
    monkeypatch.setattr(ActivationsAndGradients, "save_activation", _copying_save_activation)
    copied = _maps(random_net, x, "gradcam")
    assert float((aliased - copied).abs().max()) > 1e-3
