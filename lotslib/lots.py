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
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .errors import ParameterError
from .tensors import check_pixels, model_device

__all__ = ["lots", "LotsResult", "LotsTrace", "feature_distance", "check_pixels", "check_lots_params"]

DISTANCES = ("euclidean", "cosine")


@dataclass
class LotsTrace:
    """What happened to each sample.

    Attributes
    ----------
    distances : torch.Tensor
        ``(N, iters+1)`` float: distance to the target before step k (k = 0..iters); after a
        sample stopped, its last distance is held.
    iterations : torch.Tensor
        ``(N,)`` int64: gradient steps taken.
    converged : torch.Tensor
        ``(N,)`` bool: distance <= tau reached.
    stop_reason : list of str
        One per sample: ``"converged"``, ``"max_iters"``, ``"zero_gradient"`` (the features
        do not depend on the pixels there), ``"saturated"`` (the clamp to [0,1] cancelled the
        whole step, e.g. an all-black or all-white image pushed outward),
        ``"nonfinite_gradient"`` or ``"plateau"``.
    top1_before : torch.Tensor
        ``(N,)`` predicted class on the original image.
    top1_after : torch.Tensor
        ``(N,)`` predicted class on the adversarial image.
    seconds : float
        Wall time of the run. Default 0.0.
    params : dict
        The LOTS parameters of the run (``layer``, ``iters``, ``tau``, ``alpha``,
        ``distance``, ``patience``, ``min_delta``).
    snapshots : dict
        ``{k: (N,3,H,W) tensor}``: the images after k steps, for the ``snapshots`` asked of
        :func:`lots` (empty otherwise).
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

    @property
    def final_distance(self) -> torch.Tensor:
        """``(N,)`` the distance to the target when each sample stopped (last column of ``distances``)."""
        return self.distances[:, -1]


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


def feature_distance(fs: torch.Tensor, ft: torch.Tensor, distance: str = "euclidean") -> torch.Tensor:
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


def check_lots_params(iters, tau, alpha, distance, batch_size, patience, min_delta):
    """Raise :class:`~lotslib.errors.ParameterError` for a bad LOTS parameter (before any compute).

    The parameters are those of :func:`lots`.

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


def lots(
    model,
    x: torch.Tensor,
    target="zero",
    layer: str = "logits",
    iters: int = 500,
    tau: float = 0.1,
    alpha: float = 1 / 255,
    distance: str = "euclidean",
    batch_size: int | None = None,
    patience: int | None = None,
    min_delta: float = 1e-3,
    progress: bool = False,
    snapshots=None,
    alpha_final: float | None = None,
) -> LotsResult:
    """Run LOTS on ``x`` ``(N,3,H,W)`` (pixels in [0,1]) toward ``target``.

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

    Returns
    -------
    LotsResult
        ``x_adv`` ``(N,3,H,W)`` in [0,1] (on the model's device) and the :class:`LotsTrace`.

    Raises
    ------
    lotslib.errors.ParameterError
        A bad parameter (see :func:`check_lots_params`), a snapshot outside 0..iters, or a
        target that is not ``"zero"`` or a finite feature tensor of the right size for
        ``layer``; raised before any step.
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` finite float pixels in [0,1].
    """
    check_lots_params(iters, tau, alpha, distance, batch_size, patience, min_delta)
    if alpha_final is not None and not (isinstance(alpha_final, (int, float)) and not isinstance(alpha_final, bool)
                                        and math.isfinite(alpha_final) and alpha_final > 0):
        raise ParameterError(f"alpha_final={alpha_final!r}: must be a finite number > 0 (or None: a constant alpha).")
    alphas = _alpha_schedule(alpha, alpha_final, iters)
    snaps = sorted({int(k) for k in (snapshots or ())})
    if any(k < 0 or k > iters for k in snaps):
        raise ParameterError(f"snapshots={snapshots!r}: each must be an iteration count in 0..iters={iters}.")
    check_pixels(x)
    dev = model_device(model)
    x = x.to(dev, torch.float32)
    ft_all = _resolve_target(model, x, target, layer, distance)
    n = x.shape[0]
    bs = n if batch_size is None else batch_size
    t0 = time.perf_counter()
    outs = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"LOTS {getattr(model, 'name', '')}", unit="img")
    for s in range(0, n, bs):
        outs.append(
            _lots_chunk(
                model, x[s : s + bs], ft_all[s : s + bs], layer, iters, tau, alphas, distance, patience, min_delta,
                snaps,
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
            layer=layer, iters=iters, tau=tau, alpha=alpha, distance=distance, patience=patience, min_delta=min_delta,
            alpha_final=alpha_final,
        ),
        snapshots={k: torch.cat([o[7][k] for o in outs]) for k in snaps},
    )
    return LotsResult(x_adv, trace)


def _alpha_schedule(alpha: float, alpha_final: float | None, iters: int) -> list[float]:
    """The step width of each step ``k = 0..iters-1`` (constant, or a geometric decay)."""
    if alpha_final is None or iters == 1:
        return [float(alpha)] * iters
    r = float(alpha_final) / float(alpha)
    return [float(alpha) * r ** (k / (iters - 1)) for k in range(iters)]


def _lots_chunk(model, x, ft, layer, iters, tau, alphas, distance, patience, min_delta, snaps=()):
    n = x.shape[0]
    xa = x.clone()
    hist = torch.full((n, iters + 1), float("nan"))
    used = torch.zeros(n, dtype=torch.long)
    converged = torch.zeros(n, dtype=torch.bool)
    reason = ["max_iters"] * n
    active = torch.ones(n, dtype=torch.bool)
    with torch.no_grad():
        top1_before = model(x).argmax(1).cpu()
    kept: dict[int, torch.Tensor] = {}
    for k in range(iters + 1):
        if k in snaps:
            kept[k] = xa.detach().cpu().clone()
        idx = active.nonzero().flatten()
        if idx.numel() == 0:
            break
        idx_dev = idx.to(x.device, non_blocking=True)
        xi = xa[idx_dev].requires_grad_(True)
        with torch.enable_grad():
            fs = model.features(xi, layer)
            diff = fs - ft[idx_dev]
            d = feature_distance(fs.detach(), ft[idx_dev], distance).cpu()
            hist[idx, k] = d
            done = d <= tau
            for j in idx[done].tolist():
                converged[j], reason[j], active[j] = True, "converged", False
            go = ~done
            if k == iters or not go.any():
                break
            if patience is not None and k >= patience:
                prev = hist[idx, k - patience]
                plateau = go & ((prev - d) <= min_delta * prev)
                for j in idx[plateau].tolist():
                    reason[j], active[j] = "plateau", False
                go = go & ~plateau
                if not go.any():
                    continue
            go_dev = go.to(x.device, non_blocking=True)
            loss = 0.5 * (diff[go_dev] ** 2).flatten(1).sum(1)
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
            after = (before - step).clamp_(0.0, 1.0)
            xa[tgt] = after
            stuck = (after == before).flatten(1).all(1).cpu()
            used[gidx[ok][~stuck]] += 1
            for j in gidx[ok][stuck].tolist():
                reason[j], active[j] = "saturated", False
    # hold the last measured distance after a sample stopped
    for k in range(1, iters + 1):
        col = hist[:, k]
        miss = torch.isnan(col)
        col[miss] = hist[miss, k - 1]
    with torch.no_grad():
        top1_after = model(xa).argmax(1).cpu()
    for k in snaps:
        kept.setdefault(k, xa.detach().cpu().clone())
    return xa.detach(), hist, used, converged, reason, top1_before, top1_after, kept
