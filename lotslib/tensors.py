"""Small helpers every module shares: images to tensors, pixel checks, a model's device,
integer checks. A leaf module: it imports nothing from lotslib but :mod:`lotslib.errors`.

Pixels are ``(N,3,H,W)`` float tensors in [0,1] throughout lotslib.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from PIL import Image

from .errors import ImageDecodeError, InputRangeError

__all__ = ["to_tensor", "pil_to_array", "check_pixels", "model_device", "is_int", "id_seed"]


def is_int(v) -> bool:
    """True for a Python or NumPy integer (``bool`` excluded).

    Parameters
    ----------
    v : object
        Any value.

    Returns
    -------
    bool
        Whether ``v`` is an ``int`` or ``numpy.integer`` and not a ``bool``.
    """
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def model_device(model) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters).

    Parameters
    ----------
    model : torch.nn.Module
        Any module, e.g. a ``lotslib.models.ModelWrapper``.

    Returns
    -------
    torch.device
        Where the model's parameters live.
    """
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def to_tensor(img) -> torch.Tensor:
    """PIL image or ``(H,W[,C])`` uint8/float array -> ``(3,H,W)`` float32 tensor in [0,1].

    Grayscale becomes RGB, an alpha channel is composited over white; uint8 is divided by
    255, uint16 by 65535, float is taken as already in [0,1] (and clamped).

    Parameters
    ----------
    img : PIL.Image.Image, numpy.ndarray or torch.Tensor
        A PIL image (any mode), or an array ``(H,W)``, ``(H,W,1)``, ``(H,W,3)`` or
        ``(H,W,4)`` (uint8, uint16 or float in [0,1]). A tensor is returned unchanged.

    Returns
    -------
    torch.Tensor
        ``(3,H,W)`` float32 pixels in [0,1] (``img`` itself for a tensor).

    Raises
    ------
    lotslib.errors.ImageDecodeError
        The array is not an image shape, or a PIL image decodes to NaN/inf.
    """
    if isinstance(img, torch.Tensor):
        return img
    if isinstance(img, Image.Image):
        arr = pil_to_array(img, "<PIL image>")
    else:
        arr = np.asarray(img)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype == np.uint16:
            arr = arr.astype(np.float32) / 65535.0
        else:
            arr = arr.astype(np.float32)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            a = arr[..., 3:4]
            arr = arr[..., :3] * a + (1.0 - a)
        elif arr.ndim == 3 and arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageDecodeError(f"Expected an RGB image array (H,W,3); got shape {arr.shape}.")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float().clamp_(0.0, 1.0)


def pil_to_array(img: Image.Image, where: str) -> np.ndarray:
    """Any PIL mode -> (H,W,3) float32 in [0,1].

    16-bit and 32-bit integer modes are scaled to [0,1]; modes with transparency are
    composited over white; every other mode is converted to RGB.

    Parameters
    ----------
    img : PIL.Image.Image
        A loaded image, any mode.
    where : str
        What the image is (e.g. its path), for the error message.

    Returns
    -------
    numpy.ndarray
        ``(H,W,3)`` float32 in [0,1].

    Raises
    ------
    lotslib.errors.ImageDecodeError
        The decoded pixels contain NaN or inf.
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        hi = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.repeat((arr / hi)[..., None], 3, axis=2)
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float32) / 255.0
    else:  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGB
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if not np.isfinite(arr).all():
        raise ImageDecodeError(f"{where}: decoded pixels contain NaN/inf. Fix: re-export the image as 8-bit RGB.")
    return np.clip(arr, 0.0, 1.0)


def check_pixels(x, name: str = "x", bounded: bool = True) -> torch.Tensor:
    """Validate a batch of pixels: a float tensor ``(N,3,H,W)``, finite, within [0,1].

    Parameters
    ----------
    x : torch.Tensor
        The batch to check: ``(N,3,H,W)`` float pixels in [0,1], ``N >= 1``.
    name : str
        The argument's name, for the error message. Default ``"x"``.
    bounded : bool
        Check the range [0,1] (default True). False only for the output of an unclamped LOTS
        walk (``step_space="normalized"``), whose pixels may leave [0,1] by design.

    Returns
    -------
    torch.Tensor
        ``x`` itself, unchanged.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not a tensor, is a single ``(3,H,W)`` image, has the wrong shape, is empty,
        is not floating point, contains NaN/inf, or has values outside [0,1] (e.g.
        normalized input); the message says how to fix it.
    """
    if not isinstance(x, torch.Tensor):
        raise InputRangeError(
            f"{name} must be a torch.Tensor (N,3,H,W); got {type(x).__name__}. Fix: model.preprocess(image)[None]."
        )
    if x.dim() == 3:
        raise InputRangeError(
            f"{name} has shape {tuple(x.shape)}; lotslib takes batches (N,3,H,W). Fix: use {name}[None]."
        )
    if x.dim() != 4 or x.shape[1] != 3:
        raise InputRangeError(
            f"{name} has shape {tuple(x.shape)}; expected (N,3,H,W) RGB. Fix: convert the image to RGB."
        )
    if x.numel() == 0:
        raise InputRangeError(f"{name} is empty (shape {tuple(x.shape)}). Fix: pass at least one image.")
    if not x.is_floating_point():
        raise InputRangeError(f"{name} has dtype {x.dtype}; expected float pixels in [0,1]. Fix: x.float() / 255.")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten().tolist()
        raise InputRangeError(
            f"{name} contains NaN or inf (samples {bad}). Fix: clean the input; pixels must be finite in [0,1]."
        )
    lo, hi = float(x.min()), float(x.max())
    if bounded and (lo < 0.0 or hi > 1.0):
        raise InputRangeError(
            f"{name} has values in [{lo:.4g}, {hi:.4g}], outside [0,1]. lotslib takes raw pixels in [0,1] and "
            f"normalizes inside the model wrapper. Fix: pass un-normalized pixels (e.g. x / 255, not (x-mean)/std)."
        )
    return x


def id_seed(base: int, image_id: str) -> int:
    """The per-image seed of a stochastic method.

    Parameters
    ----------
    base : int
        The method's seed.
    image_id : str
        The image id.

    Returns
    -------
    int
        ``base`` plus a hash of the image id, in [0, 2**31 - 2], so a map does not depend on
        the batch it ran in.
    """
    return (int(base) + int(hashlib.sha256(image_id.encode()).hexdigest()[:8], 16)) % (2**31 - 1)
