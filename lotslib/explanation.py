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

__all__ = ["explain", "explain_with_info", "Explanation", "DegenerateMapWarning", "CONSTANT_TOL", "per_image_seeds",
           "per_image_rows"]


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
    t = torch.as_tensor(targets).flatten().long().cpu()
    if t.numel() == 1 and n > 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ParameterError(
            f"targets has {t.numel()} entries for {n} images. Fix: one class index per image (or None = top-1)."
        )
    return t


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
    m = get_method(method)
    p = check_params(m, params)
    check_pixels(x)
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
