"""The benchmark's metrics as objects: each states its name, unit, score direction and
category, and computes its per-image values on a batch of maps.

The formulas live in :mod:`lotslib.metrics`; a :class:`Metric` is what the benchmark, the
tables and the figures need to know about one of them (as Quantus's and torchcam's metric
classes carry theirs). The benchmark loops over :data:`METRICS` in order, so adding a metric
is one subclass and one :func:`register_metric` call::

    class MaxSensitivity(Metric):
        key, name, short, unit, higher_is_better, category = "max_sens", "Max-Sensitivity", ...
        def compute(self, batch): return MetricValues(...)

    register_metric(MaxSensitivity())

Several metrics share one computation (Average Drop and Increase both need the class
probability on the explanation map; Insertion and Deletion one pass over the perturbed
images): :class:`ScoreBatch` computes each shared quantity once per batch, on first use.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar, Iterator

import numpy as np
import torch

from .errors import ParameterError
from .params import MetricParams, as_params_dict, defaults_of
from .metrics import (
    CoherencyResult,
    Confidence,
    InsertionDeletion,
    coherency_details,
    confidence_change,
    insertion_deletion,
)

__all__ = [
    "Metric",
    "MetricValues",
    "ScoreBatch",
    "AverageDrop",
    "AverageIncrease",
    "Coherency",
    "Insertion",
    "Deletion",
    "METRICS",
    "register_metric",
    "unregister_metric",
    "get_metric",
    "metric_by_label",
    "metric_defaults",
    "check_metric_params",
    "ROAD_PERCENTILES",
    "RoadResult",
    "road_scores",
    "RoadMostRelevantFirst",
    "RoadLeastRelevantFirst",
    "RoadCombined",
    "ROAD_METRICS",
    "recorded_column",
]


@dataclass
class MetricValues:
    """What :meth:`Metric.compute` returns for a batch of ``N`` images.

    ``values`` ``(N,)`` per-image values (the benchmark's column ``Metric.column``);
    ``columns`` further per-image columns for the rows (e.g. ``y`` and ``o``); ``flags``
    ``(N,)`` True where the value is defined by convention (a degenerate case); ``curves``
    ``(N, S+1)`` where the metric is the area under a curve, with ``fractions`` ``(S+1,)``."""

    values: np.ndarray
    columns: dict = field(default_factory=dict)
    flags: np.ndarray | None = None
    curves: np.ndarray | None = None
    fractions: np.ndarray | None = None


@dataclass
class ScoreBatch:
    """One batch as the metrics see it.

    ``model`` (pixels in [0,1] -> logits), ``x`` ``(N,3,H,W)`` in [0,1], ``maps`` ``(N,H,W)``
    in [0,1], ``classes`` ``(N,)`` the explained class per image (the top-1 class of the
    original image), ``method`` the registered method key and ``method_params`` its resolved
    parameters (Coherency explains again with them), ``params`` the metric parameters
    (:func:`metric_defaults` merged with the caller's)."""

    model: object
    x: torch.Tensor
    maps: torch.Tensor
    classes: torch.Tensor
    method: str
    method_params: dict
    params: dict

    @cached_property
    def confidence(self) -> Confidence:
        """Class probabilities on the images and on the explanation maps (computed once)."""
        return confidence_change(self.model, self.x, self.maps, self.classes, batch_size=self.params["batch_size"],
                                 fill=self.params.get("fill", MetricParams.fill))

    @cached_property
    def coherency(self) -> CoherencyResult:
        """The method's maps of the explanation maps and their correlation (computed once)."""
        return coherency_details(self.method, self.model, self.x, self.maps, self.classes,
                                 fill=self.params.get("fill", MetricParams.fill), **self.method_params)

    @cached_property
    def insertion_deletion(self) -> InsertionDeletion:
        """Both insertion and deletion curves (one pass over the perturbed images)."""
        p = self.params
        return insertion_deletion(self.model, self.x, self.maps, self.classes, steps=p["steps"],
                                  blur_kernel=p["blur_kernel"], blur_sigma=p["blur_sigma"], batch_size=p["batch_size"],
                                  score=p.get("score", MetricParams.score))

    @cached_property
    def road(self) -> RoadResult:
        """ROAD's most- and least-relevant-first scores (computed once; :func:`road_scores`)."""
        return road_scores(self.model, self.x, self.maps, self.classes,
                           self.params.get("road_percentiles", ROAD_PERCENTILES))


class Metric:
    """One metric: what it is called, how it is read, how it is computed on a batch.

    Class attributes
    ----------------
    key : str
        Identifier (``"avg_drop"``), used in the long summaries and the reference tables.
    name, short : str
        Full name (``"Average Drop"``) and the table header's name (``"Avg Drop"``).
    unit : str
        ``"%"`` for every metric here.
    higher_is_better : bool
        The score direction; tables mark the best value and rank methods by it.
    category : str
        Quantus's category: ``"faithfulness"``, ``"robustness"``, ``"localisation"``, ...
    column : str
        The per-image column of the benchmark's rows.
    scale : float
        The table value is ``mean(column) * scale`` (Average Increase: share of images x 100).
    has_curves : bool
        True where the metric is an area under a curve that the benchmark keeps.
    defaults : dict
        The metric's own parameters and their defaults (shared names share one value; the
        built-in metrics' come from :class:`lotslib.params.MetricParams`).
    order : int
        The metric's place among the columns of the tables (:data:`METRICS` is sorted by it,
        then by registration); a metric that sets none comes after the built-in ones.
    """

    key: ClassVar[str]
    name: ClassVar[str]
    short: ClassVar[str]
    unit: ClassVar[str] = "%"
    higher_is_better: ClassVar[bool]
    category: ClassVar[str] = "faithfulness"
    column: ClassVar[str] = ""
    scale: ClassVar[float] = 1.0
    has_curves: ClassVar[bool] = False
    defaults: ClassVar[dict] = defaults_of(MetricParams, "batch_size")
    order: ClassVar[int] = 1000

    @property
    def col(self) -> str:
        """The per-image column (``column``, or ``key`` when not set)."""
        return self.column or self.key

    @property
    def label(self) -> str:
        """The table header: the short name and an arrow for the direction (``"Avg Drop ↓"``)."""
        return f"{self.short} {'↑' if self.higher_is_better else '↓'}"

    @property
    def better(self) -> str:
        """``"higher"`` or ``"lower"``."""
        return "higher" if self.higher_is_better else "lower"

    def best(self, values: Mapping):
        """The key of ``values`` (``{name: mean}``) with the best value in this metric's direction."""
        return (max if self.higher_is_better else min)(values, key=values.get)

    def check(self, params: dict) -> None:
        """Raise :class:`~lotslib.errors.ParameterError` for a bad value of this metric's parameters."""

    def compute(self, batch: ScoreBatch) -> MetricValues:
        """Per-image values of this metric on ``batch``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r}, {self.better} is better)"


class _FillMetric(Metric):
    """A metric that shows the network the explanation map: ``fill`` says what a masked pixel
    becomes (``"black"``: ``x * map``, the thesis; ``"mean"``: the model's mean colour,
    :func:`lotslib.metrics.masked_image`)."""

    defaults: ClassVar[dict] = defaults_of(MetricParams, "fill", "batch_size")


class AverageDrop(_FillMetric):
    """Average Drop (Chattopadhyay et al. 2018; thesis eq. 3.4), lower is better.

    With ``Y`` the softmax probability of class c on the image and ``O`` on the explanation
    map ``x * map``: per image ``drop = max(0, Y - O) / Y * 100``; the table shows the mean.
    The rows also keep ``y`` and ``o``."""

    key, name, short, higher_is_better, column = "avg_drop", "Average Drop", "Avg Drop", False, "avg_drop"
    order = 10

    def compute(self, batch: ScoreBatch) -> MetricValues:
        c = batch.confidence
        return MetricValues(c.drop, columns={"y": c.y, "o": c.o})


class AverageIncrease(_FillMetric):
    """Average Increase (Chattopadhyay et al. 2018), higher is better.

    Per image ``increase = 1`` if ``O > Y`` else 0 (notation of :class:`AverageDrop`); the
    table shows the share of images with an increase, in %."""

    key, name, short, higher_is_better = "avg_increase", "Average Increase", "Avg Increase", True
    order = 20
    column, scale = "increase", 100.0

    def compute(self, batch: ScoreBatch) -> MetricValues:
        return MetricValues(batch.confidence.increase)


class Coherency(_FillMetric):
    """Coherency (Poppi et al. 2021), higher is better.

    ``(r + 1) / 2 * 100`` with ``r`` the Pearson correlation between ``map(x)`` and
    ``map(x * map(x))``, the second map made by the same method for the same class (LOTS is
    run again on the explanation map). Constant maps are defined, not NaN, and flagged
    (:func:`lotslib.metrics.pearson_coherency`)."""

    key, name, short, higher_is_better, column = "coherency", "Coherency", "Coherency", True, "coherency"
    order = 30
    category = "robustness"

    def compute(self, batch: ScoreBatch) -> MetricValues:
        c = batch.coherency
        return MetricValues(c.values, columns={"coherency_degenerate": c.degenerate.astype(bool)}, flags=c.degenerate)


def recorded_column(column: str, param: str, value) -> str:
    """The name of the row column that holds a metric's values under another value of one of
    its parameters, recorded in the same pass (``"insertion[score=max]"``): Insertion and
    Deletion record both ``score`` conventions, so :func:`lotslib.benchmark.rescore` reads the
    other one instead of computing it again.

    Parameters
    ----------
    column : str
        The metric's column (``Metric.col``).
    param : str
        The metric parameter.
    value : object
        Its value.

    Returns
    -------
    str
        ``f"{column}[{param}={value}]"``.
    """
    return f"{column}[{param}={value}]"


class _InsDelMetric(Metric):
    defaults: ClassVar[dict] = defaults_of(MetricParams, "steps", "blur_kernel", "blur_sigma", "score", "batch_size")
    has_curves = True

    def compute(self, batch: ScoreBatch) -> MetricValues:
        """The AUCs of the ``key`` curve (``"insertion"`` or ``"deletion"``) from the batch's
        one pass over the perturbed images, with both ``score`` conventions as extra columns."""
        r = batch.insertion_deletion
        k = ("insertion", "deletion").index(self.key)
        return MetricValues(getattr(r, self.key), curves=getattr(r, f"{self.key}_curves"), fractions=r.fractions,
                            columns={recorded_column(self.col, "score", sc): v[k] for sc, v in r.by_score.items()})


class Insertion(_InsDelMetric):
    """Insertion (Petsiuk et al. 2018), higher is better.

    Start from a blurred copy of the image (Gaussian ``blur_kernel`` taps, ``blur_sigma``) and
    restore the original pixels, most important first, in ``steps`` equal chunks; the score
    is the area under the class probability over the fraction restored, in %. ``score``:
    ``"original"`` tracks the original image's top-1 class, ``"max"`` the highest class
    probability at each step (:func:`lotslib.metrics.insertion_deletion`)."""

    key, name, short, higher_is_better, column = "insertion", "Insertion", "Insertion", True, "insertion"
    order = 40


class Deletion(_InsDelMetric):
    """Deletion (Petsiuk et al. 2018), lower is better.

    Start from the image and replace its pixels, most important first, by the blurred copy
    (as in :class:`Insertion`); the score is the area under the class probability, in %."""

    key, name, short, higher_is_better, column = "deletion", "Deletion", "Deletion", False, "deletion"
    order = 50


class _Registry(Mapping):
    """``{key: Metric}`` sorted by :attr:`Metric.order`, then registration (the tables' column order)."""

    def __init__(self):
        self._d: dict[str, Metric] = {}

    def _sorted(self) -> list[str]:
        pos = {k: i for i, k in enumerate(self._d)}
        return sorted(self._d, key=lambda k: (self._d[k].order, pos[k]))

    def __getitem__(self, key: str) -> Metric:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sorted())

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"METRICS({self._sorted()})"


#: the registered metrics, in the thesis's column order (Table 5.2)
METRICS = _Registry()


def register_metric(metric: Metric, replace: bool = False) -> Metric:
    """Add ``metric`` (an instance) to :data:`METRICS`; the benchmark then computes it.

    Parameters
    ----------
    metric : Metric
        The metric instance; its ``order`` places it among the tables' columns.
    replace : bool, optional
        Replace a metric registered under the same key (default False).

    Returns
    -------
    Metric
        ``metric``.

    Raises
    ------
    lotslib.errors.ParameterError
        If ``metric`` is not a :class:`Metric` instance, or its key is taken and ``replace``
        is False.
    """
    if not isinstance(metric, Metric):
        raise ParameterError(f"register_metric() takes a Metric instance; got {type(metric).__name__}.")
    if metric.key in METRICS._d and not replace:
        raise ParameterError(f"a metric {metric.key!r} is already registered. "
                             f"Fix: pick another key or pass replace=True.")
    METRICS._d[metric.key] = metric
    return metric


def unregister_metric(key: str) -> None:
    """Remove the metric registered under ``key``; tests use it to drop their toy metrics.

    Parameters
    ----------
    key : str
        A key of :data:`METRICS`; nothing happens if it is not registered.

    Returns
    -------
    None
    """
    METRICS._d.pop(key, None)


def get_metric(key: str) -> Metric:
    """The registered metric ``key``.

    Parameters
    ----------
    key : str
        One of the keys of :data:`METRICS`.

    Returns
    -------
    Metric
        The registered metric.

    Raises
    ------
    lotslib.errors.ParameterError
        A clear error listing the keys if ``key`` is not registered.
    """
    if key not in METRICS:
        raise ParameterError(f"Unknown metric {key!r}. Choose one of {list(METRICS)}.")
    return METRICS[key]


def metric_by_label(label: str) -> Metric | None:
    """The metric whose table header (:attr:`Metric.label`) or key is ``label``.

    Parameters
    ----------
    label : str
        A table header or a key of :data:`METRICS`.

    Returns
    -------
    Metric or None
        The metric; None if none matches.
    """
    for m in METRICS.values():
        if label in (m.label, m.key):
            return m
    return None


def metric_defaults(metrics=None) -> dict:
    """The union of the metrics' parameters and defaults.

    Parameters
    ----------
    metrics : Sequence of str or None, optional
        Metric keys (default None: all registered metrics).

    Returns
    -------
    dict
        Parameter name -> default value.
    """
    out: dict = {}
    for m in (METRICS.values() if metrics is None else [get_metric(k) for k in metrics]):
        for k, v in m.defaults.items():
            out.setdefault(k, v)
    return out


def check_metric_params(params=None, metrics=None) -> dict:
    """``params`` merged over :func:`metric_defaults`, validated before any compute.

    Parameters
    ----------
    params : dict, lotslib.params.MetricParams or None, optional
        Metric parameters to override the defaults (default None: the defaults); the built-in
        ones are validated by constructing a :class:`~lotslib.params.MetricParams`.
    metrics : Sequence of str or None, optional
        Metric keys whose parameters apply (default None: all registered metrics).

    Returns
    -------
    dict
        The merged parameters.

    Raises
    ------
    lotslib.errors.ParameterError
        Unknown names and bad values (e.g. ``batch_size`` not a positive integer).
    """
    defaults = metric_defaults(metrics)
    p = {**defaults, **as_params_dict(params)}
    unknown = sorted(set(p) - set(defaults))
    if unknown:
        raise ParameterError(f"params['metrics'] has unknown key(s) {unknown}; it takes {sorted(defaults)}.")
    typed = set(MetricParams.__dataclass_fields__)
    MetricParams.from_dict({k: v for k, v in p.items() if k in typed})  # validates the built-in parameters
    for m in (METRICS.values() if metrics is None else [get_metric(k) for k in metrics]):
        m.check(p)
    return p


for _m in (AverageDrop(), AverageIncrease(), Coherency(), Insertion(), Deletion()):
    register_metric(_m, replace=True)


# ------------------------------------------------------------------ ROAD (opt-in)
#: the removal percentiles of pytorch-grad-cam's ``ROADMostRelevantFirstAverage`` and
#: ``ROADLeastRelevantFirstAverage`` (their defaults): at percentile ``p`` most-relevant-first
#: keeps the ``p`` % least relevant pixels (removes the top ``100 - p`` %), least-relevant-first
#: keeps the ``p`` % most relevant ones; so 10 % to 90 % of the pixels are removed, both ways
ROAD_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


@dataclass
class RoadResult:
    """What :func:`road_scores` returns for ``N`` images.

    ``morf``, ``lerf`` ``(N,)``: the change of the class probability (in percentage points,
    after minus before, averaged over the percentiles) when the most / the least relevant
    pixels are removed and imputed; ``degenerate`` ``(N,)``: the map was constant (its pixel
    order is then the seeded random tie-break alone)."""

    morf: np.ndarray
    lerf: np.ndarray
    degenerate: np.ndarray


def _pixel_ranks(m: np.ndarray, seed: int) -> np.ndarray:
    """The map's pixel order as evenly spaced values in [0,1], ties broken by a seeded draw."""
    flat = m.reshape(-1).astype(np.float64)
    tie = np.random.default_rng(seed).random(flat.size)
    order = np.lexsort((tie, flat))  # by value, then by the draw
    ranks = np.empty(flat.size, dtype=np.float32)
    ranks[order] = np.arange(flat.size, dtype=np.float32) / max(flat.size - 1, 1)
    return ranks.reshape(m.shape)


def road_scores(model, x: torch.Tensor, maps: torch.Tensor, classes, percentiles=ROAD_PERCENTILES,
                seed: int = 0) -> RoadResult:
    """ROAD, remove and debias (Rong et al. 2022), with pytorch-grad-cam's classes.

    For each percentile, pytorch-grad-cam's ``ROADMostRelevantFirst`` /
    ``ROADLeastRelevantFirst`` remove the most / least relevant pixels of the map, fill them by
    noisy linear imputation from their neighbours (``NoisyLinearImputer``: a sparse linear
    system per image and percentile, noise 0.01 on pixels in [0,1]) and measure the softmax
    probability of the class (``ClassifierOutputSoftmaxTarget``) after minus before; the
    ``...Average`` classes average over ``percentiles``. Combined ROAD is
    ``(LeRF - MoRF) / 2`` (pytorch-grad-cam's ``ROADCombined``).

    What is ours. (1) The map handed to pytorch-grad-cam is its pixel *order* (evenly spaced
    ranks, ties broken by a seeded draw). Upstream thresholds at ``np.percentile(map, p)`` and
    keeps ``map < threshold``: with ties at the bottom (a CAM map that is 0 on 10 % of the
    image, a constant map) it removes *every* pixel, and with no known pixel left the
    imputation returns a black image. For a map without ties the ranks select the same pixels
    as the map, and the scores equal pytorch-grad-cam's. (2) Each image runs alone with the
    torch generator reseeded to ``seed``, so its imputation noise does not depend on the batch
    it ran in.

    Parameters
    ----------
    model : torch.nn.Module
        Pixels in [0,1] in, logits out (a :class:`lotslib.models.ModelWrapper`).
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    maps : torch.Tensor
        ``(N,H,W)`` maps (any range; only the order of the pixels matters).
    classes : Sequence of int or torch.Tensor
        ``(N,)`` the class whose probability is tracked.
    percentiles : Sequence of float
        Percentiles in (0, 100) (default :data:`ROAD_PERCENTILES`).
    seed : int
        Seed of the tie-break and of the imputation noise (default 0).

    Returns
    -------
    RoadResult
        ``morf`` (lower is better), ``lerf`` (higher is better), in percentage points, and
        the ``degenerate`` flags.
    """
    from pytorch_grad_cam.metrics.road import ROADLeastRelevantFirstAverage, ROADMostRelevantFirstAverage
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    _check_percentiles(percentiles)
    pct = [float(p) for p in percentiles]
    morf_avg, lerf_avg = ROADMostRelevantFirstAverage(pct), ROADLeastRelevantFirstAverage(pct)
    m = torch.as_tensor(maps).detach().float().cpu().numpy()
    cls = [int(c) for c in torch.as_tensor(classes).flatten().tolist()]
    morf, lerf = np.zeros(len(m)), np.zeros(len(m))
    for i in range(len(m)):
        ranks = _pixel_ranks(m[i], seed)[None]
        target = [ClassifierOutputSoftmaxTarget(cls[i])]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            morf[i] = 100.0 * float(morf_avg(x[i : i + 1], ranks, target, model)[0])
            torch.manual_seed(seed)
            lerf[i] = 100.0 * float(lerf_avg(x[i : i + 1], ranks, target, model)[0])
    degenerate = (m.reshape(len(m), -1).max(1) - m.reshape(len(m), -1).min(1)) <= 0
    return RoadResult(morf, lerf, degenerate)


def _check_percentiles(percentiles) -> None:
    ok = isinstance(percentiles, (list, tuple)) and len(percentiles) > 0 and all(
        isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool) and 0 < float(p) < 100
        for p in percentiles)
    if not ok:
        raise ParameterError(f"road_percentiles={percentiles!r}: must be a non-empty list of numbers in (0, 100) "
                             f"(default {list(ROAD_PERCENTILES)}, pytorch-grad-cam's).")


class _RoadMetric(Metric):
    """ROAD (Rong et al. 2022) through pytorch-grad-cam (:func:`road_scores`). Opt-in: it solves
    a sparse imputation system per image and percentile, about 5 s per image and method at
    224 px on one CPU core, so it is not registered by default (:data:`ROAD_METRICS`)."""

    defaults: ClassVar[dict] = {"road_percentiles": ROAD_PERCENTILES, **defaults_of(MetricParams, "batch_size")}

    def check(self, params: dict) -> None:
        _check_percentiles(params["road_percentiles"])

    def compute(self, batch: ScoreBatch) -> MetricValues:
        r = batch.road
        return MetricValues(self.value(r.morf, r.lerf), flags=r.degenerate)

    @staticmethod
    def value(morf: np.ndarray, lerf: np.ndarray) -> np.ndarray:
        """The metric from the two ROAD curves' means ``(N,)`` (percentage points); one subclass each."""
        raise NotImplementedError


class RoadMostRelevantFirst(_RoadMetric):
    """ROAD most relevant first (MoRF), lower is better: the change of the class probability,
    in percentage points, when the most relevant pixels are removed and imputed, averaged over
    :data:`ROAD_PERCENTILES` (10 % to 90 % of the pixels removed)."""

    key, name, short, higher_is_better = "road_morf", "ROAD most relevant first", "ROAD MoRF", False
    order = 60
    value = staticmethod(lambda morf, lerf: morf)


class RoadLeastRelevantFirst(_RoadMetric):
    """ROAD least relevant first (LeRF), higher is better: as :class:`RoadMostRelevantFirst`,
    removing the least relevant pixels first."""

    key, name, short, higher_is_better = "road_lerf", "ROAD least relevant first", "ROAD LeRF", True
    order = 70
    value = staticmethod(lambda morf, lerf: lerf)


class RoadCombined(_RoadMetric):
    """ROAD combined, higher is better: ``(LeRF - MoRF) / 2`` in percentage points
    (pytorch-grad-cam's ``ROADCombined``)."""

    key, name, short, higher_is_better = "road", "ROAD combined", "ROAD", True
    order = 80
    value = staticmethod(lambda morf, lerf: (lerf - morf) / 2.0)


#: the three ROAD metrics, not registered by default (about 5 s per image and method). Opt in
#: with ``for m in ROAD_METRICS: register_metric(m)``: :func:`lotslib.benchmark.run` then
#: computes them and Table 5.2 (:func:`lotslib.benchmark.table_5_2`) gains their columns
ROAD_METRICS = (RoadMostRelevantFirst(), RoadLeastRelevantFirst(), RoadCombined())
