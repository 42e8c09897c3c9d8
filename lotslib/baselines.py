"""Image-only baselines: maps that know the image but not the model.

One baseline is registered in :mod:`lotslib.method_registry` (a row of Table 5.2 beside
Random-CAM, never the "best CAM" LOTS is tested against):

==========  ==============  ================================================================
key         name            map
==========  ==============  ================================================================
``"edge"``  Sobel edges     Sobel gradient magnitude of the image's luma, min-max, blurred with
                            the Gaussian of the LOTS map (Algorithm 2), min-max
==========  ==============  ================================================================

Why an edge map. A LOTS map is the blurred magnitude of a perturbation, and the
perturbation is largest where the image has texture and edges: a LOTS map keeps a faint copy
of the image (Weber 2023, section 4.3, Figure 4.2). The edge map is that copy without any
model: whatever a metric gives it, an explanation earns without looking at the network. It is
also the control of the sanity checks of :mod:`lotslib.sanity`: randomising the model cannot
change it, and neither can the explained class.

The edge magnitude is scikit-image's ``skimage.filters.sobel`` (reflected borders), the blur
:func:`lotslib.visualize.gaussian_blur` with the same kernel as the LOTS map, so the two maps
differ only in what is blurred. Pixels ``(N,3,H,W)`` in [0,1] in, maps ``(N,H,W)`` in [0,1] out.
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.filters import sobel

from .method_registry import TABLE_METHODS, Method, register_method
from .params import LotsParams
from .tensors import check_pixels
from .visualize import gaussian_blur, gaussian_kernel1d, minmax, to_gray

__all__ = ["EDGE_DEFAULTS", "sobel_magnitude", "edge_maps", "edge_compute"]

#: the edge map's parameters: the blur of the LOTS map (thesis: 49 x 49, sigma from the size)
EDGE_DEFAULTS = {"filter_size": LotsParams.filter_size, "sigma": LotsParams.sigma, "batch_size": None}


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """The Sobel gradient magnitude of the luma of each image (scikit-image, reflected borders).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1], any size of at least 1 x 1.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` float32 magnitudes >= 0 (``sqrt((Gx^2 + Gy^2) / 2)`` of the luma, scikit-
        image's scaling), on the CPU.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` finite pixels in [0,1].
    """
    check_pixels(x, "x")
    gray = to_gray(x.detach().float()).cpu().numpy().astype(np.float64)
    return torch.from_numpy(np.stack([sobel(g, mode="reflect") for g in gray]).astype(np.float32))


def edge_maps(x: torch.Tensor, filter_size: int = LotsParams.filter_size, sigma: float | None = None) -> torch.Tensor:
    """The edge baseline: Sobel magnitude, min-max, the LOTS map's Gaussian blur, min-max.

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    filter_size : int
        Blur kernel size, a positive odd integer (default 49, the LOTS map's; 1 = no blur).
    sigma : float or None
        Blur standard deviation; None (the default) = :func:`lotslib.visualize.default_sigma`.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` float32 maps in [0,1] on the CPU (all zeros for a constant image).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad ``filter_size`` or ``sigma``.
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` finite pixels in [0,1].
    """
    gaussian_kernel1d(filter_size, sigma)  # checks the filter before any work
    return minmax(gaussian_blur(minmax(sobel_magnitude(x)), filter_size, sigma))


def edge_compute(model, x: torch.Tensor, targets: torch.Tensor, params: dict, fast: bool = True) -> torch.Tensor:
    """The ``compute`` of the ``"edge"`` record (call it through :func:`lotslib.explanation.explain`).

    Parameters
    ----------
    model : torch.nn.Module
        Not used: the map depends on the image alone.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    targets : torch.Tensor
        ``(N,)`` explained classes; not used.
    params : dict
        ``filter_size``, ``sigma``, ``batch_size`` (:data:`EDGE_DEFAULTS`).
    fast : bool
        Not used (no gradient is taken); accepted so that the CAM paths' ``fast=False``
        comparison runs on every Table 5.2 method.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` float32 maps in [0,1].
    """
    bs = params.get("batch_size") or len(x)
    return torch.cat([edge_maps(x[s : s + bs], params["filter_size"], params["sigma"]) for s in range(0, len(x), bs)])


def _check(p: dict) -> None:
    gaussian_kernel1d(p["filter_size"], p["sigma"])  # a ParameterError naming the bad value


register_method(Method("edge", "Sobel edges", edge_compute, defaults=dict(EDGE_DEFAULTS),
                       tables={TABLE_METHODS: "Sobel edges"}, baseline=True, image_only=True, check=_check, order=70,
                       description="Sobel magnitude of the image, blurred like the LOTS map (an image-only baseline)"),
                replace=True)
