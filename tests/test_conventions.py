"""The two masking conventions (fill) and the two insertion/deletion scores, by hand on tiny
models."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lotslib.errors import ParameterError
from lotslib.metrics import blur_images, confidence_change, insertion_deletion, masked_image


class MeanColourNet(nn.Module):
    """logits = W @ (mean colour of the image) + b; a ``mean`` buffer like lotslib's wrapper."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 4.0]]))
            self.lin.bias.zero_()
        self.register_buffer("mean", torch.tensor([0.2, 0.4, 0.8]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.lin(x.mean((2, 3)))


def _softmax(z):
    e = np.exp(np.asarray(z) - np.max(z))
    return e / e.sum()


def test_fill_black_and_mean_by_hand():
    net = MeanColourNet()
    x = torch.zeros(1, 3, 4, 4)
    x[:, 0] = 1.0  # a red image
    m = torch.zeros(1, 4, 4)
    m[:, :, :2] = 1.0  # keep the left half
    # black: mean colour (0.5, 0, 0) -> logits (2, 0); mean fill: (0.5 + 0.1, 0.2, 0.4) -> (2.4, 1.6)
    y = _softmax([4.0, 0.0])[0]
    o_black = _softmax([2.0, 0.0])[0]
    o_mean = _softmax([2.4, 1.6])[0]
    black = confidence_change(net, x, m, [0], fill="black")
    mean = confidence_change(net, x, m, [0], fill="mean")
    assert black.y[0] == pytest.approx(y) and mean.y[0] == pytest.approx(y)
    assert black.o[0] == pytest.approx(o_black, rel=1e-6) and mean.o[0] == pytest.approx(o_mean, rel=1e-6)
    assert black.drop[0] == pytest.approx((y - o_black) / y * 100, rel=1e-6)
    assert mean.drop[0] == pytest.approx((y - o_mean) / y * 100, rel=1e-6)
    assert abs(black.drop[0] - mean.drop[0]) > 5  # the conventions really differ here
    # the masked pixels are black, or the mean colour; the kept pixels are unchanged
    xm = masked_image(net, x, m, "mean")
    assert torch.allclose(xm[0, :, 0, 3], torch.tensor([0.2, 0.4, 0.8]))
    assert torch.allclose(xm[0, :, 0, 0], x[0, :, 0, 0])
    assert float(masked_image(net, x, m, "black")[0, :, :, 2:].abs().max()) == 0.0


def test_fill_is_checked_and_needs_a_mean():
    net = MeanColourNet()
    x, m = torch.rand(1, 3, 4, 4), torch.rand(1, 4, 4)
    with pytest.raises(ParameterError, match="fill='grey'"):
        confidence_change(net, x, m, [0], fill="grey")
    bare = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    with pytest.raises(ParameterError, match="model.mean"):
        confidence_change(bare, x, m, [0], fill="mean")


class PixelNet(nn.Module):
    """Two logits from fixed random weights over every pixel: blurring can change the top-1."""

    def __init__(self, seed=8):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(2, 3 * 8 * 8, generator=g), requires_grad=False)

    def forward(self, x):
        return x.flatten(1) @ self.w.T


def test_insertion_deletion_scores_by_hand():
    net = PixelNet()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    m = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(1))
    blurred = blur_images(x)
    with torch.no_grad():
        p_img = net(x).softmax(1)[0].numpy()
        p_blur = net(blurred).softmax(1)[0].numpy()
    c = int(p_img.argmax())
    assert int(p_blur.argmax()) != c  # this seed: the blurred image changes the top-1 class
    # steps=1: the deletion curve is [image, blurred], the insertion curve [blurred, image]
    orig = insertion_deletion(net, x, m, [c], steps=1, score="original")
    top = insertion_deletion(net, x, m, [c], steps=1, score="max")
    assert orig.deletion[0] == pytest.approx((p_img[c] + p_blur[c]) / 2 * 100, rel=1e-5)
    assert top.deletion[0] == pytest.approx((p_img.max() + p_blur.max()) / 2 * 100, rel=1e-5)
    assert top.insertion[0] == pytest.approx(top.deletion[0], rel=1e-6)  # same two points, reversed
    assert top.deletion[0] - orig.deletion[0] > 1.0
    assert math.isclose(orig.deletion_curves[0, 1], p_blur[c], rel_tol=1e-5)
    with pytest.raises(ParameterError, match="score='top'"):
        insertion_deletion(net, x, m, [c], steps=1, score="top")
