"""The typed parameters of LOTS and of the metrics: each default written once, each value
checked when the object is built.

:class:`LotsParams` holds LOTS's step and map parameters (Algorithm 1 and 2),
:class:`MetricParams` the metrics' (Insertion/Deletion's steps and blur, the ``fill`` of
the explanation map, the class ``score``, the forward-pass batch). Both are frozen
dataclasses: a bad value raises :class:`~lotslib.errors.ParameterError` at construction,
naming the parameter, the value and the fix. The method registry's LOTS defaults
(:data:`lotslib.lots_explainer.LOTS_DEFAULTS`) and the metric registry's parameters
(:attr:`lotslib.metric_registry.Metric.defaults`) are read from these classes, and
:func:`lotslib.benchmark.run` takes them as its ``params`` (``{"lots": LotsParams(...),
"metrics": MetricParams(...)}``), so the same objects reach the benchmark's cache key.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from .errors import ParameterError
from .attack import check_lots_params
from .metrics import DEFAULT_FILL, DEFAULT_SCORE, SCORES, check_fill, check_insdel_params
from .tensors import is_int
from .visualize import gaussian_kernel1d

__all__ = ["LotsParams", "MetricParams", "defaults_of", "as_params_dict"]


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

    def __post_init__(self):
        check_lots_params(self.iters, self.tau, self.alpha, self.distance, self.batch_size, self.patience,
                          self.min_delta)
        gaussian_kernel1d(self.filter_size, self.sigma)  # raises ParameterError on a bad filter
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
