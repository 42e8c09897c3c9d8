"""The six CAM methods, registered in :mod:`lotslib.method_registry` (maps through
:func:`lotslib.explanation.explain`).

Methods (registered in the row order of the thesis's Table 5.2; Weber 2023, section 5.1.2;
LOTS itself is registered by :mod:`lotslib.lots_explainer`):

============================  =====================================================================
key                           method
============================  =====================================================================
``"random"``                  Random-CAM: channel weights drawn uniformly from [-1, 1] (the baseline)
``"gradcam"``                 Grad-CAM (Selvaraju et al. 2017)
``"gradcampp"``               Grad-CAM++ (Chattopadhyay et al. 2018)
``"smoothgradcampp"``         SmoothGrad-CAM++ (Omeiza et al. 2019), a ``BaseCAM`` subclass here
``"layercam"``                Layer-CAM (Jiang et al. 2021)
``"hirescam"``                HiRes-CAM (Draelos & Carin 2020)
============================  =====================================================================

The CAM methods come from pytorch-grad-cam (PyPI ``grad-cam``) and run on ``model.cam_layer``
(the last convolutional block) with the top-1 predicted class as target unless ``targets`` is
given; the class score is the pre-softmax logit (pytorch-grad-cam's ``ClassifierOutputTarget``).
Adding a CAM method is one :func:`cam_method` call registering its pytorch-grad-cam class
(or a ``BaseCAM`` subclass of one's own, as :class:`SmoothGradCAMPlusPlus` here).

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
information: its map is all zeros and a :class:`lotslib.explanation.DegenerateMapWarning` names it; no method is
run on it. A method whose map comes out constant (e.g. every Grad-CAM weight negative) also
returns zeros with the same warning. :func:`lotslib.explanation.explain_with_info` reports both as ``degenerate``.

Randomness. Random-CAM's weights and SmoothGrad-CAM++'s noise come from per-image generators:
``seed`` is an int (image ``i`` of the batch uses ``seed + i``) or a sequence of one int per
image (what :mod:`lotslib.benchmark` passes, so a map does not depend on the batch it ran in).
"""
from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, RandomCAM
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from .errors import ParameterError
from .method_registry import TABLE_METHODS, Method, get_method, register_method
from .tensors import is_int

__all__ = [
    "CamCompute",
    "cam_method",
    "cam_class",
    "run_cam",
    "requires_grad",
    "SeededRandomCAM",
    "SmoothGradCAMPlusPlus",
]


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
    """SmoothGrad-CAM++ (Omeiza et al. 2019) on pytorch-grad-cam's ``BaseCAM``.

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


# ------------------------------------------------------------------ hooks
@contextmanager
def requires_grad(model, flag: bool):
    """Context manager: every parameter of ``model`` has ``requires_grad=flag`` inside the block.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    flag : bool
        The ``requires_grad`` value inside the block.

    Returns
    -------
    contextlib._GeneratorContextManager
        The context; on exit the previous flags are restored (and gradients a trainable
        block left behind are dropped).
    """
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(flag)
        yield
    finally:
        for p, rg in saved:
            p.requires_grad_(rg)
            if flag:
                p.grad = None


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


def _shield_hook(module, inputs, output):
    if isinstance(output, torch.Tensor):
        # the layers above see a copy: an in-place op there (AlexNet's ReLU(inplace=True),
        # DenseNet's F.relu(..., inplace=True) after norm5) can no longer rewrite the
        # activation pytorch-grad-cam stored
        return output.clone()
    return None


@contextmanager
def _shielded(layer):
    """Keep the CAM layer's own output as the activation on every device (see :func:`run_cam`)."""
    handle = layer.register_forward_hook(_shield_hook)  # appended: runs after pytorch-grad-cam's hook
    try:
        yield
    finally:
        handle.remove()


def run_cam(cam_class, model, x: torch.Tensor, targets: torch.Tensor, cam_kwargs: dict | None = None,
            fast: bool = True) -> torch.Tensor:
    """One chunk through a pytorch-grad-cam class; all hooks released on exit.

    Parameters
    ----------
    cam_class : type
        The pytorch-grad-cam class.
    model : lotslib.models.ModelWrapper
        The classifier; ``model.cam_layer`` is the CAM layer.
    x : torch.Tensor
        ``(N,3,H,W)`` pixels in [0,1] on the model's device.
    targets : torch.Tensor
        ``(N,)`` class indices.
    cam_kwargs : dict or None, optional
        Keyword arguments of the CAM call (default None: none).
    fast : bool, optional
        If True (default), cut the graph at ``model.cam_layer`` and freeze the parameters
        (module docstring); ``fast=False`` is pytorch-grad-cam's stock behaviour.

    Returns
    -------
    torch.Tensor
        pytorch-grad-cam's ``(N,H,W)`` float32 maps (its own min-max per map, in [0,1]).

    Notes
    -----
    The activation. The maps use the CAM layer's output *as the layer returns it*, on every
    device. pytorch-grad-cam stores ``activation.cpu().detach()``: on a GPU that is a copy,
    on the CPU an alias, so an in-place operation after the layer (AlexNet's last ReLU,
    DenseNet-121's ReLU after ``norm5``) used to turn the stored activation into the
    post-ReLU one on the CPU only, while the gradients stayed those of the layer's output.
    Here the layers above the CAM layer receive a copy of its output, so the stored
    activation is never rewritten: the maps are identical on CPU and GPU and match
    pytorch-grad-cam on a GPU.
    """
    layer = model.cam_layer
    with ExitStack() as stack:
        if fast:
            stack.enter_context(requires_grad(model, False))
            stack.enter_context(_cut_at(layer))
        kw = dict(cam_kwargs or {})
        if getattr(model, "reshape_transform", None) is not None:  # vision transformers (lotslib.models.wrap)
            kw.setdefault("reshape_transform", model.reshape_transform)
        cam = stack.enter_context(cam_class(model=model, target_layers=[layer], **kw))
        stack.enter_context(_shielded(layer))
        out = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in targets.tolist()])
        cam.outputs = None  # drop the retained graph now, not when the object is collected
    return torch.from_numpy(np.asarray(out, dtype=np.float32))


def _no_kwargs(params: dict, seeds) -> dict:
    return {}


@dataclass(frozen=True)
class CamCompute:
    """The ``compute`` of a CAM :class:`~lotslib.method_registry.Method`: ``cam_class`` (a
    pytorch-grad-cam ``BaseCAM`` subclass) on ``model.cam_layer``, ``params["batch_size"]``
    images at a time. ``cam_kwargs(params, seeds) -> dict`` gives the class's extra
    constructor arguments (``seeds``: one int per image of the chunk, or None)."""

    cam_class: type
    cam_kwargs: Callable[[dict, object], dict] = field(default=_no_kwargs)

    def __call__(self, model, x: torch.Tensor, targets: torch.Tensor, params: dict, fast: bool = True) -> torch.Tensor:
        bs = params.get("batch_size") or len(x)
        seeds = params.get("seed")
        chunks = []
        for s in range(0, len(x), bs):
            sd = seeds[s : s + bs] if seeds is not None else None
            kw = self.cam_kwargs(params, sd)
            chunks.append(run_cam(self.cam_class, model, x[s : s + bs], targets[s : s + bs], kw, fast=fast))
        return torch.cat(chunks)


def cam_method(key: str, name: str, cam_class: type, defaults: dict | None = None, cam_kwargs=None,
               stochastic: bool = False, check=None, tables: dict | None = None, baseline: bool = False,
               description: str = "", order: int = 1000) -> Method:
    """Register a CAM method: a pytorch-grad-cam class (or a ``BaseCAM`` subclass) under ``key``.

    Parameters
    ----------
    key : str
        The method key.
    name : str
        The method's display name.
    cam_class : type
        The pytorch-grad-cam class (or a ``BaseCAM`` subclass).
    defaults : dict or None, optional
        The method's parameters and defaults (default None: ``{"batch_size": None}``).
    cam_kwargs : Callable or None, optional
        Builds the class's keyword arguments from the parameters (default None: none).
    stochastic : bool, optional
        Whether the method draws random numbers (default False).
    check : Callable or None, optional
        Validates the resolved parameters (default None: no extra check).
    tables : dict or None, optional
        Thesis table -> row label (default None: a row named ``name`` in Table 5.2,
        :data:`~lotslib.method_registry.TABLE_METHODS`).
    baseline : bool, optional
        Whether the method is a baseline (default False).
    description : str, optional
        A one-line description (default ``""``).
    order : int, optional
        The method's place among the tables' rows (default 1000: after the built-in ones).

    Returns
    -------
    lotslib.method_registry.Method
        The registered method (an existing one under ``key`` is replaced).
    """
    return register_method(
        Method(key, name, CamCompute(cam_class, cam_kwargs or _no_kwargs),
               defaults=dict(defaults or {"batch_size": None}),
               stochastic=stochastic, tables=dict(tables if tables is not None else {TABLE_METHODS: name}), check=check,
               baseline=baseline, description=description, order=order),
        replace=True,
    )


def cam_class(method: str):
    """The pytorch-grad-cam class (or our subclass) behind a registered CAM method key.

    Parameters
    ----------
    method : str
        A registered CAM method key.

    Returns
    -------
    type
        The CAM class.

    Raises
    ------
    lotslib.errors.ParameterError
        If ``method`` is not a CAM method.
    """
    compute = get_method(method).compute
    if not isinstance(compute, CamCompute):
        raise ParameterError(f"{method!r} is not a CAM method; use lotslib.explain({method!r}, ...).")
    return compute.cam_class


# ------------------------------------------------------------------ the six CAM methods
def _check_smoothgrad(p: dict) -> None:
    if not is_int(p["n_samples"]) or p["n_samples"] < 1:
        raise ParameterError(f"n_samples={p['n_samples']!r}: must be an integer >= 1 (default 25).")
    nl = p["noise_level"]
    if not isinstance(nl, (int, float)) or isinstance(nl, bool) or not math.isfinite(nl) or nl < 0:
        raise ParameterError(
            f"noise_level={nl!r}: must be a finite number >= 0 (a fraction of the pixel range; default 0.15)."
        )


cam_method("random", "Random-CAM", SeededRandomCAM, {"seed": 0, "batch_size": None},
           cam_kwargs=lambda p, seeds: {"seeds": seeds}, stochastic=True, baseline=True,
           description="channel weights drawn uniformly from [-1, 1] (the baseline)", order=10)
cam_method("gradcam", "Grad-CAM", GradCAM, description="Selvaraju et al. 2017", order=20)
cam_method("gradcampp", "Grad-CAM++", GradCAMPlusPlus, description="Chattopadhyay et al. 2018", order=30)
# Noise: 15 % of the image's value range (SmoothGrad's recommended 10-20 %, Smilkov et al.
# 2017), 25 noisy copies; the thesis does not state its values.
cam_method("smoothgradcampp", "SmoothGrad-CAM++", SmoothGradCAMPlusPlus,
           {"n_samples": 25, "noise_level": 0.15, "seed": 0, "batch_size": None},
           cam_kwargs=lambda p, seeds: {"n_samples": p["n_samples"], "noise_level": p["noise_level"], "seeds": seeds},
           stochastic=True, check=_check_smoothgrad, description="Omeiza et al. 2019", order=40)
cam_method("layercam", "Layer-CAM", LayerCAM, description="Jiang et al. 2021", order=50)
cam_method("hirescam", "HiRes-CAM", HiResCAM, description="Draelos & Carin 2020", order=60)
