"""Three more LOTS targets: the explained class's logit, another class's image, one cell of the last conv block.

The thesis's LOTS moves the features toward a target ``F_t`` and ignores the explained
class (:mod:`lotslib.lots_explainer`). The objectives here share its step rule
``x <- clamp(x - alpha * grad / max|grad|, 0, 1)``, per-sample stopping, trace and map
(Algorithm 2, :func:`lotslib.visualize.lots_map`); see :mod:`lotslib.attack` for the loop.

==================  ====================  =======================================================================
key                 name                  what LOTS descends
==================  ====================  =======================================================================
``"lots_logit"``    LOTS (class logit)    the explained class's logit ``z_c``, signed (FAME's ``L_cls``, Zhang &
                                          Günther 2026); class-specific like the CAMs, so it has a Table 5.2 row
``"lots_other"``    LOTS (other class)    ``1/2 ||F_s - F_t||^2`` with ``F_t`` the features (logits) of an image of
                                          *another* class, drawn with a seed: the map shows where the two classes
                                          differ (the thesis's future work, Weber 2023, chapter 6)
(function API)      LOTS (location)       ``sum_c |A[c,i,j]|`` of one cell of ``model.cam_layer`` (FAME's
                                          ``L_a``): :func:`location_maps` makes the maps of a whole grid of cells
==================  ====================  =======================================================================

``lots_logit`` stops a sample when its class has lost a rank (the top-1 class: it is no
longer top-1; ``stop="rank"``, the default), or when the logit fell by ``margin``
(``stop="margin"``), or never before ``iters`` (``stop="iters"``). The rank rule, rather than
"no longer top-1", keeps the method meaningful for a class that is not top-1 to begin with
(an explained non-top class, the masked image of the Coherency metric, a randomised model):
such a sample would otherwise stop before its first step with an empty map.

``lots_other`` is LOTS with a feature target and has no table row: Table 5.1's chapter and
its paired tests compare the thesis's three targets. The benchmark builds its target from
the reference set (:func:`lotslib.targets.reference_targets` with kind ``"other"``; rows whose
image has no reference of another class are N/A), so ``lotslib.benchmark.run(...,
["lots_other"])`` runs it; through :func:`lotslib.explanation.explain` pass the features of
:func:`lotslib.targets.other_class_target` as ``target``.

The location objective is a function API, not a registered method: its target is a cell
per image, not a class, so the registry's ``targets`` (classes) and the metrics that
re-explain for a class (Coherency) do not apply to it.

Usage::

    import lotslib
    from lotslib import lots_variants as LT, receptive_field as RF
    maps = lotslib.explain("lots_logit", model, x, targets=[281], iters=100)        # (N,H,W) in [0,1]
    grid = LT.location_maps(model, x[:1], grid=7, iters=50)                          # (7,7,H,W) in [0,1]
    share = RF.mass_inside(grid, LT.location_boxes(model, x[:1], grid=7))            # (7,7) in [0,1]
"""
from __future__ import annotations

import warnings

import torch

from .errors import ParameterError
from .attack import LocationObjective, LogitObjective, check_logit_params, lots
from .lots_explainer import LOTS_DEFAULTS, lots_compute
from .params import LotsParams
from .lots_store import active_store, record_passes
from .method_registry import TABLE_METHODS, Method, MethodOutput, get_method, register_method
from .receptive_field import cam_activation, cell_boxes, grid_cells, receptive_field_boxes
from .tensors import check_pixels, model_device
from .visualize import lots_map

__all__ = ["LOTS_LOGIT_DEFAULTS", "LOTS_OTHER_DEFAULTS", "LOCATION_DEFAULTS", "lots_logit_compute",
           "location_maps", "location_boxes"]

_FEATURE_KEYS = ("target", "layer", "distance", "tau")  # the feature objective's own parameters
_STEP_KEYS = [k for k in LOTS_DEFAULTS if k not in _FEATURE_KEYS]

#: the LOTS step parameters of :data:`lotslib.lots_explainer.LOTS_DEFAULTS` (500 iterations, alpha
#: 1/255, 49x49 blur, no plateau stop) without the feature target's ``target``, ``layer``,
#: ``distance`` and ``tau``, plus the stop rule: ``stop="rank"`` (the class lost a rank) and the
#: ``margin`` of ``stop="margin"`` (5 logit units)
LOTS_LOGIT_DEFAULTS = {
    **{k: v for k, v in LOTS_DEFAULTS.items() if k not in _FEATURE_KEYS},
    "stop": "rank",
    "margin": 5.0,
}
#: :data:`lotslib.lots_explainer.LOTS_DEFAULTS` with no target (it comes from a reference set)
LOTS_OTHER_DEFAULTS = {**LOTS_DEFAULTS, "target": None}
#: the location maps' defaults: the LOTS step parameters, the cell's stop threshold ``tau`` = 0
#: (run to ``iters`` unless the cell is exactly zero) and a 7 x 7 grid
LOCATION_DEFAULTS = {
    **{k: v for k, v in LOTS_DEFAULTS.items() if k not in _FEATURE_KEYS},
    "tau": 0.0,
    "grid": 7,
}


def _run_maps(x, res, params, quiet: bool = True) -> tuple[torch.Tensor, MethodOutput]:
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")  # explain reports zero perturbations as degenerate maps
        maps = lots_map(x, res.x_adv, params["filter_size"], params["sigma"]).cpu()
    return maps, MethodOutput(maps, trace=res.trace, x_adv=res.x_adv)


def _step_params(p: dict) -> dict:
    """The keyword arguments of :func:`lotslib.attack.lots` shared by every objective."""
    return {k: p[k] for k in ("iters", "alpha", "alpha_final", "batch_size", "patience", "min_delta")}


def _check_steps(p: dict, tau: float = 0.0) -> None:
    """The checks of the step and map parameters every objective shares (``tau`` for the location's)."""
    LotsParams.from_dict({**{k: p[k] for k in _STEP_KEYS}, "tau": tau})  # validates


def _check_logit(p: dict) -> None:
    _check_steps(p)
    check_logit_params(p["stop"], p["margin"])


def lots_logit_compute(model, x: torch.Tensor, targets: torch.Tensor, params: dict) -> MethodOutput:
    """LOTS down the explained class's logit, then its map (Algorithm 2), for ``x`` ``(N,3,H,W)`` in [0,1].

    The ``compute`` of the ``"lots_logit"`` record; call it through
    :func:`lotslib.explanation.explain`, which checks the parameters and resolves the classes.

    Parameters
    ----------
    model, x
        The classifier and its ``(N,3,H,W)`` images, as in :func:`lotslib.lots_explainer.lots_compute`.
    targets : torch.Tensor
        ``(N,)`` the classes whose logits are driven down (top-1 unless given to ``explain``).
    params : dict
        Every key of :data:`LOTS_LOGIT_DEFAULTS`.

    Returns
    -------
    lotslib.method_registry.MethodOutput
        The ``(N,H,W)`` maps in [0,1] (on the CPU), the trace (:class:`lotslib.attack.LotsTrace`:
        ``distances`` is the class logit before each step, ``converged`` the stop rule met) and
        ``x_adv`` ``(N,3,H,W)``.
    """
    obj = LogitObjective(torch.as_tensor(targets).long(), stop=params["stop"], margin=params["margin"])
    res = lots(model, x, objective=obj, **_step_params(params))
    store = active_store()
    if store is not None:  # counted in the store's pass ledger (lotslib.lots_store), not stored
        record_passes(store, res, via="benchmark")
    return _run_maps(x, res, params)[1]


def _one_photo(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x[None]
    check_pixels(x)
    if x.shape[0] != 1:
        raise ParameterError(f"x holds {x.shape[0]} images; the location maps take one photo (1,3,H,W). "
                             f"Fix: call once per photo.")
    return x


def location_maps(model, x: torch.Tensor, grid: int = 7, **params) -> torch.Tensor:
    """LOTS maps of every cell of a ``g x g`` grid of the last convolutional block, for one photo.

    The photo is stacked ``gh * gw`` times, each copy with its own cell of
    ``model.cam_layer`` (:func:`lotslib.receptive_field.grid_cells`: every cell of a map no
    larger than ``grid``, e.g. all 7 x 7 of EfficientNet-Lite0 at 224 pixels), and LOTS drives
    that cell's ``sum_c |A[c,i,j]|`` toward zero (:class:`lotslib.attack.LocationObjective`) in
    one batched run; each copy's map is Algorithm 2 of its perturbation.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in; its ``cam_layer`` is the last convolutional block.
    x : torch.Tensor
        ``(1,3,H,W)`` or ``(3,H,W)`` float pixels in [0,1].
    grid : int
        Cells per side (at most the feature map's size is used). Default 7.
    **params
        :data:`LOCATION_DEFAULTS`: ``iters`` (500; the cost is ``gh * gw`` LOTS runs),
        ``alpha``, ``alpha_final``, ``tau`` (stop once the cell's sum is <= tau; 0),
        ``patience``, ``min_delta``, ``batch_size`` (copies per chunk; None = all),
        ``filter_size`` (49), ``sigma``.

    Returns
    -------
    torch.Tensor
        ``(gh, gw, H, W)`` float maps in [0,1] on the CPU (``gh = gw = g`` for a square map);
        all zeros for a cell that is exactly zero on the photo (no step is taken).

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown or bad parameter, or more than one photo.
    lotslib.errors.InputRangeError
        ``x`` is not finite float pixels in [0,1].
    """
    unknown = sorted(set(params) - set(LOCATION_DEFAULTS))
    if unknown:
        raise ParameterError(f"location_maps does not take {unknown}; it takes {sorted(LOCATION_DEFAULTS)}.")
    p = {**LOCATION_DEFAULTS, **params, "grid": grid}
    _check_steps(p, p["tau"])
    x = _one_photo(x).to(model_device(model), torch.float32)
    with torch.no_grad():
        h, w = cam_activation(model, x).shape[-2:]
    cells = grid_cells(int(h), int(w), grid)
    gh, gw = cells.shape[:2]
    xs = x.expand(gh * gw, -1, -1, -1).contiguous()
    res = lots(model, xs, objective=LocationObjective(cells.reshape(-1, 2), tau=p["tau"]), **_step_params(p))
    maps = _run_maps(xs, res, p, quiet=False)[0]
    return maps.reshape(gh, gw, *maps.shape[-2:])


def location_boxes(model, x: torch.Tensor, grid: int = 7, kind: str = "receptive_field", probes: int = 3,
                   seed: int = 0) -> torch.Tensor:
    """A box per cell of :func:`location_maps`'s grid: its theoretical receptive field, or the pixels under it.

    Score a grid of maps with ``lotslib.receptive_field.mass_inside(maps, boxes)``.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        ``(1,3,H,W)`` or ``(3,H,W)`` the photo (only its size is used; ``H == W``).
    grid : int
        Cells per side, as in :func:`location_maps`. Default 7.
    kind : str
        ``"receptive_field"`` (the default; :func:`lotslib.receptive_field.receptive_field_boxes`,
        every pixel the cell depends on) or ``"cell"`` (:func:`lotslib.receptive_field.cell_boxes`,
        the pixels the CAM methods assign to the cell).
    probes, seed : int
        As in :func:`lotslib.receptive_field.receptive_field_boxes` (3 and 0); not used for
        ``kind="cell"``.

    Returns
    -------
    torch.Tensor
        ``(gh, gw, 4)`` int64 boxes ``(top, left, bottom, right)``, bottom/right exclusive.

    Raises
    ------
    lotslib.errors.ParameterError
        A non-square photo, more than one, or an unknown ``kind``.
    """
    if kind not in ("receptive_field", "cell"):
        raise ParameterError(f"kind={kind!r}: choose 'receptive_field' or 'cell'.")
    x = _one_photo(x)
    hh, ww = x.shape[-2:]
    if hh != ww:
        raise ParameterError(f"the photo is {hh}x{ww}; the receptive fields are measured on square inputs. "
                             f"Fix: pass the model-sized crop (model.preprocess).")
    with torch.no_grad():
        h, w = cam_activation(model, x.to(model_device(model), torch.float32)).shape[-2:]
    cells = grid_cells(int(h), int(w), grid)
    if kind == "cell":
        return cell_boxes(cells, (int(h), int(w)), (int(hh), int(ww)))
    return receptive_field_boxes(model, cells, size=int(hh), probes=probes, seed=seed)


register_method(Method("lots_logit", "LOTS (class logit)", lots_logit_compute, defaults=dict(LOTS_LOGIT_DEFAULTS),
                       tables={TABLE_METHODS: "LOTS (class logit)"}, feature_target="logit", check=_check_logit,
                       description="LOTS down the explained class's logit (FAME's L_cls, Zhang & Günther 2026)",
                       order=110), replace=True)
register_method(Method("lots_other", "LOTS (other class)", lots_compute, defaults=dict(LOTS_OTHER_DEFAULTS),
                       feature_target="other", check=get_method("lots_class").check,
                       description="LOTS toward the logits of a reference image of another class (Weber 2023, ch. 6)",
                       order=120), replace=True)
