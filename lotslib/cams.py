"""Every explanation method behind one call: ``explain(method, model, x)`` -> ``(N,H,W)`` maps in [0,1].

Methods (``METHODS``, in the row order of the thesis's Table 5.2; Weber 2023, section 5.1.2):

============================  =====================================================================
key                           method
============================  =====================================================================
``"random"``                  Random-CAM: channel weights drawn uniformly from [-1, 1] (the baseline)
``"gradcam"``                 Grad-CAM (Selvaraju et al. 2017)
``"gradcampp"``               Grad-CAM++ (Chattopadhyay et al. 2018)
``"smoothgradcampp"``         SmoothGrad-CAM++ (Omeiza et al. 2019), a :class:`BaseCAM` subclass here
``"layercam"``                Layer-CAM (Jiang et al. 2021)
``"hirescam"``                HiRes-CAM (Draelos & Carin 2020)
``"lots"``                    LOTS (Algorithm 1) + the Algorithm 2 map (:func:`lotslib.visualize.lots_map`)
============================  =====================================================================

The CAM methods come from pytorch-grad-cam (PyPI ``grad-cam``) and run on ``model.cam_layer``
(the last convolutional block) with the top-1 predicted class as target unless ``targets`` is
given; the class score is the pre-softmax logit (pytorch-grad-cam's ``ClassifierOutputTarget``).
LOTS ignores ``targets``: its map explains the move toward the feature target ``target``
(``"zero"`` by default; a feature tensor from :mod:`lotslib.targets` otherwise).

Speed. pytorch-grad-cam backpropagates the class score through the whole network. Here a
forward hook on the CAM layer *cuts the graph* there: the layer's output is detached and made
a fresh tensor that requires grad, so the backward pass only runs through the layers above it
and no parameter gradient is ever computed (all parameters are frozen for the duration of the
call). The gradient of the class score with respect to the layer's activations, which is all
these CAMs use, is unchanged; ``tests/test_cams.py`` checks the maps against pytorch-grad-cam
on an unfrozen copy of the model. Every hook (ours and pytorch-grad-cam's) is released when
the call ends, also on errors.

Degenerate inputs. An image whose pixels are all equal (a constant image, up to half an
8-bit grey level) carries no spatial
information: its map is all zeros and a :class:`DegenerateMapWarning` names it; no method is
run on it. A method whose map comes out constant (e.g. every Grad-CAM weight negative) also
returns zeros with the same warning. :func:`explain_with_info` reports both as ``degenerate``.

Randomness. Random-CAM's weights and SmoothGrad-CAM++'s noise come from per-image generators:
``seed`` is an int (image ``i`` of the batch uses ``seed + i``) or a sequence of one int per
image (what :mod:`lotslib.benchmark` passes, so a map does not depend on the batch it ran in).
"""
from __future__ import annotations

import math
import time
import warnings
from collections import OrderedDict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, RandomCAM
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from .errors import ParameterError
from .lots import check_pixels, lots
from .visualize import gaussian_kernel1d, lots_map, minmax

__all__ = [
    "METHODS",
    "CAM_METHODS",
    "DEFAULTS",
    "explain",
    "explain_with_info",
    "Explanation",
    "default_params",
    "check_params",
    "SeededRandomCAM",
    "SmoothGradCAMPlusPlus",
    "DegenerateMapWarning",
    "cam_class",
]

#: method key -> display name, in the thesis's table order (Random-CAM is the baseline row)
METHODS: "OrderedDict[str, str]" = OrderedDict(
    [
        ("random", "Random-CAM"),
        ("gradcam", "Grad-CAM"),
        ("gradcampp", "Grad-CAM++"),
        ("smoothgradcampp", "SmoothGrad-CAM++"),
        ("layercam", "Layer-CAM"),
        ("hirescam", "HiRes-CAM"),
        ("lots", "LOTS"),
    ]
)

#: the methods that run through pytorch-grad-cam on ``model.cam_layer``
CAM_METHODS = tuple(k for k in METHODS if k != "lots")

#: documented defaults of every method's parameters (``batch_size``: images per chunk, None = all)
DEFAULTS: dict[str, dict] = {
    "random": {"seed": 0, "batch_size": None},
    "gradcam": {"batch_size": None},
    "gradcampp": {"batch_size": None},
    # Noise: 15 % of the image's value range (SmoothGrad's recommended 10-20 %, Smilkov et al.
    # 2017), 25 noisy copies; the thesis does not state its values.
    "smoothgradcampp": {"n_samples": 25, "noise_level": 0.15, "seed": 0, "batch_size": None},
    "layercam": {"batch_size": None},
    "hirescam": {"batch_size": None},
    # The thesis's set-up (section 5.1): 500 iterations, tau 0.1, alpha 1/255, zero F_t, 49x49 blur.
    "lots": {
        "iters": 500,
        "tau": 0.1,
        "alpha": 1 / 255,
        "target": "zero",
        "layer": "logits",
        "distance": "euclidean",
        "filter_size": 49,
        "sigma": None,
        "batch_size": None,
        # plateau early stop (lotslib.lots): off by default, as in the thesis protocol
        "patience": None,
        "min_delta": 1e-3,
    },
}


class DegenerateMapWarning(UserWarning):
    """A map is all zeros because the image is constant or the method's map was constant."""


# ------------------------------------------------------------------ CAM classes
class SeededRandomCAM(RandomCAM):
    """pytorch-grad-cam's Random-CAM with reproducible weights: channel weights uniform in
    [-1, 1] from ``numpy.random.default_rng(seed_i)`` for image ``i`` (the library draws from
    NumPy's global state). Its weights need no gradient, so it skips the backward pass."""

    def __init__(self, model, target_layers, seeds: Sequence[int], reshape_transform=None):
        super().__init__(model, target_layers, reshape_transform)
        self.uses_gradients = False
        self.seeds = [int(s) for s in seeds]

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        n, c = activations.shape[:2]
        if len(self.seeds) != n:
            raise ParameterError(f"SeededRandomCAM got {len(self.seeds)} seeds for {n} images.")
        return np.stack([np.random.default_rng(s).uniform(-1.0, 1.0, size=c) for s in self.seeds]).astype(np.float32)


class SmoothGradCAMPlusPlus(BaseCAM):
    """SmoothGrad-CAM++ (Omeiza et al. 2019) on pytorch-grad-cam's :class:`BaseCAM`.

    Grad-CAM++'s channel weights with the gradients averaged over ``n_samples`` noisy copies
    of the image (SmoothGrad): with ``g_m`` the gradient of the class score with respect to
    the layer activations ``A`` on copy ``m = x + N(0, sigma^2)``,
    ``D1, D2, D3 = mean_m g_m, mean_m g_m**2, mean_m g_m**3``,
    ``alpha = D2 / (2 D2 + sum_ab A * D3)`` (0 where ``D1 == 0``) and
    ``w_k = sum_ij alpha * relu(D1)``; the map is ``relu(sum_k w_k A_k)`` on the *clean*
    image's activations. The numerator uses the averaged second moment, as pytorch-grad-cam's
    Grad-CAM++ and torchcam's SmoothGrad-CAM++ do (the paper prints the first).

    ``sigma = noise_level * (max(x_i) - min(x_i))`` per image (pixels in [0,1]; noise is not
    clipped, as in SmoothGrad). ``seeds``: one int per image for the noise generator.
    """

    def __init__(self, model, target_layers, n_samples: int = 25, noise_level: float = 0.15,
                 seeds: Sequence[int] = (0,), reshape_transform=None):
        super().__init__(model, target_layers, reshape_transform)
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.seeds = [int(s) for s in seeds]
        self._moments = None

    def forward(self, input_tensor, targets, eigen_smooth=False):
        x = input_tensor.to(self.device)
        n = x.shape[0]
        if len(self.seeds) != n:
            raise ParameterError(f"SmoothGradCAMPlusPlus got {len(self.seeds)} seeds for {n} images.")
        # clean pass: targets and the activations the map is built from
        self.outputs = outputs = self.activations_and_grads(x)
        if targets is None:
            targets = [ClassifierOutputTarget(int(c)) for c in outputs.argmax(-1).tolist()]
        clean_acts = list(self.activations_and_grads.activations)
        gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        sigma = self.noise_level * (x.flatten(1).amax(1) - x.flatten(1).amin(1))
        d1 = d2 = d3 = 0.0
        for _ in range(self.n_samples):
            noise = torch.stack([torch.randn(x.shape[1:], generator=g) for g in gens]).to(x.device, x.dtype)
            out = self.activations_and_grads(x + noise * sigma.view(-1, 1, 1, 1))
            self.model.zero_grad()
            loss = sum(t(o) for t, o in zip(targets, out))
            loss.backward()
            g = self.activations_and_grads.gradients[0].numpy().astype(np.float64)
            d1, d2, d3 = d1 + g, d2 + g**2, d3 + g**3
        self._moments = (d1 / self.n_samples, d2 / self.n_samples, d3 / self.n_samples)
        self.activations_and_grads.activations = clean_acts
        self.activations_and_grads.gradients = []
        try:
            cams = self.compute_cam_per_layer(x, targets, eigen_smooth)
        finally:
            self._moments = None
        return self.aggregate_multi_layers(cams)

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        d1, d2, d3 = self._moments
        a = np.asarray(activations, dtype=np.float64)
        sum_a = a.sum(axis=(2, 3), keepdims=True)
        alpha = d2 / (2 * d2 + sum_a * d3 + 1e-6)
        alpha = np.where(d1 != 0, alpha, 0.0)
        return (np.maximum(d1, 0.0) * alpha).sum(axis=(2, 3)).astype(np.float32)


_CAM_CLASSES = {
    "random": SeededRandomCAM,
    "gradcam": GradCAM,
    "gradcampp": GradCAMPlusPlus,
    "smoothgradcampp": SmoothGradCAMPlusPlus,
    "layercam": LayerCAM,
    "hirescam": HiResCAM,
}


def cam_class(method: str):
    """The pytorch-grad-cam class (or our subclass) behind a CAM method key."""
    _check_method(method)
    if method == "lots":
        raise ParameterError("'lots' is not a CAM class; use explain('lots', ...).")
    return _CAM_CLASSES[method]


# ------------------------------------------------------------------ parameters
def _check_method(method) -> None:
    if method not in METHODS:
        raise ParameterError(f"Unknown method {method!r}. Choose one of {list(METHODS)}.")


def default_params(method: str) -> dict:
    """A copy of the documented defaults of ``method``'s parameters."""
    _check_method(method)
    return dict(DEFAULTS[method])


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_params(method: str, params: dict | None = None) -> dict:
    """Validate ``params`` for ``method`` and return them merged over the defaults.

    Raises :class:`ParameterError` naming the parameter, before any compute."""
    _check_method(method)
    params = dict(params or {})
    unknown = sorted(set(params) - set(DEFAULTS[method]))
    if unknown:
        raise ParameterError(
            f"{METHODS[method]} does not take parameter(s) {unknown}; it takes {sorted(DEFAULTS[method])}."
        )
    p = {**DEFAULTS[method], **params}
    bs = p.get("batch_size")
    if bs is not None and (not _is_int(bs) or bs < 1):
        raise ParameterError(f"batch_size={bs!r}: must be a positive integer or None (all images at once).")
    if "seed" in p:
        s = p["seed"]
        ok = _is_int(s) or (isinstance(s, (list, tuple, np.ndarray)) and all(_is_int(v) for v in s))
        if not ok:
            raise ParameterError(f"seed={s!r}: must be an int or a sequence of ints (one per image).")
    if method == "smoothgradcampp":
        if not _is_int(p["n_samples"]) or p["n_samples"] < 1:
            raise ParameterError(f"n_samples={p['n_samples']!r}: must be an integer >= 1 (default 25).")
        nl = p["noise_level"]
        if not isinstance(nl, (int, float)) or isinstance(nl, bool) or not math.isfinite(nl) or nl < 0:
            raise ParameterError(f"noise_level={nl!r}: must be a finite number >= 0 (a fraction of the pixel range; default 0.15).")
    if method == "lots":
        from .lots import _check_params as _lots_check

        _lots_check(p["iters"], p["tau"], p["alpha"], p["distance"], p["batch_size"], p["patience"], p["min_delta"])
        gaussian_kernel1d(p["filter_size"], p["sigma"])  # raises ParameterError on a bad filter
        if p["layer"] not in ("logits", "penultimate"):
            raise ParameterError(f"layer={p['layer']!r}: choose 'logits' or 'penultimate'.")
        t = p["target"]
        if not (isinstance(t, torch.Tensor) or t == "zero"):
            raise ParameterError(f"target={t!r}: pass 'zero' or a feature tensor (D,) / (N,D) from lotslib.targets.")
    return p


def _seeds(seed, n: int) -> list[int]:
    if _is_int(seed):
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
        raise ParameterError(f"targets has {t.numel()} entries for {n} images. Fix: one class index per image (or None = top-1).")
    return t


# ------------------------------------------------------------------ hooks
@contextmanager
def _frozen(model):
    """Every parameter requires_grad=False inside the block (restored after)."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(False)
        yield
    finally:
        for p, rg in saved:
            p.requires_grad_(rg)


def _cut_hook(module, inputs, output):
    if isinstance(output, torch.Tensor) and torch.is_grad_enabled():
        # a fresh leaf that requires grad; the clone makes it a non-leaf so that in-place ops
        # above the layer (DenseNet's F.relu(..., inplace=True)) stay legal.
        return output.detach().requires_grad_(True).clone()
    return None


@contextmanager
def _cut_at(layer):
    """Start the autograd graph at ``layer``'s output: nothing below it is backpropagated."""
    handle = layer.register_forward_hook(_cut_hook, prepend=True)
    try:
        yield
    finally:
        handle.remove()


#: an image whose channels vary by less than half an 8-bit grey level is constant (resizing a
#: constant image leaves float rounding noise of ~1e-7)
CONSTANT_TOL = 0.5 / 255


def _is_constant(x: torch.Tensor) -> torch.Tensor:
    """(N,) True where every pixel of the image has the same colour (within ``CONSTANT_TOL``)."""
    spread = (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).amax(dim=1)
    return (spread < CONSTANT_TOL).cpu()


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _run_cam(method, model, x, targets, p, seeds, fast: bool = True) -> torch.Tensor:
    """One chunk through pytorch-grad-cam; all hooks released on exit."""
    layer = model.cam_layer
    cls = _CAM_CLASSES[method]
    kwargs = {}
    if method == "random":
        kwargs = {"seeds": seeds}
    elif method == "smoothgradcampp":
        kwargs = {"n_samples": p["n_samples"], "noise_level": p["noise_level"], "seeds": seeds}
    with ExitStack() as stack:
        if fast:
            stack.enter_context(_frozen(model))
            stack.enter_context(_cut_at(layer))
        cam = stack.enter_context(cls(model=model, target_layers=[layer], **kwargs))
        out = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in targets.tolist()])
        cam.outputs = None  # drop the retained graph now, not when the object is collected
    return torch.from_numpy(np.asarray(out, dtype=np.float32))


# ------------------------------------------------------------------ explain
@dataclass
class Explanation:
    """What :func:`explain_with_info` returns.

    ``maps`` ``(N,H,W)`` float32 in [0,1]; ``targets`` ``(N,)`` the class each CAM explained
    (top-1 unless given; for LOTS the top-1 of the input, for reference); ``degenerate``
    ``(N,)`` True where the map is all zeros because the input or the map was constant;
    ``seconds`` wall time of the call; ``trace`` the :class:`~lotslib.lots.LotsTrace` for LOTS
    (None otherwise); ``x_adv`` the LOTS adversarial images (None otherwise); ``params`` the
    resolved parameters; ``ran`` ``(N,)`` False for constant images, which no method sees
    (``trace`` rows follow the images with ``ran`` True).
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

    ``fast=False`` skips the graph cut and parameter freezing (pytorch-grad-cam's own
    behaviour; only for checking that the cut changes nothing -- the model's parameters must
    then require grad for the CAM methods to get gradients)."""
    p = check_params(method, params)
    check_pixels(x)
    t0 = time.perf_counter()
    dev = _device(model)
    x = x.to(dev, torch.float32)
    n, _, h, w = x.shape
    tg = _targets(model, x, targets)
    const = _is_constant(x).cpu()
    maps = torch.zeros(n, h, w)
    trace = x_adv = None
    run = (~const).nonzero().flatten()
    if run.numel():
        xs = x[run.to(dev)]
        bs = p["batch_size"] or len(run)
        if method == "lots":
            target = p["target"]
            if isinstance(target, torch.Tensor) and target.dim() == 2 and target.shape[0] == n:
                target = target[run]
            res = lots(model, xs, target=target, layer=p["layer"], iters=p["iters"], tau=p["tau"], alpha=p["alpha"],
                       distance=p["distance"], batch_size=p["batch_size"], patience=p["patience"],
                       min_delta=p["min_delta"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zero perturbations are reported below as degenerate maps
                m = lots_map(xs, res.x_adv, p["filter_size"], p["sigma"]).cpu()
            trace = res.trace
            x_adv = x.clone()
            x_adv[run.to(dev)] = res.x_adv
            x_adv = x_adv.cpu()
        else:
            seeds = _seeds(p.get("seed", 0), n) if "seed" in p else None
            chunks = []
            for s in range(0, len(run), bs):
                idx = run[s : s + bs]
                sd = [seeds[i] for i in idx.tolist()] if seeds is not None else None
                chunks.append(_run_cam(method, model, x[idx.to(dev)], tg[idx], p, sd, fast=fast))
            m = torch.cat(chunks)
        maps[run] = minmax(torch.nan_to_num(m.float(), nan=0.0, posinf=0.0, neginf=0.0))
    flat = maps.flatten(1)
    degenerate = const | ((flat.amax(1) - flat.amin(1)) <= 0)
    maps[degenerate] = 0.0
    if degenerate.any():
        bad = degenerate.nonzero().flatten().tolist()
        why = ["constant image" if const[i] else "constant map" for i in bad]
        warnings.warn(
            f"{METHODS[method]}: samples {bad} ({', '.join(sorted(set(why)))}) have no spatial information; "
            f"their maps are all zeros and their metrics should be flagged.",
            DegenerateMapWarning,
            stacklevel=2,
        )
    return Explanation(
        maps=maps.clamp_(0.0, 1.0),
        targets=tg,
        degenerate=degenerate,
        seconds=time.perf_counter() - t0,
        method=method,
        params=p,
        trace=trace,
        x_adv=x_adv,
        ran=~const,
    )


def explain(method: str, model, x: torch.Tensor, targets=None, **params) -> torch.Tensor:
    """``(N,3,H,W)`` pixels in [0,1] -> ``(N,H,W)`` float32 maps in [0,1] (no NaN), batched.

    ``method``: a key of :data:`METHODS`. ``targets``: class indices (one per image, or one for
    all; default the top-1 predicted class). ``params`` (defaults in :data:`DEFAULTS`):

    * every method: ``batch_size`` (images per chunk, None = all at once);
    * ``"random"``: ``seed``; ``"smoothgradcampp"``: ``n_samples``, ``noise_level``, ``seed``;
    * ``"lots"``: ``iters``, ``tau``, ``alpha``, ``target`` (``"zero"`` or features ``(D,)`` /
      ``(N,D)``), ``layer``, ``distance``, ``filter_size``, ``sigma``.

    Bad parameters raise :class:`~lotslib.errors.ParameterError` before any compute. See
    :func:`explain_with_info` for the LOTS trace and the degenerate-map flags.
    """
    return explain_with_info(method, model, x, targets=targets, **params).maps
