"""The thesis's five map metrics (Weber 2023, section 3.3 and the set-up of section 5.1), batched.

Everything takes a model (pixels in [0,1] -> logits), images ``x`` ``(N,3,H,W)``, maps
``(N,H,W)`` in [0,1] and one class per image (the thesis uses the top-1 class of the original
image for every method, LOTS included) and returns NumPy numbers per image; the aggregates are
plain functions of those.

* **Average Drop / Average Increase** (Chattopadhyay et al. 2018). ``Y`` = softmax
  probability of class c on the image, ``O`` = on the explanation map ``x * map``. Per image
  ``drop = max(0, Y - O) / Y * 100`` and ``increase = O > Y``;
  Average Drop is the mean drop, Average Increase the percentage of images with an increase.
  (pytorch-grad-cam's ``CamMultImageConfidenceChange`` does not divide by ``Y``; it is not
  this metric.)
* **The fill of masked pixels** (``fill``, for Average Drop/Increase and Coherency). How the
  explanation map is formed decides what an unimportant pixel looks like to the network:
  ``"black"`` (the default; the thesis's text, sections 5.1 and 6.1) multiplies the pixels,
  ``x * map``, so masked pixels go black; ``"mean"`` multiplies the *normalized* tensor, as
  pytorch-grad-cam's ``CamMultImageConfidenceChange`` and Poppi et al.'s code do, so masked
  pixels become the model's normalization mean colour: ``x * map + mean * (1 - map)`` in
  pixel space (:func:`masked_image`).
* **Coherency** (Poppi et al. 2021). The Pearson correlation ``r`` between ``map(x)`` and
  ``map(x * map(x))``, the second map computed by the same method for the same class (for
  LOTS: LOTS is run again on the explanation map), rescaled to [0, 1] as ``(r + 1) / 2`` and
  reported in %. Constant maps (zero variance, where ``r`` is undefined) are *defined*, not
  NaN: two constant maps that are equal score 100 (the coherence condition
  ``map(x * map(x)) == map(x)`` holds exactly), any other case with a constant map scores 50
  (``r := 0``, no linear relation measurable); both cases are flagged as degenerate.
* **Insertion / Deletion** (Petsiuk et al. 2018). Pixels are ordered by map value (highest
  first; ties in row-major order, a stable sort). Deletion starts from the image and replaces
  the ordered pixels, ``steps`` chunks at a time, by a blurred copy of the image; insertion
  starts from the blurred copy and restores the original pixels in the same order. After step
  ``i`` (``i = 0..steps``) ``floor(i * H * W / steps)`` pixels are changed; the score is the
  softmax probability of class c (``score="original"``, the default: the top-1 class of the
  original image, tracked at every step) or the highest class probability at that step
  (``score="max"``; the thesis's wording "we adopted the highest class probability as our
  prediction", section 5.1, read literally), and the AUC is the trapezoid rule over the fraction of
  pixels changed, in %. The blur is a Gaussian with ``blur_kernel`` x ``blur_kernel`` taps and
  standard deviation ``blur_sigma`` -- by default 11 and 5, the substrate of Petsiuk et al.'s
  reference code -- applied with reflected borders. ``steps=224`` for 224x224 input is the
  thesis's (and the paper's) protocol: 225 forward passes per curve, sent through the model in
  batches of ``batch_size`` perturbed images.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import InputRangeError, ParameterError
from .explanation import DegenerateMapWarning, explain_with_info
from .method_registry import check_params, get_method
from .params import SCORES, MetricParams, check_batch_size, check_fill, check_insdel_params
from .tensors import check_pixels, is_int, model_device
from .visualize import explanation_map, gaussian_blur

__all__ = [
    "class_probs",
    "masked_image",
    "confidence_change",
    "Confidence",
    "drop",
    "increase",
    "average_drop",
    "average_increase",
    "pearson",
    "pearson_coherency",
    "coherency",
    "coherency_details",
    "CoherencyResult",
    "insertion_deletion",
    "InsertionDeletion",
    "blur_images",
    "deletion_frames",
    "auc",
    "changed_pixels",
]


# ------------------------------------------------------------------ checks
def _check_inputs(x, maps, classes):
    check_pixels(x)
    n, _, h, w = x.shape
    if not isinstance(maps, torch.Tensor):
        maps = torch.as_tensor(np.asarray(maps))
    if maps.dim() == 2:
        maps = maps[None]
    if maps.shape != (n, h, w):
        raise InputRangeError(f"maps has shape {tuple(maps.shape)}; expected {(n, h, w)} "
                              f"(one (H,W) map per image of x).")
    maps = maps.detach().float().cpu()
    if not torch.isfinite(maps).all():
        raise InputRangeError("maps contain NaN or inf. Fix: use lotslib.cams.explain, whose maps are finite in [0,1].")
    if float(maps.min()) < 0 or float(maps.max()) > 1:
        raise InputRangeError(
            f"maps have values in [{float(maps.min()):.4g}, {float(maps.max()):.4g}], outside [0,1]. "
            f"Fix: min-max normalize them (lotslib.visualize.minmax)."
        )
    cl = torch.as_tensor(np.array(classes)).flatten().long()
    if cl.numel() == 1 and n > 1:
        cl = cl.expand(n).clone()
    if cl.numel() != n:
        raise ParameterError(f"classes has {cl.numel()} entries for {n} images. Fix: one class index per image.")
    return maps, cl


# ------------------------------------------------------------------ confidence
def class_probs(model, x: torch.Tensor, classes, batch_size: int = MetricParams.batch_size) -> np.ndarray:
    """Softmax probability of ``classes[i]`` on ``x[i]``, without gradients.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (logits; the softmax is taken here).
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    classes : Sequence of int or torch.Tensor
        One class index per image (``(N,)``), or one index for all images.
    batch_size : int, optional
        Images per forward pass, >= 1 (default 32).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 probabilities in [0,1].

    Raises
    ------
    lotslib.errors.ParameterError
        If ``batch_size`` is not a positive integer.
    """
    check_batch_size(batch_size)
    dev = model_device(model)
    cl = torch.as_tensor(np.array(classes)).flatten().long()
    if cl.numel() == 1 and len(x) > 1:
        cl = cl.expand(len(x))
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            p = model(x[s : s + batch_size].to(dev)).float().softmax(1).cpu()
            out.append(p.gather(1, cl[s : s + batch_size].view(-1, 1))[:, 0])
    return torch.cat(out).double().numpy()


@dataclass
class Confidence:
    """``y`` ``(N,)``: probability of class c on the image; ``o`` ``(N,)``: on ``x * map``."""

    y: np.ndarray
    o: np.ndarray

    @property
    def drop(self) -> np.ndarray:
        return drop(self.y, self.o)

    @property
    def increase(self) -> np.ndarray:
        return increase(self.y, self.o)


def masked_image(model, x: torch.Tensor, maps: torch.Tensor, fill: str = MetricParams.fill) -> torch.Tensor:
    """The explanation map as an image the model sees.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Needs a ``mean`` buffer ``(1,3,1,1)`` (its normalization mean, pixels in [0,1]) for
        ``fill="mean"``.
    x : torch.Tensor
        ``(N,3,H,W)`` pixels in [0,1].
    maps : torch.Tensor
        ``(N,H,W)`` in [0,1].
    fill : str
        ``"black"``: ``x * map``; ``"mean"``: ``x * map + mean * (1 - map)``, i.e. the
        normalized tensor times the map.

    Returns
    -------
    torch.Tensor
        ``(N,3,H,W)`` pixels in [0,1].
    """
    check_fill(fill)
    xe = explanation_map(x, maps.to(x.device))
    if fill == "black":
        return xe
    mean = getattr(model, "mean", None)
    if not isinstance(mean, torch.Tensor) or mean.numel() != 3:
        raise ParameterError(f"fill='mean' needs the model's normalization mean (model.mean, 3 values); "
                             f"{type(model).__name__} has none. Fix: use fill='black' or a lotslib model wrapper.")
    m = maps.to(x.device, x.dtype)[:, None]
    return xe + mean.view(1, 3, 1, 1).to(x.device, x.dtype) * (1.0 - m)


def confidence_change(model, x: torch.Tensor, maps: torch.Tensor, classes, batch_size: int = MetricParams.batch_size,
                      fill: str = MetricParams.fill) -> Confidence:
    """Per-image ``Y_c`` (softmax on ``x``) and ``O_c`` (softmax on the explanation map).

    Parameters
    ----------
    model, x, classes, batch_size
        As in :func:`class_probs`.
    maps : torch.Tensor
        The activation maps, ``(N,H,W)`` float in [0,1].
    fill : str, optional
        ``"black"`` (default) or ``"mean"``: the fill of :func:`masked_image`, which makes the
        explanation map.

    Returns
    -------
    Confidence
        ``Y_c`` and ``O_c``, each ``(N,)`` in [0,1], for class ``classes[i]``.

    Raises
    ------
    lotslib.errors.InputRangeError
        If ``x`` is not ``(N,3,H,W)`` in [0,1] or ``maps`` are not finite ``(N,H,W)`` in [0,1].
    lotslib.errors.ParameterError
        If ``classes`` does not have one entry per image, or a parameter is invalid.
    """
    check_batch_size(batch_size)
    check_fill(fill)
    maps, cl = _check_inputs(x, maps, classes)
    y = class_probs(model, x, cl, batch_size)
    o = class_probs(model, masked_image(model, x, maps, fill), cl, batch_size)
    return Confidence(y, o)


def drop(y, o) -> np.ndarray:
    """Per-image drop in %.

    Parameters
    ----------
    y : numpy.ndarray
        ``(N,)`` confidences ``Y_c`` on the images, in [0,1].
    o : numpy.ndarray
        ``(N,)`` confidences ``O_c`` on the explanation maps, in [0,1].

    Returns
    -------
    numpy.ndarray
        ``(N,)`` values ``max(0, y - o) / y * 100`` in [0, 100] (0 where ``y == 0``).
    """
    y, o = np.asarray(y, dtype=np.float64), np.asarray(o, dtype=np.float64)
    safe = np.where(y > 0, y, 1.0)
    return np.where(y > 0, np.maximum(0.0, y - o) / safe * 100.0, 0.0)


def increase(y, o) -> np.ndarray:
    """Per-image indicator of ``o > y``.

    Parameters
    ----------
    y, o : numpy.ndarray
        The confidences ``Y_c`` and ``O_c``, as in :func:`drop`.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64, 1.0 where ``o > y``, else 0.0.
    """
    return (np.asarray(o, dtype=np.float64) > np.asarray(y, dtype=np.float64)).astype(np.float64)


def average_drop(y, o) -> float:
    """Average Drop in % over images (Chattopadhyay et al. 2018; thesis eq. 3.4).

    Parameters
    ----------
    y, o : numpy.ndarray
        As in :func:`drop`.

    Returns
    -------
    float
        The mean of :func:`drop`, in [0, 100].
    """
    return float(np.mean(drop(y, o)))


def average_increase(y, o) -> float:
    """Average Increase: % of images whose confidence went up on the explanation map.

    Parameters
    ----------
    y, o : numpy.ndarray
        ``(N,)`` confidences on the images and on the explanation maps (see :func:`drop`).

    Returns
    -------
    float
        The share of images with ``o > y``, in [0, 100].
    """
    return float(np.mean(increase(y, o)) * 100.0)


# ------------------------------------------------------------------ coherency
def pearson(m1, m2, atol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-map Pearson correlation of two ``(N,H,W)`` stacks, and a degenerate flag.

    Parameters
    ----------
    m1 : torch.Tensor
        The first maps, ``(N,H,W)``.
    m2 : torch.Tensor
        The second maps, same shape as ``m1``.
    atol : float, optional
        Tolerance for "constant and equal" (default 1e-6).

    Returns
    -------
    r : numpy.ndarray
        ``(N,)`` correlations in [-1, 1].
    degenerate : numpy.ndarray
        ``(N,)`` bool: a constant map, where ``r`` is undefined.

    Raises
    ------
    lotslib.errors.InputRangeError
        If the two stacks differ in shape.

    Notes
    -----
    Constant maps are *defined*, not NaN: ``r = 1`` if both are constant and equal (within
    ``atol``), else 0.
    """
    a = torch.as_tensor(np.asarray(m1) if not isinstance(m1, torch.Tensor) else m1).detach().double().cpu().flatten(1)
    b = torch.as_tensor(np.asarray(m2) if not isinstance(m2, torch.Tensor) else m2).detach().double().cpu().flatten(1)
    if a.shape != b.shape:
        raise InputRangeError(f"Pearson correlation needs maps of the same shape; got {tuple(a.shape)} "
                              f"and {tuple(b.shape)}.")
    a0 = a - a.mean(1, keepdim=True)
    b0 = b - b.mean(1, keepdim=True)
    na, nb = a0.norm(dim=1), b0.norm(dim=1)
    const_a, const_b = na <= atol, nb <= atol
    degenerate = const_a | const_b
    r = (a0 * b0).sum(1) / torch.where(degenerate, torch.ones_like(na), na * nb)
    r = r.clamp(-1.0, 1.0)
    both_equal = const_a & const_b & ((a - b).abs().amax(1) <= atol)
    r = torch.where(degenerate, torch.where(both_equal, torch.ones_like(r), torch.zeros_like(r)), r)
    return r.numpy(), degenerate.numpy()


def pearson_coherency(m1, m2, atol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-map coherency in % ``(r + 1) / 2 * 100`` of two ``(N,H,W)`` stacks (:func:`pearson`).

    Parameters
    ----------
    m1, m2, atol
        As in :func:`pearson`.

    Returns
    -------
    coherency : numpy.ndarray
        ``(N,)`` values in [0, 100].
    degenerate : numpy.ndarray
        ``(N,)`` bool flags of constant maps.

    Raises
    ------
    lotslib.errors.InputRangeError
        If ``m1`` and ``m2`` differ in shape.

    Notes
    -----
    Constant maps: 100 if both are constant and equal, else 50 (flagged either way).
    """
    r, degenerate = pearson(m1, m2, atol)
    return (r + 1.0) / 2.0 * 100.0, degenerate


@dataclass
class CoherencyResult:
    """``values`` ``(N,)`` in %; ``degenerate`` ``(N,)`` (a constant map was involved);
    ``maps_again`` ``(N,H,W)`` the maps of the explanation maps."""

    values: np.ndarray
    degenerate: np.ndarray
    maps_again: torch.Tensor


_RESEED = 1_000_003  # offset of the second draw of a random method's seed


def coherency_details(method, model, x: torch.Tensor, maps: torch.Tensor, classes, fill: str = MetricParams.fill,
                      **params) -> CoherencyResult:
    """Coherency (Poppi et al. 2021) with its flags and the second maps.

    Parameters
    ----------
    method : str or Callable
        A registered method key (:mod:`lotslib.method_registry`; ``params`` go to
        :func:`lotslib.explanation.explain_with_info`) or a callable
        ``f(model, x, targets, **params) -> maps``.
    model, x, maps, classes, fill
        As in :func:`confidence_change`.
    **params
        The method's parameters.

    Returns
    -------
    CoherencyResult
        The ``(N,)`` values in [0, 100], the degenerate flags and the second maps ``(N,H,W)``.

    Raises
    ------
    lotslib.errors.InputRangeError
        As in :func:`confidence_change`.
    lotslib.errors.ParameterError
        As in :func:`confidence_change`, or for bad method parameters.

    Notes
    -----
    The second map is computed for the same class ``classes[i]``, on the explanation map
    :func:`masked_image` with ``fill``. A stochastic method (Random-CAM, SmoothGrad-CAM++:
    the registry's ``stochastic`` flag) draws afresh for the second map: its ``seed`` is
    shifted by a fixed offset, as an independent call would.
    """
    if not callable(method):
        check_params(method, params)  # bad parameters (e.g. a float seed) fail here, before any compute
    check_fill(fill)
    maps, cl = _check_inputs(x, maps, classes)
    xe = masked_image(model, x, maps, fill)
    if callable(method):
        again = method(model, xe, cl, **params)
    else:
        p = dict(params)
        if "seed" in p or get_method(method).stochastic:
            s = p.get("seed", 0)
            p["seed"] = int(s) + _RESEED if is_int(s) else [int(v) + _RESEED for v in s]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateMapWarning)  # reported through `degenerate`
            again = explain_with_info(method, model, xe, targets=cl, **p).maps
    again = torch.as_tensor(again).detach().float().cpu()
    values, degenerate = pearson_coherency(maps, again)
    return CoherencyResult(values, degenerate, again)


def coherency(method, model, x: torch.Tensor, maps: torch.Tensor, classes, **params) -> np.ndarray:
    """Per-image Coherency in % (see :func:`coherency_details`).

    Parameters
    ----------
    method : str or Callable
        A registered method key or a callable, as in :func:`coherency_details`.
    model, x, maps, classes
        As in :func:`confidence_change`.
    **params
        ``fill`` and the method's parameters, as in :func:`coherency_details`.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` Coherency values in [0, 100].

    Raises
    ------
    lotslib.errors.InputRangeError
        For bad ``x`` or ``maps`` (see :func:`coherency_details`).
    lotslib.errors.ParameterError
        For bad ``classes`` or method parameters.
    """
    return coherency_details(method, model, x, maps, classes, **params).values


# ------------------------------------------------------------------ insertion / deletion
def blur_images(x: torch.Tensor, kernel: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """Gaussian blur of images (reflected borders), the insertion/deletion substrate.

    Parameters
    ----------
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    kernel : int, optional
        Kernel size (default 11).
    sigma : float, optional
        Gaussian sigma (default 5.0).

    Returns
    -------
    torch.Tensor
        The blurred images, ``(N,3,H,W)`` clamped to [0,1].
    """
    n, c, h, w = x.shape
    return gaussian_blur(x.reshape(n * c, h, w), kernel, sigma).reshape(n, c, h, w).clamp(0.0, 1.0)


def deletion_frames(x: torch.Tensor, m: torch.Tensor, fractions, blur_kernel: int = MetricParams.blur_kernel,
                    blur_sigma: float = MetricParams.blur_sigma, stable: bool = False) -> torch.Tensor:
    """The images the network sees during deletion: the most important pixels of ``m``
    replaced by the blurred copy of :func:`blur_images`, for each fraction of the pixels.

    Parameters
    ----------
    x : torch.Tensor
        One image ``(1,3,H,W)`` in [0,1].
    m : torch.Tensor
        Its map, ``(H,W)`` or ``(1,H,W)``, in [0,1] (higher = more important).
    fractions : sequence of float
        Fractions of the pixels to replace, each in [0,1]; ``int(q * H * W)`` pixels for ``q``.
    blur_kernel, blur_sigma : int, float
        The Gaussian substrate (taps, standard deviation), as in :func:`insertion_deletion`.
    stable : bool
        Order ties like :func:`insertion_deletion` (a stable descending sort, ties in
        row-major order). The default, False, is the plain ``torch.argsort(descending=True)``
        that chapter 4 of the book has always used for its figure: on pixels with equal map
        values its order is not guaranteed and may differ from :func:`insertion_deletion`'s
        (the other pixels are replaced in the same order).

    Returns
    -------
    torch.Tensor
        ``(F,3,H,W)`` in [0,1], one frame per fraction, on ``x``'s device.
    """
    n_pix = m.numel()
    flat = m.flatten()
    order = torch.sort(flat, descending=True, stable=True).indices if stable else torch.argsort(flat, descending=True)
    blurred = blur_images(x, blur_kernel, blur_sigma)
    frames = []
    for q in fractions:
        mask = torch.zeros(n_pix, dtype=torch.bool, device=flat.device)
        mask[order[: int(q * n_pix)]] = True
        mask = mask.view(1, 1, *m.shape[-2:]).to(x.device)
        frames.append(torch.where(mask, blurred, x)[0])
    return torch.stack(frames)


def auc(curve: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Trapezoid area under ``curve`` over ``fractions``, in %.

    Parameters
    ----------
    curve : numpy.ndarray
        ``(..., S+1)`` values, e.g. probabilities in [0,1].
    fractions : numpy.ndarray
        ``(S+1,)`` fractions in [0,1].

    Returns
    -------
    numpy.ndarray
        ``(...)`` areas in %, in [0, 100] for curves in [0,1].
    """
    return np.trapezoid(np.asarray(curve, dtype=np.float64), np.asarray(fractions, dtype=np.float64), axis=-1) * 100.0


@dataclass
class InsertionDeletion:
    """``insertion``/``deletion`` ``(N,)`` AUC in %; ``insertion_curves``/``deletion_curves``
    ``(N, steps+1)`` class probabilities; ``fractions`` ``(steps+1,)`` pixels changed / (H*W).
    ``by_score`` ``{score: (insertion (N,), deletion (N,))}``: the AUCs under every ``score``
    convention, read from the same forward passes (the curves are those of the requested one)."""

    insertion: np.ndarray
    deletion: np.ndarray
    insertion_curves: np.ndarray
    deletion_curves: np.ndarray
    fractions: np.ndarray
    by_score: dict = field(default_factory=dict)


def changed_pixels(steps: int, n_pixels: int) -> list[int]:
    """How many pixels insertion/deletion have changed after step ``i = 0..steps``:
    ``floor(i * n_pixels / steps)``.

    Parameters
    ----------
    steps : int
        Insertion/deletion steps.
    n_pixels : int
        ``H * W``.

    Returns
    -------
    list of int
        ``steps + 1`` counts from 0 to ``n_pixels``; divided by ``n_pixels`` they are the
        curves' x-axis (``InsertionDeletion.fractions``).
    """
    return [(i * n_pixels) // steps for i in range(steps + 1)]


def insertion_deletion(
    model,
    x: torch.Tensor,
    maps: torch.Tensor,
    classes,
    steps: int = MetricParams.steps,
    blur_kernel: int = MetricParams.blur_kernel,
    blur_sigma: float = MetricParams.blur_sigma,
    batch_size: int = MetricParams.batch_size,
    progress: bool = False,
    score: str = MetricParams.score,
) -> InsertionDeletion:
    """Insertion and deletion curves and AUCs (Petsiuk et al. 2018) of ``maps`` for ``classes``.

    Parameters
    ----------
    model, x, maps, classes
        The classifier, images, activation maps and class indices, as in :func:`confidence_change`.
    steps : int, optional
        Number of steps; every curve has ``steps + 1`` points (default 224).
    blur_kernel : int, optional
        Gaussian kernel size of the blurred substrate (default 11).
    blur_sigma : float, optional
        Gaussian sigma of the blurred substrate (default 5.0).
    batch_size : int, optional
        Perturbed images per forward pass, >= 1 (default 32).
    progress : bool, optional
        Show a progress bar (default False).
    score : str, optional
        ``"original"`` (default; the probability of ``classes[i]`` at every step) or ``"max"``
        (the highest class probability at each step).

    Returns
    -------
    InsertionDeletion
        The insertion and deletion AUCs ``(N,)`` in %, the curves ``(N, steps+1)`` and the
        fractions ``(steps+1,)``.

    Raises
    ------
    lotslib.errors.ParameterError
        If ``score`` or another parameter is invalid, or ``classes`` does not fit ``x``.
    lotslib.errors.InputRangeError
        If ``x`` or ``maps`` are not in [0,1] with the expected shapes.

    Notes
    -----
    See the module docstring for the protocol. The deletion curve starts at the probability
    on the image and ends on the blurred image; the insertion curve runs the other way.
    """
    if score not in SCORES:
        raise ParameterError(f"score={score!r}: choose 'original' (the explained class at every step) or 'max' "
                             f"(the highest class probability at each step).")
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        check_insdel_params(steps, blur_kernel, blur_sigma, batch_size, x.shape[2] * x.shape[3])
    maps, cl = _check_inputs(x, maps, classes)
    n, _, h, w = x.shape
    hw = h * w
    dev = model_device(model)
    x = x.to(dev, torch.float32)
    blurred = blur_images(x, blur_kernel, blur_sigma)
    # rank[i, p] = position of pixel p in image i's order (0 = most important); int32 halves
    # the bytes read per mask (H*W < 2**31)
    order = torch.sort(maps.flatten(1), dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(hw).expand(n, hw).contiguous())
    rank = rank.view(n, h, w).to(dev, torch.int32)
    counts_list = changed_pixels(steps, hw)
    counts = torch.tensor(counts_list, dtype=torch.int32, device=dev)
    fractions = np.asarray(counts_list, dtype=np.float64) / hw
    total = n * (steps + 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * total, desc="insertion/deletion", unit="img", leave=False)
    # The perturbed images of a batch are written into two reused buffers, image by image
    # (a batch spans one or a few images' runs of consecutive steps): no gathered copies of
    # the image and its blur, no fresh allocation per batch. The class probabilities stay on
    # the device until the end (no per-batch synchronisation on a GPU).
    bmax = min(batch_size, total)
    mask = torch.empty(bmax, 1, h, w, dtype=torch.bool, device=dev)
    buf = torch.empty(bmax, 3, h, w, dtype=torch.float32, device=dev)
    cls_flat = cl.to(dev).repeat_interleave(steps + 1).view(-1, 1)
    # both score conventions come from the same softmax: the other one costs nothing
    probs = {(kind, sc): torch.empty(total, device=dev) for kind in ("deletion", "insertion") for sc in SCORES}
    with torch.no_grad():
        for s in range(0, total, batch_size):
            e = min(s + batch_size, total)
            segs = []  # (image, first step, number of steps, offset in the batch)
            f = s
            while f < e:
                i, st = divmod(f, steps + 1)
                k = min(e - f, steps + 1 - st)
                segs.append((i, st, k, f - s))
                f += k
            for i, st, k, o in segs:
                torch.lt(rank[i], counts[st : st + k].view(-1, 1, 1), out=mask[o : o + k, 0])
            for kind, (a, b) in (("deletion", (blurred, x)), ("insertion", (x, blurred))):
                for i, st, k, o in segs:
                    torch.where(mask[o : o + k], a[i : i + 1], b[i : i + 1], out=buf[o : o + k])
                logits = model(buf[: e - s])
                sm = logits.float().softmax(1)
                probs[kind, "max"][s:e] = sm.amax(1)
                probs[kind, "original"][s:e] = sm.gather(1, cls_flat[s:e])[:, 0]
                if bar is not None:
                    bar.update(e - s)
    if bar is not None:
        bar.close()
    curves = {k: v.double().cpu().numpy().reshape(n, steps + 1) for k, v in probs.items()}
    by_score = {sc: (auc(curves["insertion", sc], fractions), auc(curves["deletion", sc], fractions)) for sc in SCORES}
    ic, dc = curves["insertion", score], curves["deletion", score]
    return InsertionDeletion(*by_score[score], ic, dc, fractions, by_score)
