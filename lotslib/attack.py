"""LOTS -- Layerwise Origin-Target Synthesis (Rozsa, Günther & Boult 2017), batched.

Algorithm 1 of the thesis (Weber 2023, section 3.2.2), per sample: while
``distance(F_s, F_t) > tau`` and fewer than ``iters`` steps were taken, compute the loss
``L = 1/2 ||F_s - F_t||^2``, its gradient with respect to the image, and step

    x <- clamp(x - grad * alpha / max|grad|, 0, 1)

where ``max|grad|`` is taken over that sample's pixels. Samples stop independently:
a sample that reached ``tau`` (or has a zero gradient, or hits the optional plateau
rule) is frozen while the others continue, and only the active samples are sent
through the network. Gradients are taken with respect to the input only
(``torch.autograd.grad``; the wrapper's parameters are frozen), and no graph is kept
between steps, so memory does not grow with the iteration count.

The objective is pluggable (:class:`LotsObjective`): the loop above -- step rule, clamp,
per-sample stopping, plateau stop, trace and snapshots -- is shared, and only the loss,
the value the trace records and the stop criterion change. Three objectives ship:

============================  =============================================  ====================================
objective                     loss descended (per sample)                    converged when
============================  =============================================  ====================================
:class:`FeatureObjective`     ``1/2 ||F_s - F_t||^2`` (the thesis; default)  distance <= ``tau``
:class:`LogitObjective`       the explained class's logit ``z_c`` (signed)   ``z_c`` lost a rank (the top-1
                                                                             class: no longer top-1), or fell
                                                                             by ``margin``
:class:`LocationObjective`    ``sum_c |A[c,i,j]|`` of one cell of the last   that sum <= ``tau`` (0 by default)
                              convolutional block (``model.cam_layer``)
============================  =============================================  ====================================

Two step spaces (``step_space``):

* ``"pixel"`` (the default; Vastlab's ``losses/lots.py`` and this project): the update above,
  on pixels in [0,1], clamped to [0,1];
* ``"normalized"`` (FAME's ``optimizer.py``): the same rule on the model's normalized input
  ``z = (x - mean) / std`` without a clamp, ``z <- z - alpha * g_z / max|g_z|`` with
  ``g_z = std * grad``. In pixels that is ``x <- x - alpha * std * g_z / max|g_z|``: a step
  at most ``alpha * max(std)`` wide (about 4.4x narrower than the pixel step with ImageNet's
  std of about 0.23), and pixels may leave [0,1].

The logit and location objectives are those of FAME (Zhang & Günther 2026, ``L_cls`` and
``L_a``), in this project's conventions: steps in pixel space, clamped to [0,1], the
gradient normalized per sample, and the signed logit (an absolute value would reverse the
step whenever the logit is negative).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .errors import ParameterError
from .params import DISTANCES, LotsParams, check_lots_params, check_step_space
from .receptive_field import cam_activation
from .tensors import check_pixels, model_device

__all__ = ["lots", "LotsResult", "LotsTrace", "feature_distance", "check_pixels",
           "check_logit_params", "LotsObjective", "ObjectiveStep", "FeatureObjective", "LogitObjective",
           "LocationObjective", "LOGIT_STOPS"]

#: the stop rules of :class:`LogitObjective`
LOGIT_STOPS = ("rank", "margin", "iters")


@dataclass
class LotsTrace:
    """What happened to each sample.

    The field names are those of the feature objective (the thesis's LOTS); for another
    :class:`LotsObjective` they hold that objective's value and stop criterion: ``distances``
    is the class logit (:class:`LogitObjective`) or the cell's ``sum_c |A[c,i,j]|``
    (:class:`LocationObjective`), and ``converged`` says its stop criterion was met.

    Attributes
    ----------
    distances : torch.Tensor
        ``(N, iters+1)`` float: the objective's value before step k (k = 0..iters) -- the
        distance to the target for the feature objective; after a sample stopped, its last
        value is held.
    iterations : torch.Tensor
        ``(N,)`` int64: gradient steps taken.
    converged : torch.Tensor
        ``(N,)`` bool: the objective's stop criterion was met (feature objective: distance
        <= tau).
    stop_reason : list of str
        One per sample: ``"converged"``, ``"max_iters"``, ``"zero_gradient"`` (the objective
        does not depend on the pixels there), ``"saturated"`` (the clamp to [0,1] cancelled the
        whole step, e.g. an all-black or all-white image pushed outward),
        ``"nonfinite_gradient"`` or ``"plateau"``.
    top1_before : torch.Tensor
        ``(N,)`` predicted class on the original image.
    top1_after : torch.Tensor
        ``(N,)`` predicted class on the adversarial image.
    seconds : float
        Wall time of the run. Default 0.0.
    params : dict
        The LOTS parameters of the run: ``iters``, ``alpha``, ``alpha_final``, ``patience``,
        ``min_delta``, ``objective`` (the objective's key) and the objective's own parameters
        (feature objective: ``layer``, ``tau``, ``distance``); and how it was computed:
        ``chunk`` (images per batch) and ``threads`` (torch threads). A run's float rounding
        depends on both (measured: 30 steps of one photo differ by up to 0.007 in a pixel
        between a batch of 1 and of 4, and between 1 and 2 threads), so the book's build
        computes every run one image at a time on one thread.
    snapshots : dict
        ``{k: (N,3,H,W) tensor}``: the images after k steps, for the ``snapshots`` asked of
        :func:`lots` (empty otherwise).
    snapshot_state : dict
        ``{k: dict}``: what a separate run with ``iters=k`` would have reported, for each
        snapshot: ``iterations`` ``(N,)``, ``converged`` ``(N,)``, ``stop_reason`` (list) and
        ``top1_after`` ``(N,)`` (a forward pass on the snapshot). With a constant ``alpha``,
        snapshot k, ``distances[:, :k+1]`` and this state equal a separate run stopped at k
        (the same batch gives the same bits on a CPU: ``tests/test_lots_snapshots.py``).
    """

    distances: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor
    stop_reason: list[str]
    top1_before: torch.Tensor
    top1_after: torch.Tensor
    seconds: float = 0.0
    params: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    snapshot_state: dict = field(default_factory=dict)

    @property
    def final_distance(self) -> torch.Tensor:
        """``(N,)`` the objective's value (the distance to the target) when each sample stopped (last column of
        ``distances``)."""
        return self.distances[:, -1]

    def __repr__(self) -> str:
        """A summary (samples, steps, stop reasons, distances), not the tensors."""
        from collections import Counter

        n = len(self.stop_reason)
        steps = self.iterations.tolist() if n <= 4 else f"{int(self.iterations.min())}..{int(self.iterations.max())}"
        reasons = ", ".join(f"{k}: {v}" for k, v in Counter(self.stop_reason).items())
        last = self.final_distance.float()
        dist = [round(float(d), 4) for d in last] if n <= 4 else f"{float(last.min()):.4g}..{float(last.max()):.4g}"
        return (f"LotsTrace({n} sample(s), steps={steps}, stop=({reasons}), final distance={dist}, "
                f"top-1 {self.top1_before.tolist() if n <= 4 else '...'} -> "
                f"{self.top1_after.tolist() if n <= 4 else '...'}, {self.seconds:.2f} s)")


@dataclass
class LotsResult:
    """``x_adv`` ``(N,3,H,W)`` in [0,1] and the :class:`LotsTrace`.

    Attributes
    ----------
    x_adv : torch.Tensor
        ``(N,3,H,W)`` float adversarial images, pixels in [0,1], on the model's device.
    trace : LotsTrace
        What happened to each sample.
    """

    x_adv: torch.Tensor
    trace: LotsTrace

    def __repr__(self) -> str:
        """A summary: the images' shape and the trace's summary, not the tensors."""
        return f"LotsResult(x_adv={tuple(self.x_adv.shape)} on {self.x_adv.device}, trace={self.trace!r})"


def feature_distance(fs: torch.Tensor, ft: torch.Tensor, distance: str = LotsParams.distance) -> torch.Tensor:
    """Per-sample distance ``(N,)`` between features ``(N,D)``: Euclidean or 1 - cosine similarity.

    Parameters
    ----------
    fs : torch.Tensor
        ``(N,D)`` source features.
    ft : torch.Tensor
        ``(N,D)`` (or broadcastable) target features.
    distance : str
        ``"euclidean"`` (the default; ``||fs - ft||``) or ``"cosine"`` (``1 - cos(fs, ft)``,
        in [0,2]).

    Returns
    -------
    torch.Tensor
        ``(N,)`` distances, >= 0.

    Raises
    ------
    lotslib.errors.ParameterError
        ``distance`` is neither ``"euclidean"`` nor ``"cosine"``.
    """
    if distance == "euclidean":
        return (fs - ft).flatten(1).norm(dim=1)
    if distance == "cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(fs.flatten(1), ft.flatten(1), dim=1)
    raise ParameterError(f"Unknown distance {distance!r}; choose one of {list(DISTANCES)}.")


def _resolve_target(model, x, target, layer, distance) -> torch.Tensor:
    with torch.no_grad():
        f0 = model.features(x[:1], layer)
    dim = f0.shape[1]
    if isinstance(target, str):
        if target != "zero":
            raise ParameterError(
                f"target={target!r}: pass 'zero' or a feature tensor (D,) / (N,D) from lotslib.targets."
            )
        target = torch.zeros(dim)
    if not isinstance(target, torch.Tensor):
        raise ParameterError(f"target must be 'zero' or a torch.Tensor of features; got {type(target).__name__}.")
    t = target.detach().to(device=x.device, dtype=f0.dtype)
    if t.dim() == 1:
        t = t[None]
    if t.dim() != 2 or t.shape[1] != dim or t.shape[0] not in (1, x.shape[0]):
        raise ParameterError(
            f"target has shape {tuple(target.shape)} but layer {layer!r} of {getattr(model, 'name', 'model')} "
            f"has {dim} features for {x.shape[0]} images. "
            f"Fix: build it with lotslib.targets for the same model and layer."
        )
    if not torch.isfinite(t).all():
        raise ParameterError("target features contain NaN or inf. Fix: recompute the target.")
    if distance == "cosine" and (t.norm(dim=1) == 0).any():
        raise ParameterError(
            "cosine distance to a zero target is undefined. Fix: use distance='euclidean' for the zero target."
        )
    return t.expand(x.shape[0], -1)


@dataclass
class ObjectiveStep:
    """What an objective reports for the active samples at one step of :func:`lots`.

    Attributes
    ----------
    value : torch.Tensor
        ``(n,)`` float, on the CPU: the value the trace records (``LotsTrace.distances``).
    reached : torch.Tensor
        ``(n,)`` bool, on the CPU: the stop criterion is met (the sample stops, ``converged``).
    loss : Callable
        ``loss(go) -> (m,)``: the per-sample loss to descend, for the rows selected by the
        bool mask ``go`` ``(n,)`` (on the model's device); differentiable with respect to the
        images passed to :meth:`LotsObjective.evaluate`.
    """

    value: torch.Tensor
    reached: torch.Tensor
    loss: Callable


class LotsObjective:
    """What :func:`lots` descends; subclass it to add an objective.

    The loop of :func:`lots` (step rule, clamp, per-sample stopping, plateau stop, trace,
    snapshots) is the same for every objective; an objective supplies the per-sample data it
    needs (:meth:`prepare`), and at each step the loss, the recorded value and the stop
    criterion (:meth:`evaluate`).

    Attributes
    ----------
    key : str
        Short name, recorded in ``LotsTrace.params["objective"]``.
    """

    key = "objective"

    def check(self) -> None:
        """Raise :class:`~lotslib.errors.ParameterError` for a bad parameter (called before any compute)."""

    def prepare(self, model, x: torch.Tensor, batch_size: int) -> dict:
        """Per-sample data for the images ``x`` ``(N,3,H,W)`` in [0,1] (on the model's device).

        Parameters
        ----------
        model : lotslib.models.ModelWrapper
            The classifier.
        x : torch.Tensor
            ``(N,3,H,W)`` float pixels in [0,1], on the model's device.
        batch_size : int
            Images per forward pass, if the objective needs one.

        Returns
        -------
        dict
            ``{name: (N, ...) tensor}`` on ``x``'s device; :func:`lots` hands
            :meth:`evaluate` the rows of the active samples.
        """
        return {}

    def evaluate(self, model, xi: torch.Tensor, rows: dict) -> ObjectiveStep:
        """The objective on the active images ``xi`` ``(n,3,H,W)`` (they require grad).

        Parameters
        ----------
        model : lotslib.models.ModelWrapper
            The classifier, as in :meth:`prepare`.
        xi : torch.Tensor
            ``(n,3,H,W)`` the current images of the active samples, pixels in [0,1]; the loss
            must be differentiable with respect to them.
        rows : dict
            The rows of :meth:`prepare`'s tensors for these samples.

        Returns
        -------
        ObjectiveStep
            The recorded value, the stop flags and the loss.
        """
        raise NotImplementedError

    def params(self) -> dict:
        """The objective's parameters, for ``LotsTrace.params``.

        Returns
        -------
        dict
            Parameter name -> value (tensors are left out).
        """
        return {}


class FeatureObjective(LotsObjective):
    """The thesis's LOTS (Weber 2023, Algorithm 1): move the features ``F_s`` toward ``F_t``.

    Loss ``1/2 ||F_s - F_t||^2``; the trace records ``distance(F_s, F_t)``; a sample has
    converged once that distance is <= ``tau``.

    Parameters
    ----------
    target : str or torch.Tensor
        ``"zero"`` (the default) or features ``(D,)`` / ``(N,D)`` of ``layer``
        (:mod:`lotslib.targets`).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    distance : str
        ``"euclidean"`` (the default) or ``"cosine"`` (the stop criterion; the loss stays the
        squared Euclidean distance).
    tau : float
        Convergence threshold on the distance, >= 0. Default 0.1.
    """

    key = "feature"

    def __init__(self, target="zero", layer: str = LotsParams.layer, distance: str = LotsParams.distance,
                 tau: float = LotsParams.tau):
        self.target, self.layer, self.distance, self.tau = target, layer, distance, tau

    def check(self) -> None:
        """Raise :class:`~lotslib.errors.ParameterError` for a bad ``tau`` or ``distance``."""
        check_lots_params(1, self.tau, 1.0, self.distance, None, None, 0.0)

    def prepare(self, model, x: torch.Tensor, batch_size: int) -> dict:
        """``{"ft": (N,D)}``: the target features, checked against ``layer``'s size (arguments:
        :meth:`LotsObjective.prepare`; a bad target raises :class:`~lotslib.errors.ParameterError`)."""
        return {"ft": _resolve_target(model, x, self.target, self.layer, self.distance)}

    def evaluate(self, model, xi: torch.Tensor, rows: dict) -> ObjectiveStep:
        """Distance to the target, ``distance <= tau``, and the loss ``1/2 ||F_s - F_t||^2`` (see
        :meth:`LotsObjective.evaluate`)."""
        ft = rows["ft"]
        fs = model.features(xi, self.layer)
        diff = fs - ft
        d = feature_distance(fs.detach(), ft, self.distance).cpu()
        return ObjectiveStep(d, d <= self.tau, lambda go: 0.5 * (diff[go] ** 2).flatten(1).sum(1))

    def params(self) -> dict:
        """``layer``, ``tau``, ``distance`` (see :meth:`LotsObjective.params`)."""
        return dict(layer=self.layer, tau=self.tau, distance=self.distance)


def _class_rows(classes, n: int, logits: torch.Tensor) -> torch.Tensor:
    """``(n,)`` long class indices on ``logits``' device: the given ones, or the top-1."""
    if classes is None:
        return logits.argmax(1)
    c = torch.as_tensor(classes).flatten().long()
    if c.numel() == 1:
        c = c.expand(n)
    if c.numel() != n:
        raise ParameterError(f"classes has {c.numel()} entries for {n} images. Fix: one class index per image, or one.")
    if ((c < 0) | (c >= logits.shape[1])).any():
        raise ParameterError(f"classes {c.tolist()[:8]} are out of range for a model with {logits.shape[1]} classes.")
    return c.to(logits.device)


class LogitObjective(LotsObjective):
    """Drive the explained class's logit down (FAME's classification loss ``L_cls``, signed).

    Loss ``z_c`` (the signed logit: ``|z_c|`` would flip the step once the logit is negative,
    one of the bugs FAME's reference code fixed); the trace records ``z_c``. The step rule,
    clamp and per-sample stopping are those of LOTS. What explains the class is the
    perturbation that removes its evidence.

    Parameters
    ----------
    classes : int, Sequence of int, torch.Tensor or None
        The explained class of each image (one for all, or ``(N,)``); None (the default):
        each image's top-1 class on the original.
    stop : str
        When a sample has converged (and stops):

        * ``"rank"`` (the default): the class ranks lower than on the original image -- for
          the top-1 class, it is no longer top-1 (another class's logit is larger). A class
          ranked last can never drop and runs to ``iters``.
        * ``"margin"``: the logit fell by at least ``margin`` below its value on the original.
        * ``"iters"``: never; every sample takes ``iters`` steps (or stops on a zero
          gradient, saturation or the plateau rule).
    margin : float
        The fall of the logit that ends a sample under ``stop="margin"``, > 0; not used
        otherwise. Default 5.0.
    """

    key = "logit"

    def __init__(self, classes=None, stop: str = "rank", margin: float = 5.0):
        self.classes, self.stop, self.margin = classes, stop, margin

    def check(self) -> None:
        """Raise :class:`~lotslib.errors.ParameterError` for a bad ``stop`` or ``margin``."""
        check_logit_params(self.stop, self.margin)

    def prepare(self, model, x: torch.Tensor, batch_size: int) -> dict:
        """One forward pass: ``{"cls", "z0", "rank0"}``, the class, its logit and its rank on the original images
        (arguments: :meth:`LotsObjective.prepare`; a bad ``classes`` raises :class:`~lotslib.errors.ParameterError`)."""
        with torch.no_grad():
            logits = torch.cat([model(x[s : s + batch_size]) for s in range(0, x.shape[0], batch_size)])
        c = _class_rows(self.classes, x.shape[0], logits)
        z0 = logits.gather(1, c[:, None])[:, 0]
        return {"cls": c, "z0": z0, "rank0": (logits > z0[:, None]).sum(1)}

    def evaluate(self, model, xi: torch.Tensor, rows: dict) -> ObjectiveStep:
        """The class logit, the stop rule, and the logit itself as the loss (see :meth:`LotsObjective.evaluate`)."""
        logits = model(xi)
        z = logits.gather(1, rows["cls"][:, None])[:, 0]
        zd = z.detach()
        if self.stop == "rank":
            reached = (logits.detach() > zd[:, None]).sum(1) > rows["rank0"]
        elif self.stop == "margin":
            reached = zd <= rows["z0"] - self.margin
        else:
            reached = torch.zeros_like(zd, dtype=torch.bool)
        return ObjectiveStep(zd.cpu(), reached.cpu(), lambda go: z[go])

    def params(self) -> dict:
        """``stop``, ``margin`` (see :meth:`LotsObjective.params`)."""
        return dict(stop=self.stop, margin=self.margin)


def check_logit_params(stop, margin) -> None:
    """Raise :class:`~lotslib.errors.ParameterError` for a bad stop rule of :class:`LogitObjective`.

    Parameters
    ----------
    stop : str
        One of :data:`LOGIT_STOPS`.
    margin : float
        A finite number > 0.

    Raises
    ------
    lotslib.errors.ParameterError
        Naming the parameter and the allowed values.
    """
    if stop not in LOGIT_STOPS:
        raise ParameterError(f"stop={stop!r}: choose one of {list(LOGIT_STOPS)} ('rank': the class lost a rank, "
                             f"'margin': the logit fell by margin, 'iters': run every iteration).")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
        raise ParameterError(f"margin={margin!r}: must be a finite number > 0 (the fall of the logit, in logit units).")


class LocationObjective(LotsObjective):
    """Drive one spatial cell ``(i, j)`` of the last convolutional block toward zero (FAME's ``L_a``).

    Loss ``sum_c |A[c,i,j]|`` -- the L1 norm over channels of the activation ``A`` of
    ``model.cam_layer`` (the layer the CAM methods explain) at that cell; not its square
    (FAME's Eq. 5 is the L1 norm; a plain sum would let positive and negative channels
    cancel). The trace records that sum; a sample has converged once it is <= ``tau``. The
    perturbation shows the pixels that feed the cell. Each image has its own cell, so one
    batch of copies of a photo explains many cells at once
    (:func:`lotslib.lots_variants.location_maps`).

    Parameters
    ----------
    cells : Sequence or torch.Tensor
        ``(N,2)`` (or one ``(2,)`` for all) feature-map cells ``(row, column)`` of the
        layer's output.
    tau : float
        Convergence threshold on ``sum_c |A[c,i,j]|``, >= 0. Default 0.0 (run to ``iters``
        unless the cell is exactly zero).
    """

    key = "location"

    def __init__(self, cells, tau: float = 0.0):
        self.cells, self.tau = cells, tau

    def check(self) -> None:
        """Raise :class:`~lotslib.errors.ParameterError` for a bad ``tau``."""
        check_lots_params(1, self.tau, 1.0, "euclidean", None, None, 0.0)

    def prepare(self, model, x: torch.Tensor, batch_size: int) -> dict:
        """``{"cell": (N,2) long}``, checked against the layer's spatial size (arguments: :meth:`LotsObjective.prepare`;
        cells outside it raise :class:`~lotslib.errors.ParameterError`)."""
        with torch.no_grad():
            h, w = cam_activation(model, x[:1]).shape[-2:]
        c = torch.as_tensor(self.cells).long()
        if c.dim() == 1:
            c = c[None]
        if c.dim() != 2 or c.shape[1] != 2 or c.shape[0] not in (1, x.shape[0]):
            raise ParameterError(f"cells has shape {tuple(c.shape)}; expected ({x.shape[0]}, 2) or (2,): one "
                                 f"(row, column) per image.")
        if ((c < 0).any() or (c[:, 0] >= h).any() or (c[:, 1] >= w).any()):
            raise ParameterError(f"cells {c.tolist()[:8]} lie outside the {h}x{w} output of the last convolutional "
                                 f"block. Fix: rows in 0..{h - 1}, columns in 0..{w - 1}.")
        return {"cell": c.expand(x.shape[0], -1).to(x.device)}

    def evaluate(self, model, xi: torch.Tensor, rows: dict) -> ObjectiveStep:
        """``sum_c |A[c,i,j]|`` of each image's cell, ``<= tau``, and that sum as the loss (see
        :meth:`LotsObjective.evaluate`)."""
        a = cam_activation(model, xi)
        cell = rows["cell"]
        v = a[torch.arange(a.shape[0], device=a.device), :, cell[:, 0], cell[:, 1]].abs().sum(1)
        vd = v.detach().cpu()
        return ObjectiveStep(vd, vd <= self.tau, lambda go: v[go])

    def params(self) -> dict:
        """``tau`` (see :meth:`LotsObjective.params`)."""
        return dict(tau=self.tau)


def lots(
    model,
    x: torch.Tensor,
    target="zero",
    layer: str = LotsParams.layer,
    iters: int = LotsParams.iters,
    tau: float = LotsParams.tau,
    alpha: float = LotsParams.alpha,
    distance: str = LotsParams.distance,
    batch_size: int | None = LotsParams.batch_size,
    patience: int | None = LotsParams.patience,
    min_delta: float = LotsParams.min_delta,
    progress: bool = False,
    snapshots=None,
    alpha_final: float | None = LotsParams.alpha_final,
    objective: LotsObjective | None = None,
    step_space: str = LotsParams.step_space,
) -> LotsResult:
    """Run LOTS on ``x`` ``(N,3,H,W)`` (pixels in [0,1]) toward ``target``, or down any ``objective``.

    Algorithm 1 of Weber 2023 (section 3.2.2), batched; see the module docstring for the
    update rule and the per-sample stopping. The defaults are the thesis's set-up.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in; ``model.features(x, layer)`` gives the deep features.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    target : str or torch.Tensor
        ``"zero"`` (the zero vector; the default) or features ``(D,)`` / ``(N,D)`` of
        ``layer`` (see :mod:`lotslib.targets`).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    iters : int
        Iteration cap (gradient steps per sample). Default 500.
    tau : float
        A sample stops once its feature distance to the target is <= ``tau``. Default 0.1.
    alpha : float
        Step width: the largest pixel change per step. Default 1/255.
    alpha_final : float or None
        A decaying step width: step ``k`` (0-based) of at most ``iters`` uses
        ``alpha * (alpha_final / alpha) ** (k / (iters - 1))``, a geometric decay from ``alpha``
        to ``alpha_final``. None (the default, the thesis): the constant ``alpha``.
    distance : str
        ``"euclidean"`` (the default) or ``"cosine"`` (1 - cosine similarity; not with the
        zero target).
    batch_size : int or None
        Images per chunk (None = all at once; the default).
    patience : int or None
        Optional plateau stop (None, the default: off; the thesis runs to tau or iters): a
        sample stops when its distance improved by less than the relative ``min_delta``
        over the last ``patience`` steps.
    min_delta : float
        Relative improvement threshold of the plateau stop, in [0, 1). Default 1e-3.
    progress : bool
        Show a tqdm progress bar over the images. Default False.
    snapshots : Iterable of int or None
        Iteration counts k at which to keep a copy of the images after k steps (a sample
        that stopped earlier contributes its final image); they land in
        ``trace.snapshots`` as ``{k: (N,3,H,W)}`` -- one run gives the maps of every shorter
        iteration cap. Default None (no snapshots).
    objective : LotsObjective or None
        What to descend (see the module docstring): None (the default) is the thesis's
        :class:`FeatureObjective` built from ``target``, ``layer``, ``distance`` and ``tau``;
        a :class:`LogitObjective` or :class:`LocationObjective` carries its own stop
        criterion, and ``target``, ``layer``, ``distance`` and ``tau`` must then keep their
        defaults.
    step_space : str
        ``"pixel"`` (the default: pixels in [0,1], clamped) or ``"normalized"`` (the model's
        normalized input ``(x - model.mean) / model.std``, no clamp); see the module docstring.

    Returns
    -------
    LotsResult
        ``x_adv`` ``(N,3,H,W)`` (on the model's device): in [0,1] for ``step_space="pixel"``;
        the normalized step may leave [0,1]. And the :class:`LotsTrace`.

    Raises
    ------
    lotslib.errors.ParameterError
        A bad parameter (see :func:`lotslib.params.check_lots_params`), a snapshot outside 0..iters, or a
        target that is not ``"zero"`` or a finite feature tensor of the right size for
        ``layer``, an ``objective`` given together with a non-default ``target``, ``layer``,
        ``distance`` or ``tau``, or a bad parameter of the objective; raised before any step.
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` finite float pixels in [0,1].
    """
    check_lots_params(iters, tau, alpha, distance, batch_size, patience, min_delta)
    check_step_space(step_space)
    if alpha_final is not None and not (isinstance(alpha_final, (int, float)) and not isinstance(alpha_final, bool)
                                        and math.isfinite(alpha_final) and alpha_final > 0):
        raise ParameterError(f"alpha_final={alpha_final!r}: must be a finite number > 0 (or None: a constant alpha).")
    alphas = _alpha_schedule(alpha, alpha_final, iters)
    snaps = sorted({int(k) for k in (snapshots or ())})
    if any(k < 0 or k > iters for k in snaps):
        raise ParameterError(f"snapshots={snapshots!r}: each must be an iteration count in 0..iters={iters}.")
    if objective is None:
        objective = FeatureObjective(target, layer, distance, tau)
    elif not isinstance(objective, LotsObjective):
        raise ParameterError(f"objective must be a lotslib.attack.LotsObjective or None; "
                             f"got {type(objective).__name__}.")
    else:
        given = [k for k, v, d in (("target", target, "zero"), ("layer", layer, "logits"),
                                   ("distance", distance, "euclidean"), ("tau", tau, 0.1))
                 if not (isinstance(v, type(d)) and v == d)]
        if given:
            raise ParameterError(f"{sorted(given)} belong to the feature objective; with objective= pass them to "
                                 f"lotslib.attack.FeatureObjective instead (or leave them at their defaults).")
    objective.check()
    check_pixels(x)
    dev = model_device(model)
    x = x.to(dev, torch.float32)
    scale = None
    if step_space == "normalized":
        if not isinstance(getattr(model, "std", None), torch.Tensor):
            raise ParameterError("step_space='normalized' needs the model's normalization (model.std): wrap the "
                                 "network with lotslib.wrap(..., mean=..., std=...).")
        scale = model.std.to(dev, torch.float32).view(1, -1, 1, 1)
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    rows_all = objective.prepare(model, x, bs)
    t0 = time.perf_counter()
    outs = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"LOTS {getattr(model, 'name', '')}", unit="img")
    for s in range(0, n, bs):
        outs.append(
            _lots_chunk(
                model, x[s : s + bs], {k: v[s : s + bs] for k, v in rows_all.items()}, objective, iters, alphas,
                patience, min_delta, snaps, scale,
            )
        )
        if bar is not None:
            bar.update(min(bs, n - s))
    if bar is not None:
        bar.close()
    x_adv = torch.cat([o[0] for o in outs])
    trace = LotsTrace(
        distances=torch.cat([o[1] for o in outs]),
        iterations=torch.cat([o[2] for o in outs]),
        converged=torch.cat([o[3] for o in outs]),
        stop_reason=[r for o in outs for r in o[4]],
        top1_before=torch.cat([o[5] for o in outs]),
        top1_after=torch.cat([o[6] for o in outs]),
        seconds=time.perf_counter() - t0,
        params=dict(
            **objective.params(), iters=iters, alpha=alpha, patience=patience, min_delta=min_delta,
            alpha_final=alpha_final, objective=objective.key, step_space=step_space,
            chunk=bs, threads=torch.get_num_threads(),  # how it was computed: both change the float rounding
        ),
        snapshots={k: torch.cat([o[7][k][0] for o in outs]) for k in snaps},
        snapshot_state={k: dict(iterations=torch.cat([o[7][k][1] for o in outs]),
                                converged=torch.cat([o[7][k][2] for o in outs]),
                                stop_reason=[r for o in outs for r in o[7][k][3]],
                                top1_after=torch.cat([o[7][k][4] for o in outs])) for k in snaps},
    )
    return LotsResult(x_adv, trace)


def _alpha_schedule(alpha: float, alpha_final: float | None, iters: int) -> list[float]:
    """The step width of each step ``k = 0..iters-1`` (constant, or a geometric decay)."""
    if alpha_final is None or iters == 1:
        return [float(alpha)] * iters
    r = float(alpha_final) / float(alpha)
    return [float(alpha) * r ** (k / (iters - 1)) for k in range(iters)]


def _lots_chunk(model, x, rows, objective, iters, alphas, patience, min_delta, snaps=(), scale=None):
    n = x.shape[0]
    xa = x.clone()
    hist = torch.full((n, iters + 1), float("nan"))
    used = torch.zeros(n, dtype=torch.long)
    converged = torch.zeros(n, dtype=torch.bool)
    reason = ["max_iters"] * n
    active = torch.ones(n, dtype=torch.bool)
    with torch.no_grad():
        top1_before = model(x).argmax(1).cpu()
    kept: dict[int, tuple] = {}

    def keep(k):
        # what a run stopped at k reports: its image, steps, convergence, reasons and top-1
        with torch.no_grad():
            top1 = model(xa).argmax(1).cpu()
        kept[k] = (xa.detach().cpu().clone(), used.clone(), converged.clone(), list(reason), top1)

    for k in range(iters + 1):
        idx = active.nonzero().flatten()
        if idx.numel() == 0:
            break
        idx_dev = idx.to(x.device, non_blocking=True)
        xi = xa[idx_dev].requires_grad_(True)
        with torch.enable_grad():
            ev = objective.evaluate(model, xi, {name: v[idx_dev] for name, v in rows.items()})
            d = ev.value
            hist[idx, k] = d
            done = ev.reached
            for j in idx[done].tolist():
                converged[j], reason[j], active[j] = True, "converged", False
            if k in snaps:
                keep(k)
            go = ~done
            if k == iters or not go.any():
                break
            if patience is not None and k >= patience:
                prev = hist[idx, k - patience]
                plateau = go & ((prev - d) <= min_delta * prev.abs())  # abs: a logit may be negative
                for j in idx[plateau].tolist():
                    reason[j], active[j] = "plateau", False
                go = go & ~plateau
                if not go.any():
                    continue
            go_dev = go.to(x.device, non_blocking=True)
            loss = ev.loss(go_dev)
            (grad,) = torch.autograd.grad(loss.sum(), xi)
        gsel = grad[go_dev]
        gmax = gsel.abs().flatten(1).amax(1)
        # one device->host transfer (one synchronisation on a GPU) for both flags
        flags = torch.stack([torch.isfinite(gmax) & torch.isfinite(gsel).flatten(1).all(1), gmax > 0]).cpu()
        finite, nonzero = flags[0], flags[1]
        ok = finite & nonzero
        gidx = idx[go]
        for j in gidx[~finite].tolist():
            reason[j], active[j] = "nonfinite_gradient", False
        for j in gidx[finite & ~nonzero].tolist():
            reason[j], active[j] = "zero_gradient", False
        if ok.any():
            okd = ok.to(x.device, non_blocking=True)
            step = gsel[okd] * (alphas[k] / gmax[okd]).view(-1, 1, 1, 1)
            tgt = gidx[ok].to(x.device, non_blocking=True)
            before = xa[tgt]
            if scale is None:
                after = (before - step).clamp_(0.0, 1.0)
            else:
                # the same rule on z = (x - mean) / std: g_z = std * g, z <- z - alpha g_z / max|g_z|,
                # i.e. x <- x - alpha * std * g_z / max|g_z| (no clamp)
                gz = gsel[okd] * scale
                gzmax = gz.abs().flatten(1).amax(1)
                after = before - gz * scale * (alphas[k] / gzmax).view(-1, 1, 1, 1)
            xa[tgt] = after
            stuck = (after == before).flatten(1).all(1).cpu()
            used[gidx[ok][~stuck]] += 1
            for j in gidx[ok][stuck].tolist():
                reason[j], active[j] = "saturated", False
    # hold the last measured value after a sample stopped
    for k in range(1, iters + 1):
        col = hist[:, k]
        miss = torch.isnan(col)
        col[miss] = hist[miss, k - 1]
    with torch.no_grad():
        top1_after = model(xa).argmax(1).cpu()
    for k in snaps:  # every sample stopped before k: the final state
        kept.setdefault(k, (xa.detach().cpu().clone(), used.clone(), converged.clone(), list(reason), top1_after))
    return xa.detach(), hist, used, converged, reason, top1_before, top1_after, kept
