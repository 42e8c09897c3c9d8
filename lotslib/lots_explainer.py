"""LOTS as an explanation method, registered in :mod:`lotslib.method_registry`.

The map is Algorithm 1 (:func:`lotslib.attack.lots`: move the image's features toward a
target ``F_t``) followed by Algorithm 2 (:func:`lotslib.visualize.lots_map`: grayscale
``|x_adv - x|``, min-max, Gaussian blur, min-max); Weber 2023, sections 3.2 and 4.

Three records, one per feature target of the thesis's Table 5.1 (section 5.1.1):

=================  ================  ================================================================
key                name              ``F_t``
=================  ================  ================================================================
``"lots"``         LOTS              the zero vector (the default; Table 5.2's LOTS row)
``"lots_class"``   LOTS (class F_t)  the features of another image of the same class
``"lots_mean"``    LOTS (mean F_t)   the mean features of the other images of that class
=================  ================  ================================================================

The class and mean targets need a labelled reference set: :mod:`lotslib.benchmark` builds
them (:mod:`lotslib.targets`); through :func:`lotslib.explanation.explain` pass
them as ``target=`` (features ``(D,)`` or ``(N,D)`` from :mod:`lotslib.targets`). LOTS
ignores the explained class: its map shows the move toward ``F_t``.
"""
from __future__ import annotations

import warnings

import torch

from .errors import ParameterError
from .attack import lots
from .lots_store import RUN_KEYS, active_store, snapshot_budgets, store_results
from .method_registry import TABLE_METHODS, TABLE_TARGETS, Method, MethodOutput, register_method
from .params import LotsParams, defaults_of
from .visualize import lots_map

__all__ = ["LOTS_DEFAULTS", "lots_compute"]

#: The thesis's set-up of section 5.1 (:class:`lotslib.params.LotsParams`' defaults: 500
#: iterations, tau 0.1, alpha 1/255, 49x49 blur, the plateau early stop off) and the zero F_t.
LOTS_DEFAULTS = {**defaults_of(LotsParams), "target": "zero"}


def _check(p: dict, allow_missing_target: bool = False) -> None:
    LotsParams.from_dict({k: p[k] for k in LOTS_DEFAULTS if k in p and k != "target"})  # validates
    t = p.get("target")
    if t is None and allow_missing_target:
        return
    if not (isinstance(t, torch.Tensor) or t == "zero"):
        raise ParameterError(f"target={t!r}: pass 'zero' or a feature tensor (D,) / (N,D) from lotslib.targets.")


def _check_variant(p: dict) -> None:
    _check(p, allow_missing_target=True)


def lots_compute(model, x: torch.Tensor, targets: torch.Tensor, params: dict) -> MethodOutput:
    """LOTS (Algorithm 1) then its map (Algorithm 2) for ``x`` ``(N,3,H,W)`` in [0,1].

    The ``compute`` of the ``"lots"``, ``"lots_class"`` and ``"lots_mean"`` records; call it
    through :func:`lotslib.explanation.explain`, which checks the parameters first.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in, logits out.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    targets : torch.Tensor
        ``(N,)`` the explained classes; not used: the map explains the move toward
        ``params["target"]``.
    params : dict
        Every key of :data:`LOTS_DEFAULTS`: ``target`` (``"zero"`` or features ``(D,)`` /
        ``(N,D)``), ``layer``, ``iters``, ``tau``, ``alpha``, ``distance``, ``batch_size``,
        ``patience``, ``min_delta`` (for :func:`lotslib.attack.lots`) and ``filter_size``,
        ``sigma`` (for :func:`lotslib.visualize.lots_map`).

    Returns
    -------
    lotslib.method_registry.MethodOutput
        The ``(N,H,W)`` maps in [0,1] (on the CPU), the trace
        (:class:`lotslib.attack.LotsTrace`) and ``x_adv`` ``(N,3,H,W)``.

    Raises
    ------
    lotslib.errors.ParameterError
        ``params["target"]`` is None (a class or mean variant called without its feature
        target), or a bad LOTS parameter or target.
    """
    target = params["target"]
    if target is None:
        raise ParameterError(
            "this LOTS variant needs its feature target: lotslib.benchmark.run builds it from a reference set; "
            "with lotslib.explain pass target=features (D,) or (N,D) from lotslib.targets."
        )
    kw = {k: params[k] for k in RUN_KEYS}
    store = active_store()
    # with a store, the run keeps snapshots at the shorter budgets: the store answers them later
    res = lots(model, x, target=target, batch_size=params["batch_size"],
               snapshots=snapshot_budgets(kw) if store is not None else None, **kw)
    if store is not None:  # later chapters read this run instead of repeating it (lotslib.lots_store)
        store_results(store, model, x, target, kw, res, via="benchmark")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero perturbations are reported by explain as degenerate maps
        maps = lots_map(x, res.x_adv, params["filter_size"], params["sigma"],
                        unclamped=params.get("step_space") == "normalized").cpu()
    return MethodOutput(maps, trace=res.trace, x_adv=res.x_adv)


register_method(Method("lots", "LOTS", lots_compute, defaults=dict(LOTS_DEFAULTS),
                       tables={TABLE_METHODS: "LOTS", TABLE_TARGETS: "Zero F_t"}, feature_target="zero", check=_check,
                       description="Rozsa, Günther & Boult 2017; the map of Weber 2023, Algorithm 2", order=80),
                replace=True)
register_method(Method("lots_class", "LOTS (class F_t)", lots_compute, defaults={**LOTS_DEFAULTS, "target": None},
                       tables={TABLE_TARGETS: "Class F_t"}, feature_target="class", check=_check_variant,
                       description="LOTS toward the features of another image of the class", order=90), replace=True)
register_method(Method("lots_mean", "LOTS (mean F_t)", lots_compute, defaults={**LOTS_DEFAULTS, "target": None},
                       tables={TABLE_TARGETS: "Mean F_t"}, feature_target="mean", check=_check_variant,
                       description="LOTS toward the mean features of the class's other images", order=100),
                replace=True)
