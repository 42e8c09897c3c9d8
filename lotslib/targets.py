"""LOTS targets F_t (thesis section 4.2): the zero vector, a class reference image's
features, the class-mean features, or the features of any image (e.g. an unseen object).

All functions return a feature tensor ``(D,)`` for ``model.features(., layer)``.
Results are cached in memory per (model weights, layer, source) so a target is computed
once per session.
"""
from __future__ import annotations

import torch

from .errors import DatasetError

__all__ = ["zero_target", "image_target", "class_reference_target", "class_mean_target", "clear_cache"]

_CACHE: dict[tuple, torch.Tensor] = {}


def clear_cache() -> None:
    """Forget every target computed in this session (the next call recomputes it)."""
    _CACHE.clear()


def _key(model, layer, *source):
    return (getattr(model, "name", id(model)), getattr(model, "weights_id", ""), layer, *source)


def _features(model, x: torch.Tensor, layer: str, batch_size: int = 16) -> torch.Tensor:
    from .attack import check_pixels

    check_pixels(x)
    dev = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            out.append(model.features(x[s : s + batch_size].to(dev), layer).cpu())
    return torch.cat(out)


def zero_target(model, layer: str = "logits") -> torch.Tensor:
    """The zero vector of the layer's size ``(D,)``: push every class score toward zero.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features the target is for.
    layer : str
        ``"logits"`` (the default, ``D = 1000``) or ``"penultimate"``.

    Returns
    -------
    torch.Tensor
        ``(D,)`` float zeros (on the CPU, cached per model and layer).
    """
    key = _key(model, layer, "zero")
    if key not in _CACHE:
        dim = _features(model, torch.full((1, 3, model.input_size, model.input_size), 0.5), layer).shape[1]
        _CACHE[key] = torch.zeros(dim)
    return _CACHE[key]


def image_target(model, x: torch.Tensor, layer: str = "logits", key: str | None = None) -> torch.Tensor:
    """Features of one image ``(1,3,H,W)`` or ``(3,H,W)`` (pixels in [0,1]) -> ``(D,)``.

    Used for unseen objects (one view's features as the target of another).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features are taken.
    x : torch.Tensor
        ``(1,3,H,W)`` or ``(3,H,W)`` float pixels in [0,1], preprocessed for ``model`` (of a
        larger batch only the first image is used).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    key : str or None
        Pass ``key`` (e.g. the image id) to cache it; None (the default) computes it anew.

    Returns
    -------
    torch.Tensor
        ``(D,)`` features, on the CPU.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not finite float pixels in [0,1].
    """
    if x.dim() == 3:
        x = x[None]
    if key is not None and _key(model, layer, "image", key) in _CACHE:
        return _CACHE[_key(model, layer, "image", key)]
    f = _features(model, x[:1], layer)[0]
    if key is not None:
        _CACHE[_key(model, layer, "image", key)] = f
    return f


def class_reference_target(
    model, source, class_index: int, layer: str = "logits", exclude_id: str | None = None
) -> torch.Tensor:
    """Features of the first image of ``class_index`` in ``source`` other than ``exclude_id``.

    The thesis's "class F_t" (one reference image per class).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features are taken (it preprocesses the reference image).
    source : lotslib.data.ImageSource
        Labelled reference images.
    class_index : int
        ImageNet class index (0..999).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    exclude_id : str or None
        An image id not to use (the explained image itself). Default None.

    Returns
    -------
    torch.Tensor
        ``(D,)`` features, on the CPU (cached per model, layer and reference image).

    Raises
    ------
    lotslib.errors.DatasetError
        ``source`` has no image of ``class_index`` other than ``exclude_id``.
    """
    for it in source.items:
        if it.label == class_index and it.id != exclude_id:
            key = _key(model, layer, "ref", it.id)
            if key not in _CACHE:
                _CACHE[key] = image_target(model, model.preprocess(it.loader())[None], layer)
            return _CACHE[key]
    raise DatasetError(
        f"No reference image of class {class_index} (other than {exclude_id!r}) in {source.description}."
    )


def class_mean_target(model, source, class_index: int, layer: str = "logits") -> torch.Tensor:
    """Mean features over every image of ``class_index`` in ``source`` -- the thesis's "mean F_t".

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features are taken (it preprocesses the images).
    source : lotslib.data.ImageSource
        Labelled images.
    class_index : int
        ImageNet class index (0..999).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.

    Returns
    -------
    torch.Tensor
        ``(D,)`` mean features, on the CPU (cached per model, layer, source and class).

    Raises
    ------
    lotslib.errors.DatasetError
        ``source`` has no image of ``class_index``.
    """
    items = [it for it in source.items if it.label == class_index]
    if not items:
        raise DatasetError(f"No image of class {class_index} in {source.description} to average.")
    key = _key(model, layer, "mean", source.fingerprint(), class_index)
    if key not in _CACHE:
        x = torch.stack([model.preprocess(it.loader()) for it in items])
        _CACHE[key] = _features(model, x, layer).mean(0)
    return _CACHE[key]
