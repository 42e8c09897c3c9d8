"""From a LOTS perturbation to an activation map (Algorithm 2 of Weber 2023, section 4.3).

``lots_map`` follows the thesis's steps on batches: grayscale both images, take the
absolute difference, min-max normalize, Gaussian blur, min-max normalize again.
Shapes: images ``(N,3,H,W)`` with pixels in [0,1] in, maps ``(N,H,W)`` in [0,1] out.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .errors import ParameterError
from .attack import check_pixels
from .params import LotsParams, check_filter

__all__ = [
    "full_size_overlay",
    "to_gray",
    "minmax",
    "gaussian_kernel1d",
    "default_sigma",
    "gaussian_blur",
    "lots_map",
    "perturbation_view",
    "overlay",
    "explanation_map",
    "threshold_map",
    "ZeroPerturbationWarning",
]

#: ITU-R BT.601 luma weights (what PIL/OpenCV use for RGB -> L)
LUMA = (0.299, 0.587, 0.114)


class ZeroPerturbationWarning(UserWarning):
    """The adversarial image equals the original: the map is all zeros."""


def to_gray(x: torch.Tensor) -> torch.Tensor:
    """``(N,3,H,W)`` RGB -> ``(N,H,W)`` luma (ITU-R 601).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float RGB pixels (in [0,1] for images).

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` luma ``0.299 R + 0.587 G + 0.114 B`` (``LUMA``), same dtype and range.
    """
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1)


def minmax(m: torch.Tensor) -> torch.Tensor:
    """Per-sample min-max normalization of ``(N,H,W)`` to [0,1]; a constant map becomes zeros.

    Parameters
    ----------
    m : torch.Tensor
        ``(N,H,W)`` float maps, any finite range.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` maps in [0,1]: ``(m - min) / (max - min)`` per sample; all zeros where
        a map is constant.
    """
    flat = m.flatten(1)
    lo = flat.min(1).values.view(-1, 1, 1)
    hi = flat.max(1).values.view(-1, 1, 1)
    rng = hi - lo
    out = torch.where(rng > 0, (m - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)), torch.zeros_like(m))
    return out.clamp_(0.0, 1.0)


def default_sigma(filter_size: int) -> float:
    """The usual sigma for a ``filter_size`` kernel (OpenCV's rule ``0.3*((k-1)/2 - 1) + 0.8``).

    Parameters
    ----------
    filter_size : int
        Kernel size ``k`` (odd).

    Returns
    -------
    float
        ``0.3*((k-1)/2 - 1) + 0.8``: 7.7 for the thesis's 49x49 filter.
    """
    return 0.3 * ((filter_size - 1) * 0.5 - 1) + 0.8


def gaussian_kernel1d(filter_size: int, sigma: float | None = None) -> torch.Tensor:
    """Normalized 1-D Gaussian of length ``filter_size`` (sigma None = :func:`default_sigma`).

    Parameters
    ----------
    filter_size : int
        Kernel length: a positive odd integer (1 = no blur).
    sigma : float or None
        Standard deviation in pixels, > 0; None (the default) = :func:`default_sigma` of
        ``filter_size``.

    Returns
    -------
    torch.Tensor
        ``(filter_size,)`` float32 weights summing to 1.

    Raises
    ------
    lotslib.errors.ParameterError
        ``filter_size`` is not a positive odd integer, or ``sigma`` is not a positive
        number or None.
    """
    check_filter(filter_size, sigma)
    s = default_sigma(filter_size) if sigma is None else float(sigma)
    if filter_size == 1:
        return torch.ones(1)
    r = torch.arange(filter_size, dtype=torch.float64) - (filter_size - 1) / 2
    k = torch.exp(-(r**2) / (2 * s * s))
    return (k / k.sum()).float()


def gaussian_blur(m: torch.Tensor, filter_size: int = LotsParams.filter_size,
                  sigma: float | None = None) -> torch.Tensor:
    """Separable Gaussian blur of ``(N,H,W)`` maps with a ``filter_size`` square kernel.

    Borders are reflected (OpenCV's default BORDER_REFLECT_101); maps smaller than the
    kernel radius fall back to replicated borders.

    Parameters
    ----------
    m : torch.Tensor
        ``(N,H,W)`` float maps.
    filter_size : int
        Kernel size, a positive odd integer (1 = no blur, a copy). Default 49 (the thesis).
    sigma : float or None
        Standard deviation in pixels; None (the default) = :func:`default_sigma` (7.7 for 49).

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` blurred maps (same dtype and device).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad ``filter_size`` or ``sigma`` (see :func:`gaussian_kernel1d`).
    """
    k = gaussian_kernel1d(filter_size, sigma).to(m.device, m.dtype)
    if filter_size == 1:
        return m.clone()
    pad = filter_size // 2
    x = m[:, None]
    h, w = x.shape[-2:]
    mode = "reflect" if pad < h and pad < w else "replicate"
    x = F.pad(x, (pad, pad, pad, pad), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[:, 0]


def lots_map(
    x: torch.Tensor, x_adv: torch.Tensor, filter_size: int = LotsParams.filter_size, sigma: float | None = None,
    unclamped: bool = False,
) -> torch.Tensor:
    """Algorithm 2: ``(N,3,H,W)`` original and adversarial pixels in [0,1] -> ``(N,H,W)`` map in [0,1].

    Steps: luma grayscale (ITU-R 601) of both, ``|adv - orig|``, min-max, Gaussian blur
    with a ``filter_size x filter_size`` kernel (``sigma=None`` = the usual default for
    that size, 7.7 for 49), min-max. ``filter_size=1`` skips the blur (pixel-exact map).
    An all-zero perturbation yields an all-zero map and a :class:`ZeroPerturbationWarning`.

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float original pixels in [0,1].
    x_adv : torch.Tensor
        ``(N,3,H,W)`` float adversarial pixels in [0,1] (the LOTS output for ``x``).
    filter_size : int
        Blur kernel size, a positive odd integer. Default 49 (the thesis).
    sigma : float or None
        Blur standard deviation; None (the default) = :func:`default_sigma`.
    unclamped : bool
        ``x_adv`` comes from an unclamped walk (``step_space="normalized"``) and may leave
        [0,1]; its range is not checked (default False: it is).

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` maps in [0,1] (all zeros for a zero perturbation).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad ``filter_size`` or ``sigma``, or ``x`` and ``x_adv`` differ in shape.
    lotslib.errors.InputRangeError
        ``x`` or ``x_adv`` is not ``(N,3,H,W)`` finite float pixels in [0,1].
    """
    check_filter(filter_size, sigma)
    check_pixels(x, "x")
    check_pixels(x_adv, "x_adv", bounded=not unclamped)
    if x.shape != x_adv.shape:
        raise ParameterError(
            f"x {tuple(x.shape)} and x_adv {tuple(x_adv.shape)} differ in shape. "
            f"Fix: pass the LOTS output for the same batch."
        )
    pert = (to_gray(x_adv.float()) - to_gray(x.float())).abs()
    zero = pert.flatten(1).amax(1) == 0
    if zero.any():
        warnings.warn(
            f"samples {zero.nonzero().flatten().tolist()}: the adversarial image equals the original "
            f"(LOTS took no step: zero gradient or already at the target); their maps are all zeros.",
            ZeroPerturbationWarning,
            stacklevel=2,
        )
    return minmax(gaussian_blur(minmax(pert), filter_size, sigma))


def perturbation_view(x: torch.Tensor, x_adv: torch.Tensor, gain: float = 10.0) -> torch.Tensor:
    """The perturbation ``(x_adv - x) * gain`` shifted to mid-grey and clamped (thesis Figure 4.1).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float original pixels in [0,1].
    x_adv : torch.Tensor
        ``(N,3,H,W)`` float adversarial pixels in [0,1].
    gain : float
        Amplification of the perturbation. Default 10.

    Returns
    -------
    torch.Tensor
        ``(N,3,H,W)`` in [0,1]: ``clamp((x_adv - x) * gain + 0.5, 0, 1)``.
    """
    return ((x_adv - x) * gain + 0.5).clamp(0.0, 1.0)


def explanation_map(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``x ⊙ map``: ``(N,3,H,W)`` pixels times ``(N,H,W)`` map (unimportant pixels go black).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    m : torch.Tensor
        ``(N,H,W)`` maps in [0,1] (or one ``(H,W)`` map, for every image).

    Returns
    -------
    torch.Tensor
        ``(N,3,H,W)`` pixels in [0,1], each channel multiplied by the map.
    """
    if m.dim() == 2:
        m = m[None]
    return x * m[:, None].to(x.dtype)


def overlay(x: torch.Tensor, m: torch.Tensor, alpha: float = 0.5, cmap: str = "jet") -> torch.Tensor:
    """Heat-map of ``(N,H,W)`` maps blended over ``(N,3,H,W)`` images (jet, as in the thesis figures).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` (or one ``(3,H,W)``) float pixels in [0,1].
    m : torch.Tensor
        ``(N,H,W)`` (or one ``(H,W)``) maps in [0,1] (values outside are clamped).
    alpha : float
        Weight of the heat-map: ``(1 - alpha) * x + alpha * heat``. Default 0.5.
    cmap : str
        A matplotlib colormap name. Default ``"jet"``.

    Returns
    -------
    torch.Tensor
        ``(N,3,H,W)`` in [0,1], on the CPU.
    """
    import matplotlib

    if m.dim() == 2:
        m = m[None]
    if x.dim() == 3:
        x = x[None]
    colors = matplotlib.colormaps[cmap](m.detach().cpu().clamp(0, 1).numpy())[..., :3]
    heat = torch.from_numpy(colors).permute(0, 3, 1, 2).to(x.dtype)
    return ((1 - alpha) * x.detach().cpu() + alpha * heat).clamp(0.0, 1.0)


def full_size_overlay(img, m: torch.Tensor, model):
    """The map laid back on the photo at the photo's own size and aspect.

    The model saw a centre crop of the photo resized to ``model.resize_size`` on the short side;
    the map is resized to that crop's extent in the photo and laid over it (outside the crop: no map).

    Parameters
    ----------
    img : torch.Tensor, PIL.Image.Image or numpy.ndarray
        The photo, ``(3,H,W)`` in [0,1] (or anything :func:`lotslib.tensors.to_tensor` takes).
    m : torch.Tensor
        ``(S,S)`` map in [0,1] of the model's crop.
    model : lotslib.models.ModelWrapper
        Gives ``resize_size`` and ``input_size``.

    Returns
    -------
    numpy.ndarray
        ``(H,W,3)`` uint8 overlay, the photo's size.
    """
    import numpy as np

    from .tensors import to_tensor

    x = to_tensor(img).detach().cpu().float()
    h, w = x.shape[-2:]
    scale = min(h, w) / float(model.resize_size)
    side = max(1, int(round(model.input_size * scale)))
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    big = F.interpolate(m.detach().cpu()[None, None].float(), size=(side, side), mode="bilinear",
                        align_corners=False)[0, 0]
    full = np.zeros((h, w), dtype=np.float32)
    full[top : top + side, left : left + side] = big[: h - top, : w - left].clamp(0, 1).numpy()
    ov = overlay(x[None], torch.from_numpy(full)[None])[0]
    return (ov.permute(1, 2, 0).numpy() * 255).round().astype("uint8")


def threshold_map(m: torch.Tensor, quantile: float = 0.8) -> torch.Tensor:
    """Post-processing proposed in the thesis's discussion (6.2) against noisy activations.

    Keep the values above the per-sample ``quantile`` of each ``(N,H,W)`` map, zero the rest,
    and min-max the result.

    Parameters
    ----------
    m : torch.Tensor
        ``(N,H,W)`` float maps.
    quantile : float
        In [0, 1): the per-sample quantile below which values are zeroed. Default 0.8.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` maps in [0,1] (values at or above the quantile kept, then min-max).

    Raises
    ------
    lotslib.errors.ParameterError
        ``quantile`` is outside [0, 1).
    """
    if not 0.0 <= quantile < 1.0:
        raise ParameterError(f"quantile={quantile!r}: must be in [0, 1).")
    q = torch.quantile(m.flatten(1).float(), quantile, dim=1).view(-1, 1, 1)
    return minmax(torch.where(m >= q, m, torch.zeros_like(m)))
