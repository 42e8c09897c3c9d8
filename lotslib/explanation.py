"""Every registered explanation method behind one call: ``explain(method, model, x)``.

``(N,3,H,W)`` pixels in [0,1] in, ``(N,H,W)`` float32 maps in [0,1] out. The methods are the
records of :mod:`lotslib.method_registry` (the six CAM methods of :mod:`lotslib.cams`, LOTS
and its target variants of :mod:`lotslib.lots_explainer`, and any method registered later).

What this module adds around a method's own ``compute``: parameter checks before any
compute, the target classes (top-1 unless given), per-image seeds, min-max normalization,
and the handling of degenerate inputs. An image whose pixels are all equal (a constant
image, up to half an 8-bit grey level) carries no spatial information: its map is all zeros,
a :class:`DegenerateMapWarning` names it, and no method is run on it. A method whose map
comes out constant (e.g. every Grad-CAM weight negative) also returns zeros with the same
warning. :func:`explain_with_info` reports both as ``degenerate``.

Randomness. A method with a ``seed`` parameter gets one seed per image: ``seed`` is an int
(image ``i`` of the batch uses ``seed + i``) or a sequence of one int per image (what
:mod:`lotslib.benchmark` passes, so a map does not depend on the batch it ran in).
"""
from __future__ import annotations

import inspect
import time
import warnings
from dataclasses import dataclass, field

import torch

from .errors import ParameterError
from .method_registry import MethodOutput, check_params, get_method
from .tensors import check_pixels, is_int, model_device
from .visualize import minmax

__all__ = ["explain", "explain_with_info", "explain_photo", "ImageExplanation", "Explanation", "DegenerateMapWarning",
           "CONSTANT_TOL", "per_image_seeds", "per_image_rows"]


class DegenerateMapWarning(UserWarning):
    """A map is all zeros because the image is constant or the method's map was constant."""


#: an image whose channels vary by less than half an 8-bit grey level is constant (resizing a
#: constant image leaves float rounding noise of ~1e-7)
CONSTANT_TOL = 0.5 / 255


def _is_constant(x: torch.Tensor) -> torch.Tensor:
    """(N,) True where every pixel of the image has the same colour (within ``CONSTANT_TOL``)."""
    spread = (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).amax(dim=1)
    return (spread < CONSTANT_TOL).cpu()


def per_image_seeds(seed, n: int) -> list[int]:
    """One seed per image: ``seed + i`` for an int, or the given sequence (its length checked).

    Parameters
    ----------
    seed : int or Sequence of int
        A base seed (image ``i`` of the batch uses ``seed + i``) or one seed per image.
    n : int
        The number of images.

    Returns
    -------
    list of int
        ``n`` seeds.

    Raises
    ------
    lotslib.errors.ParameterError
        A sequence whose length is not ``n``.
    """
    if is_int(seed):
        return [int(seed) + i for i in range(n)]
    seeds = [int(s) for s in seed]
    if len(seeds) != n:
        raise ParameterError(f"seed has {len(seeds)} entries for {n} images. Fix: pass one seed per image or an int.")
    return seeds


def _targets(model, x, targets) -> torch.Tensor:
    n = x.shape[0]
    if targets is None:
        with torch.no_grad():
            out = []
            for s in range(0, n, 32):
                out.append(model(x[s : s + 32]).argmax(1).cpu())
        return torch.cat(out)
    raw = torch.as_tensor(targets).flatten().cpu()
    if raw.dtype == torch.bool or (raw.is_floating_point() and not torch.equal(raw, raw.round())):
        raise ParameterError(f"targets={targets!r}: class indices must be integers. Fix: e.g. targets=281, "
                             f"or None for the top-1 class.")
    t = raw.long()
    classes = getattr(model, "num_classes", None) or len(getattr(model, "categories", ()) or ()) or None
    bad = [int(v) for v in t if v < 0 or (classes is not None and v >= classes)]
    if bad:
        top = f"0 ... {classes - 1}" if classes else "0 or more"
        raise ParameterError(f"targets={bad[0]} is not a class of {getattr(model, 'name', type(model).__name__)}, "
                             f"which has {classes or 'an unknown number of'} classes. Fix: a class index {top} "
                             f"(negative indices are not counted from the end), or None for the top-1 class.")
    if t.numel() == 1 and n > 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ParameterError(
            f"targets has {t.numel()} entries for {n} images. Fix: one class index per image (or None = top-1)."
        )
    return t


def _check_model(model) -> None:
    """A bare ``nn.Module`` (no ``features``, ``cam_layer`` or ``preprocess``) or no module at all:
    a ParameterError naming :func:`lotslib.models.wrap`."""
    if not isinstance(model, torch.nn.Module):
        raise ParameterError(f"model must be a lotslib model (lotslib.load_model or lotslib.wrap); got "
                             f"{type(model).__name__}. Fix: model = lotslib.load_model('efficientnet_lite0').")
    if not (hasattr(model, "features") or hasattr(model, "cam_layer")):
        raise ParameterError(
            f"{type(model).__name__} is a bare torch.nn.Module: lotslib needs to know its input normalization and "
            f"CAM layer. Fix: use lotslib.wrap(net, mean=..., std=..., input_size=..., cam_layer=...) first "
            f"(or lotslib.load_model('torchvision:<name>') for a torchvision model).")


def per_image_rows(params: dict, n: int, keep) -> dict:
    """The parameters of a sub-batch: the per-image entries (a ``seed`` list of ``n`` ints, an
    ``(n,D)`` feature target) cut to the images ``keep``; every other value as it is.

    Parameters
    ----------
    params : dict
        A method's parameters for a batch of ``n`` images.
    n : int
        The batch size the per-image entries have.
    keep : Sequence of int or torch.Tensor
        Positions of the images to keep, in order.

    Returns
    -------
    dict
        The parameters of the ``len(keep)`` kept images.
    """
    out = dict(params)
    idx = [int(i) for i in keep]
    for k, v in params.items():
        if isinstance(v, list) and k == "seed":
            out[k] = [v[i] for i in idx]
        elif isinstance(v, torch.Tensor) and v.dim() == 2 and v.shape[0] == n:
            out[k] = v[torch.as_tensor(idx, dtype=torch.long, device=v.device)]
    return out


@dataclass
class Explanation:
    """What :func:`explain_with_info` returns.

    Attributes
    ----------
    maps : torch.Tensor
        ``(N,H,W)`` float32 in [0,1].
    targets : torch.Tensor
        ``(N,)`` the class each CAM explained (top-1 unless given; for LOTS the top-1 of the
        input, for reference).
    degenerate : torch.Tensor
        ``(N,)`` True where the map is all zeros because the input or the map was constant.
    seconds : float
        Wall time of the call.
    method : str
        The method's key.
    params : dict
        The resolved parameters.
    trace : lotslib.attack.LotsTrace or None
        For LOTS; its rows follow the images with ``ran`` True.
    x_adv : torch.Tensor or None
        The LOTS adversarial images ``(N,3,H,W)`` (the input where LOTS did not run).
    ran : torch.Tensor
        ``(N,)`` False for constant images, which no method sees.
    """

    maps: torch.Tensor
    targets: torch.Tensor
    degenerate: torch.Tensor
    seconds: float
    method: str
    params: dict = field(default_factory=dict)
    trace: object = None
    x_adv: torch.Tensor | None = None
    ran: torch.Tensor | None = None


def explain_with_info(method: str, model, x: torch.Tensor, targets=None, fast: bool = True, **params) -> Explanation:
    """Like :func:`explain` but returns an :class:`Explanation` (maps plus LOTS trace, flags, timing).

    Parameters
    ----------
    method, model, x, targets
        As in :func:`explain`.
    fast : bool
        ``fast=False`` (CAM methods only) skips the graph cut and parameter freezing
        (pytorch-grad-cam's own behaviour; only for checking that the cut changes nothing --
        the model's parameters must then require grad for the CAM methods to get
        gradients). Default True.
    **params
        The method's parameters (see :func:`explain`).

    Returns
    -------
    Explanation
        The ``(N,H,W)`` float32 maps in [0,1], the targets, the ``degenerate`` and ``ran``
        flags, the wall time, the resolved parameters and, for LOTS, the trace and ``x_adv``.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown method, a bad parameter or a wrong number of targets, before any
        compute; ``fast=False`` for a method that is not a CAM method; a method whose
        ``compute`` returned maps of the wrong shape.
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` finite pixels in [0,1].

    Warns
    -----
    DegenerateMapWarning
        For images whose map is all zeros (a constant image or a constant map).
    """
    from .perf import use_default_threads

    _check_model(model)
    m = get_method(method)
    p = check_params(m, params)
    check_pixels(x)
    use_default_threads()
    t0 = time.perf_counter()
    dev = model_device(model)
    x = x.to(dev, torch.float32)
    n, _, h, w = x.shape
    tg = _targets(model, x, targets)
    const = _is_constant(x).cpu()
    maps = torch.zeros(n, h, w)
    trace = x_adv = None
    run = (~const).nonzero().flatten()
    if run.numel():
        pr = dict(p)
        if "seed" in pr:
            pr["seed"] = per_image_seeds(pr["seed"], n)
        pr = per_image_rows(pr, n, run)
        kw = {}
        if not fast:
            if "fast" not in inspect.signature(m.compute).parameters:
                raise ParameterError(f"fast=False is only meaningful for CAM methods, not {m.name}.")
            kw["fast"] = False
        out = m.compute(model, x[run.to(dev)], tg[run], pr, **kw)
        if not isinstance(out, MethodOutput):
            out = MethodOutput(out)
        if out.trace is not None:
            trace = out.trace
        if out.x_adv is not None:
            x_adv = x.clone()
            x_adv[run.to(dev)] = out.x_adv
            x_adv = x_adv.cpu()
        mm = torch.as_tensor(out.maps).detach().cpu()
        if mm.shape != (len(run), h, w):
            raise ParameterError(
                f"{m.name}'s compute returned maps of shape {tuple(mm.shape)}; expected {(len(run), h, w)}."
            )
        maps[run] = minmax(torch.nan_to_num(mm.float(), nan=0.0, posinf=0.0, neginf=0.0))
    flat = maps.flatten(1)
    degenerate = const | ((flat.amax(1) - flat.amin(1)) <= 0)
    maps[degenerate] = 0.0
    if degenerate.any():
        bad = degenerate.nonzero().flatten().tolist()
        why = ["constant image" if const[i] else "constant map" for i in bad]
        warnings.warn(
            f"{m.name}: samples {bad} ({', '.join(sorted(set(why)))}) have no spatial information; "
            f"their maps are all zeros and their metrics should be flagged.",
            DegenerateMapWarning,
            stacklevel=2,
        )
    return Explanation(
        maps=maps.clamp_(0.0, 1.0),
        targets=tg,
        degenerate=degenerate,
        seconds=time.perf_counter() - t0,
        method=m.key,
        params=p,
        trace=trace,
        x_adv=x_adv,
        ran=~const,
    )


def explain(method: str, model, x: torch.Tensor, targets=None, **params) -> torch.Tensor:
    """Explanation maps of any registered method, batched.

    See :func:`explain_with_info` for the LOTS trace and the degenerate-map flags.

    Parameters
    ----------
    method : str
        A registered key: ``"random"``, ``"gradcam"``, ``"gradcampp"``, ``"smoothgradcampp"``,
        ``"layercam"``, ``"hirescam"``, ``"lots"`` (see :data:`lotslib.method_registry.ALL_METHODS`).
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in, logits out.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    targets : int, Sequence of int or None
        Class indices (one per image, or one for all); default the top-1 predicted class.
        LOTS with the zero target ignores it.
    **params
        The method's parameters (defaults: :func:`lotslib.method_registry.default_params`):
        every method takes ``batch_size`` (images per chunk, None = all at once);
        ``"random"``: ``seed``; ``"smoothgradcampp"``: ``n_samples``, ``noise_level``,
        ``seed``; ``"lots"``: ``iters``, ``tau``, ``alpha``, ``target`` (``"zero"`` or
        features ``(D,)`` / ``(N,D)``), ``layer``, ``distance``, ``filter_size``, ``sigma``,
        ``patience``, ``min_delta``.

    Returns
    -------
    torch.Tensor
        ``(N,H,W)`` float32 maps in [0,1], no NaN; all zeros for a constant image or map.

    Notes
    -----
    Raises and warns as :func:`explain_with_info` does: a bad method or parameter, or bad
    pixels, raise before any compute; an all-zero map warns (:class:`DegenerateMapWarning`).
    """
    return explain_with_info(method, model, x, targets=targets, **params).maps


@dataclass
class ImageExplanation:
    """What :func:`explain_photo` (``lotslib.explain_image``) returns: one photo's map and its overlays.

    Attributes
    ----------
    map : torch.Tensor
        ``(S,S)`` float32 map in [0,1] of the model's crop (``S = model.input_size``).
    overlay : numpy.ndarray
        ``(S,S,3)`` uint8: the map over the model's crop.
    full : numpy.ndarray
        ``(H,W,3)`` uint8: the map laid back on the photo at its own size (the model saw the
        centre crop; outside it, no map). At most :data:`lotslib.data.MAX_SIDE` (4096) pixels on
        the long side.
    size : tuple of int
        ``(width, height)`` of ``full``.
    original_size : tuple of int
        ``(width, height)`` of the photo as given; differs from ``size`` when it was downscaled.
    top1 : tuple
        ``(class name, probability)`` of the model's top-1 class.
    explanation : Explanation
        Everything :func:`explain_with_info` returns (target, LOTS trace, timing).
    """

    map: torch.Tensor
    overlay: object
    full: object
    size: tuple
    original_size: tuple
    top1: tuple
    explanation: Explanation

    @property
    def downscaled(self) -> bool:
        """True when the photo was larger than 4096 pixels on its long side and ``full`` is smaller."""
        return tuple(self.size) != tuple(self.original_size)

    def __repr__(self) -> str:
        note = f", downscaled from {self.original_size[0]}x{self.original_size[1]}" if self.downscaled else ""
        return (f"ImageExplanation(method={self.explanation.method!r}, map={tuple(self.map.shape)}, "
                f"full={self.size[0]}x{self.size[1]}{note}, top1={self.top1[0]!r} ({self.top1[1]:.3f}))")


def _photo(image) -> tuple[torch.Tensor, tuple]:
    """``(3,H,W)`` pixels in [0,1] and the original ``(width, height)`` of a path, PIL image, array
    or tensor, with the checks of :func:`lotslib.data.load_image` (sizes, decompression bombs)."""
    import os

    import numpy as np
    import torch.nn.functional as F
    from PIL import Image, ImageOps

    from .data import MAX_PIXELS, MAX_SIDE, MIN_SIDE, _too_large, image_size, load_image
    from .errors import ImageDecodeError
    from .tensors import to_tensor

    if isinstance(image, (str, os.PathLike)):
        return load_image(image), image_size(image)
    what = f"the {type(image).__name__} image"
    if isinstance(image, Image.Image):
        if image.width * image.height > MAX_PIXELS:
            raise ImageDecodeError(_too_large(what, image.width * image.height))
        image = ImageOps.exif_transpose(image)
        x = to_tensor(image)
    elif isinstance(image, torch.Tensor):
        x = image[0] if image.dim() == 4 and image.shape[0] == 1 else image
        if x.dim() != 3 or x.shape[0] != 3:
            raise ImageDecodeError(f"{what} has shape {tuple(image.shape)}; give one (3,H,W) image in [0,1].")
        check_pixels(x[None])
    else:
        arr = np.asarray(image)
        if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > MAX_PIXELS:
            raise ImageDecodeError(_too_large(what, arr.shape[0] * arr.shape[1]))
        x = to_tensor(arr)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if min(h, w) < MIN_SIDE:
        raise ImageDecodeError(f"{what} is only {w}x{h} pixels; lotslib needs at least {MIN_SIDE} on each side. "
                               f"Fix: use a larger image.")
    if w * h > MAX_PIXELS:
        raise ImageDecodeError(_too_large(what, w * h))
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        x = F.interpolate(x[None].float(), size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                          antialias=True, align_corners=False)[0].clamp_(0, 1)
    return x.float(), (w, h)


def explain_photo(image, method: str = "lots", model=None, targets=None, device=None, **params) -> ImageExplanation:
    """One call from a photo to a map: decode, check, preprocess, explain, lay the map back on the photo.

    Public as ``lotslib.explain_image`` (the book's page module has a function of that name).

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image, numpy.ndarray or torch.Tensor
        An image file (the checks of :func:`lotslib.data.load_image` and ``lots explain``:
        missing, not an image, truncated, smaller than 16 pixels, above 400 megapixels), a PIL
        image, an ``(H,W,3)`` array (uint8, or float in [0,1]) or a ``(3,H,W)`` tensor in [0,1].
        Photos above 4096 pixels on the long side are downscaled (``result.downscaled``).
    method : str
        A registered method key (default ``"lots"``).
    model : lotslib.models.ModelWrapper, str or None
        A model (from :func:`lotslib.models.load_model` or :func:`lotslib.models.wrap`), a model name for
        :func:`lotslib.models.load_model`, or None (EfficientNet-Lite0, the embedded weights).
    targets : int or None
        The class a CAM explains (checked against the model's classes); None = top-1.
    device : str or None
        Where to compute (default: the model's device).
    **params
        The method's parameters, checked before any compute (e.g. ``iters=40`` for LOTS).

    Returns
    -------
    ImageExplanation
        The ``(S,S)`` map, its overlay on the crop, the full-size overlay on the photo and the top-1 class.

    Raises
    ------
    lotslib.errors.LotsError
        A bad image, method, parameter, target or model, before any compute; the message names the fix.
    """
    from .models import load_model
    from .visualize import full_size_overlay, overlay

    check_params(get_method(method), params)
    if model is not None and not isinstance(model, str):
        _check_model(model)
        if not hasattr(model, "preprocess"):
            raise ParameterError(f"{type(model).__name__} has no preprocess(). Fix: use lotslib.wrap(...).")
    photo, original = _photo(image)  # every check of the image before the model loads
    if model is None or isinstance(model, str):
        model = load_model(model or "efficientnet_lite0", device=device or "cpu")
    dev = torch.device(device) if device else model_device(model)
    x = model.preprocess(photo)[None].to(dev)
    ex = explain_with_info(method, model, x, targets=targets, **params)
    with torch.no_grad():
        prob = model(x).softmax(1)[0]
    k = int(prob.argmax())
    names = getattr(model, "categories", None) or []
    top1 = (names[k] if k < len(names) else f"class {k}", float(prob[k]))
    m = ex.maps[0]
    crop = (overlay(x.cpu(), m[None])[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    full = full_size_overlay(photo, m, model)
    return ImageExplanation(map=m, overlay=crop, full=full, size=(full.shape[1], full.shape[0]),
                            original_size=original, top1=top1, explanation=ex)
