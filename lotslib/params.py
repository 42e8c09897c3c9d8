"""The typed parameters of LOTS and of the metrics: each default written once, each value
checked when the object is built.

:class:`LotsParams` holds LOTS's step and map parameters (Algorithm 1 and 2),
:class:`MetricParams` the metrics' (Insertion/Deletion's steps and blur, the ``fill`` of
the explanation map, the class ``score``, the forward-pass batch). Both are frozen
dataclasses: a bad value raises :class:`~lotslib.errors.ParameterError` at construction,
naming the parameter, the value and the fix. The method registry's LOTS defaults
(:data:`lotslib.lots_explainer.LOTS_DEFAULTS`) and the metric registry's parameters
(``Metric.defaults`` of :mod:`lotslib.metric_registry`) are read from these classes, and
:func:`lotslib.benchmark.run` takes them as its ``params`` (``{"lots": LotsParams(...),
"metrics": MetricParams(...)}``), so the same objects reach the benchmark's cache key.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import math

import numpy as np

from .errors import ParameterError
from .tensors import is_int

__all__ = ["LotsParams", "MetricParams", "defaults_of", "as_params_dict", "DISTANCES", "FILLS", "SCORES",
           "DEFAULT_FILL", "DEFAULT_SCORE", "STEP_SPACES", "BUDGETS", "check_lots_params", "check_step_space",
           "check_filter", "check_fill", "check_batch_size",
           "check_insdel_params"]


# ------------------------------------------------------------------ the checks
DISTANCES = ("euclidean", "cosine")

#: where LOTS takes its step (:mod:`lotslib.attack`): ``"pixel"`` (pixels in [0,1], clamped;
#: the default) or ``"normalized"`` (the model's normalized input, no clamp; FAME's reading)
STEP_SPACES = ("pixel", "normalized")

#: the iteration budgets at which a LOTS run keeps snapshots (the store then answers a shorter
#: run from the longer one, :mod:`lotslib.lots_store`), and the budget curve's x-axis
BUDGETS = (10, 20, 40, 80, 160, 320, 500)


def check_step_space(step_space) -> None:
    """Raise :class:`~lotslib.errors.ParameterError` unless ``step_space`` is one of :data:`STEP_SPACES`.

    Parameters
    ----------
    step_space : str
        ``"pixel"`` or ``"normalized"``.

    Raises
    ------
    lotslib.errors.ParameterError
        Another value; the message lists the choices.
    """
    if step_space not in STEP_SPACES:
        raise ParameterError(f"step_space={step_space!r}: choose one of {list(STEP_SPACES)} ('pixel': the default, "
                             f"pixels in [0,1] clamped; 'normalized': the model's normalized input, no clamp).")


#: the ``fill`` and ``score`` conventions; the first of each is the default (written here once:
#: :class:`MetricParams` and the metric functions take it from here)
FILLS = ("black", "mean")
SCORES = ("original", "max")
DEFAULT_FILL, DEFAULT_SCORE = FILLS[0], SCORES[0]


def check_lots_params(iters, tau, alpha, distance, batch_size, patience, min_delta):
    """Raise :class:`~lotslib.errors.ParameterError` for a bad LOTS parameter (before any compute).

    The parameters are those of :func:`lotslib.attack.lots`.

    Parameters
    ----------
    iters : int
        Iteration cap; an integer >= 1.
    tau : float
        Distance at which a sample stops; finite, >= 0.
    alpha : float
        Step width (largest pixel change per step); finite, > 0.
    distance : str
        ``"euclidean"`` or ``"cosine"``.
    batch_size : int or None
        A positive integer, or None.
    patience : int or None
        A positive integer, or None (plateau stop off).
    min_delta : float
        Relative improvement threshold of the plateau stop, in [0, 1).

    Raises
    ------
    lotslib.errors.ParameterError
        A parameter is out of range or of the wrong type; the message names it.
    """
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ParameterError(f"iters={iters!r}: must be an integer >= 1 (the thesis uses 500).")
    for nm, v, lo_ok in (("tau", tau, True), ("alpha", alpha, False)):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (v == 0 and not lo_ok):
            raise ParameterError(
                f"{nm}={v!r}: must be a finite number {'>= 0' if lo_ok else '> 0'} (thesis: tau=0.1, alpha=1/255)."
            )
    if distance not in DISTANCES:
        raise ParameterError(f"distance={distance!r}: choose one of {list(DISTANCES)}.")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ParameterError(f"batch_size={batch_size!r}: must be a positive integer or None.")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ParameterError(f"patience={patience!r}: must be a positive integer or None (off).")
    if not (isinstance(min_delta, (int, float)) and 0 <= min_delta < 1):
        raise ParameterError(f"min_delta={min_delta!r}: must be in [0, 1).")


def check_filter(filter_size, sigma) -> None:
    """Check the blur of Algorithm 2: ``filter_size`` a positive odd integer (1 = no blur),
    ``sigma`` a positive number or None; raise :class:`~lotslib.errors.ParameterError` otherwise."""
    if (
        isinstance(filter_size, bool)
        or not isinstance(filter_size, (int, np.integer))
        or filter_size < 1
        or filter_size % 2 == 0
    ):
        raise ParameterError(
            f"filter_size={filter_size!r}: must be a positive odd integer (the thesis uses 49; 1 = no blur)."
        )
    if sigma is not None and not (isinstance(sigma, (int, float)) and np.isfinite(sigma) and sigma > 0):
        raise ParameterError(f"sigma={sigma!r}: must be a positive number or None (default for the kernel size).")


def check_batch_size(batch_size) -> None:
    """Check a forward-pass batch size: a positive integer, else :class:`~lotslib.errors.ParameterError`."""
    if not is_int(batch_size) or batch_size < 1:
        raise ParameterError(f"batch_size={batch_size!r}: must be a positive integer "
                             f"(perturbed images per forward pass).")


def check_fill(fill) -> None:
    """Check that ``fill`` is one of :data:`FILLS`.

    Parameters
    ----------
    fill : str
        The fill of the masked pixels: ``"black"`` or ``"mean"``.

    Returns
    -------
    None

    Raises
    ------
    lotslib.errors.ParameterError
        Unless ``fill`` is one of :data:`FILLS`.
    """
    if fill not in FILLS:
        raise ParameterError(f"fill={fill!r}: choose 'black' (x * map, the thesis) or 'mean' (the normalized tensor "
                             f"times the map: masked pixels take the model's mean colour).")


def check_insdel_params(steps, blur_kernel, blur_sigma, batch_size, n_pixels: int | None = None) -> None:
    """Raise :class:`~lotslib.errors.ParameterError` for bad insertion/deletion parameters."""
    if not is_int(steps) or steps < 1:
        raise ParameterError(f"steps={steps!r}: must be an integer >= 1 (the thesis uses 224 for 224x224 input).")
    if n_pixels is not None and steps > n_pixels:
        raise ParameterError(f"steps={steps} exceeds the {n_pixels} pixels of the image. "
                             f"Fix: steps <= H*W (224 for 224x224).")
    if not is_int(blur_kernel) or blur_kernel < 1 or blur_kernel % 2 == 0:
        raise ParameterError(f"blur_kernel={blur_kernel!r}: must be a positive odd integer (default 11).")
    if (not isinstance(blur_sigma, (int, float)) or isinstance(blur_sigma, bool) or not math.isfinite(blur_sigma)
            or blur_sigma <= 0):
        raise ParameterError(f"blur_sigma={blur_sigma!r}: must be a finite number > 0 (default 5.0).")
    check_batch_size(batch_size)


# ------------------------------------------------------------------ the parameter classes
class _Params:
    """What both parameter classes share: a dict at the boundary, a validated copy with changes."""

    @classmethod
    def from_dict(cls, d: Mapping | None = None):
        """Build from a dict (a JSON boundary); an unknown name raises ParameterError."""
        d = dict(d or {})
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ParameterError(f"{cls.__name__} has no parameter(s) {unknown}. Fix: use some of {names}.")
        return cls(**d)

    def as_dict(self) -> dict:
        """``{name: value}`` for every field, in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes):
        """A validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class LotsParams(_Params):
    """LOTS's parameters (Weber 2023, section 5.1; :func:`lotslib.attack.lots` and
    :func:`lotslib.visualize.lots_map`).

    Attributes
    ----------
    iters : int
        Iteration cap (thesis: 500).
    tau : float
        Distance at which a sample stops (thesis: 0.1).
    alpha : float
        Step width, the largest pixel change per step (thesis: 1/255).
    alpha_final : float or None
        The step width at the last iteration of a geometric schedule (None: a constant alpha).
    layer : str
        ``"logits"`` or ``"penultimate"``: the layer of the feature target.
    distance : str
        ``"euclidean"`` or ``"cosine"``.
    filter_size : int
        The blur of Algorithm 2 (thesis: 49x49).
    sigma : float or None
        Its Gaussian's sigma (None: from ``filter_size``).
    batch_size : int or None
        Images per LOTS run (None: all).
    patience : int or None
        The plateau stop's patience (None: off, as in the thesis).
    min_delta : float
        The plateau stop's relative improvement threshold.
    step_space : str
        ``"pixel"`` (clamped to [0,1]; the default) or ``"normalized"`` (the model's normalized
        input, no clamp): see :mod:`lotslib.attack`.
    """

    iters: int = 500
    tau: float = 0.1
    alpha: float = 1 / 255
    alpha_final: float | None = None
    layer: str = "logits"
    distance: str = "euclidean"
    filter_size: int = 49
    sigma: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    min_delta: float = 1e-3
    step_space: str = "pixel"

    def __post_init__(self):
        check_step_space(self.step_space)
        check_lots_params(self.iters, self.tau, self.alpha, self.distance, self.batch_size, self.patience,
                          self.min_delta)
        check_filter(self.filter_size, self.sigma)
        af = self.alpha_final
        if af is not None and not (isinstance(af, (int, float)) and not isinstance(af, bool) and 0 < af < float("inf")):
            raise ParameterError(f"alpha_final={af!r}: must be a finite number > 0, or None (a constant alpha).")
        if self.layer not in ("logits", "penultimate"):
            raise ParameterError(f"layer={self.layer!r}: choose 'logits' (the default) or 'penultimate'.")


@dataclass(frozen=True)
class MetricParams(_Params):
    """The metrics' parameters (:mod:`lotslib.metric_registry`).

    Attributes
    ----------
    steps : int
        Insertion/Deletion steps (thesis: 224 for 224x224 input).
    blur_kernel, blur_sigma : int, float
        The Gaussian blur of Insertion/Deletion's substrate (Petsiuk et al.'s).
    score : str
        ``"original"``: Insertion/Deletion track the original image's top-1 class at every
        step; ``"max"``: the highest class probability.
    fill : str
        The masked pixels of the explanation map ``x * map``: ``"black"`` (the thesis's text,
        5.1 and 6.1) or ``"mean"`` (the model's mean colour).
    batch_size : int
        Perturbed images per forward pass.
    """

    steps: int = 224
    blur_kernel: int = 11
    blur_sigma: float = 5.0
    score: str = DEFAULT_SCORE
    fill: str = DEFAULT_FILL
    batch_size: int = 32

    def __post_init__(self):
        check_insdel_params(self.steps, self.blur_kernel, self.blur_sigma, self.batch_size)
        check_fill(self.fill)
        if self.score not in SCORES:
            raise ParameterError(f"score={self.score!r}: choose 'original' (the top-1 class of the original "
                                 f"image at every step, the default) or 'max' (the highest class probability).")
        if not is_int(self.batch_size) or self.batch_size < 1:
            raise ParameterError(f"batch_size={self.batch_size!r}: must be a positive integer "
                                 f"(perturbed images per forward pass).")


def defaults_of(cls, *names: str) -> dict:
    """``{name: default}`` of fields of a parameter class (all of them when no names are given).

    Parameters
    ----------
    cls : type
        :class:`LotsParams` or :class:`MetricParams`.
    *names : str
        Field names.

    Returns
    -------
    dict
        The defaults, in the order asked for (field order when none are named).
    """
    d = cls().as_dict()
    return {k: d[k] for k in (names or d)}


def as_params_dict(p) -> dict:
    """A parameter object as a dict (a dict or None passes through as a dict).

    Parameters
    ----------
    p : LotsParams, MetricParams, Mapping or None
        The parameters.

    Returns
    -------
    dict
        A fresh dict.
    """
    return p.as_dict() if isinstance(p, _Params) else dict(p or {})
