"""What one cell of the last convolutional block sees: its activation, its receptive field, the grid of cells.

The CAM methods read the activation ``A`` of ``model.cam_layer`` (the last convolutional
block; :func:`lotslib.models.default_cam_layer`) cell by cell and upsample it, as if cell
``(i, j)`` saw only the pixels under it. LOTS with the location objective
(:class:`lotslib.attack.LocationObjective`, :func:`lotslib.lots_variants.location_maps`) shows
what a cell really responds to; this module gives the boxes to compare that map with:

* :func:`receptive_field_boxes` -- the *theoretical* receptive field of each cell: every
  input pixel the cell depends on, as a box. It is measured as the support of the gradient
  of the cell's activation at the input, not derived by walking the modules' kernels,
  strides and paddings: a module walk has to know the network's graph (residual branches run
  in parallel with the main path, squeeze-and-excitation pools globally, attention mixes all
  tokens), while the gradient follows the real graph of any model. A gradient can be exactly
  zero where a ReLU is closed at that input, so the support is the union over several random
  inputs (``probes``) with random channel weights (no cancellation between channels); the
  box is its bounding box, clipped to the image. In a deep network the field of a last-block
  cell can cover the whole input (EfficientNet-Lite0 at 224 pixels: every cell of its 7 x 7
  block), and a map's share inside it is then 1 whatever the map; :func:`cell_boxes` is the
  stricter box.
* :func:`cell_boxes` -- the pixels a cell covers when its map is upsampled to the image (the
  assumption behind the CAM methods).
* :func:`mass_inside` -- the share of a map's mass inside a box (the location score).

Boxes are ``(top, left, bottom, right)`` in pixels, bottom and right exclusive (the rows
``top..bottom-1``), int64.
"""
from __future__ import annotations

import torch

from .errors import ParameterError
from .tensors import model_device

__all__ = ["cam_activation", "feature_map_size", "grid_cells", "receptive_field_boxes", "cell_boxes", "mass_inside"]

_RF_CACHE: dict[tuple, torch.Tensor] = {}


class _Captured(Exception):
    """Carries the layer's output out of the forward pass (the rest of the network is not run)."""

    def __init__(self, out):
        super().__init__("captured")
        self.out = out


def cam_activation(model, x: torch.Tensor, layer=None) -> torch.Tensor:
    """The activation ``A`` ``(N,C,h,w)`` of the last convolutional block for pixels ``x`` ``(N,3,H,W)`` in [0,1].

    The forward pass stops at the layer (the layers above it are not run), so the result is
    differentiable with respect to ``x`` at the cost of the layers below only. A model with a
    ``reshape_transform`` (vision transformers, :func:`lotslib.models.wrap`) has its tokens
    reshaped to ``(N,C,h,w)`` as the CAM methods do.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in; its ``cam_layer`` is the layer.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1], on the model's device.
    layer : torch.nn.Module or None
        Another layer of ``model`` (default None: ``model.cam_layer``).

    Returns
    -------
    torch.Tensor
        ``(N,C,h,w)`` activations.

    Raises
    ------
    lotslib.errors.ParameterError
        The model has no ``cam_layer``, the layer is not reached by the forward pass, or
        its output is not ``(N,C,h,w)``.
    """
    if layer is None:
        layer = getattr(model, "cam_layer", None)
    if not isinstance(layer, torch.nn.Module):
        raise ParameterError(f"{type(model).__name__} has no cam_layer (the last convolutional block). "
                             f"Fix: wrap it with lotslib.wrap(..., cam_layer=...).")

    def hook(_module, _inputs, out):
        raise _Captured(out)

    handle = layer.register_forward_hook(hook)
    try:
        model(x)
    except _Captured as c:
        out = c.out
    else:
        raise ParameterError(f"the layer {type(layer).__name__} is not used by {type(model).__name__}'s forward "
                             f"pass. Fix: pass a cam_layer that the network runs.")
    finally:
        handle.remove()
    if isinstance(out, (tuple, list)):
        out = out[0]
    reshape = getattr(model, "reshape_transform", None)
    if reshape is not None:
        out = reshape(out)
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise ParameterError(f"the last convolutional block gives {tuple(getattr(out, 'shape', ()))}, not (N,C,h,w). "
                             f"Fix: pick a convolutional cam_layer or give a reshape_transform.")
    return out


def feature_map_size(model, size: int | None = None) -> tuple[int, int]:
    """``(h, w)``: the spatial size of the last convolutional block for a ``size x size`` input.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    size : int or None
        Input side in pixels (default None: ``model.input_size``).

    Returns
    -------
    tuple of int
        ``(h, w)`` (7 x 7 for EfficientNet-Lite0 at 224 pixels).
    """
    size = int(size or model.input_size)
    with torch.no_grad():
        a = cam_activation(model, torch.zeros(1, 3, size, size, device=model_device(model)))
    return int(a.shape[-2]), int(a.shape[-1])


def grid_cells(h: int, w: int, grid: int = 7) -> torch.Tensor:
    """The feature-map cells of a ``g x g`` grid: ``(gh, gw, 2)`` ``(row, column)``, int64.

    ``gh = min(grid, h)`` and ``gw = min(grid, w)``: every cell of a map no larger than the
    grid; on a larger map, the cells nearest to ``gh x gw`` evenly spaced points (cell
    ``floor((a + 1/2) h / gh)``).

    Parameters
    ----------
    h, w : int
        The feature map's size.
    grid : int
        Cells per side, >= 1. Default 7.

    Returns
    -------
    torch.Tensor
        ``(gh, gw, 2)`` cells.

    Raises
    ------
    lotslib.errors.ParameterError
        ``grid``, ``h`` or ``w`` is not a positive integer.
    """
    for nm, v in (("grid", grid), ("h", h), ("w", w)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ParameterError(f"{nm}={v!r}: must be a positive integer.")
    gh, gw = min(grid, h), min(grid, w)
    rows = ((torch.arange(gh, dtype=torch.float64) + 0.5) * h / gh).floor().long()
    cols = ((torch.arange(gw, dtype=torch.float64) + 0.5) * w / gw).floor().long()
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1)


def _cells(cells) -> torch.Tensor:
    c = torch.as_tensor(cells).long()
    if c.dim() == 1:
        c = c[None]
    if c.shape[-1] != 2:
        raise ParameterError(f"cells has shape {tuple(c.shape)}; expected (..., 2): (row, column) pairs.")
    return c.reshape(-1, 2)


def receptive_field_boxes(model, cells, size: int | None = None, probes: int = 3, seed: int = 0,
                          batch_size: int = 49) -> torch.Tensor:
    """The theoretical receptive field of each cell as a box, from the gradient support (see the module docstring).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (its ``cam_layer`` is the layer).
    cells : Sequence or torch.Tensor
        ``(..., 2)`` feature-map cells ``(row, column)`` (e.g. :func:`grid_cells`).
    size : int or None
        Input side in pixels (default None: ``model.input_size``).
    probes : int
        Random inputs whose gradient supports are united, >= 1. Default 3.
    seed : int
        Seed of the random inputs and channel weights. Default 0.
    batch_size : int
        Cells per backward pass. Default 49.

    Returns
    -------
    torch.Tensor
        ``(..., 4)`` int64 boxes ``(top, left, bottom, right)`` (bottom/right exclusive) in
        pixels of the ``size x size`` input, the leading shape that of ``cells``; a cell with
        an empty support (no pixel reaches it at any probe) gets ``(0, 0, 0, 0)``. Cached per
        model weights, size, cells, probes and seed.

    Raises
    ------
    lotslib.errors.ParameterError
        ``probes`` or ``batch_size`` is not a positive integer, or a cell lies outside the
        feature map.
    """
    for nm, v in (("probes", probes), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ParameterError(f"{nm}={v!r}: must be a positive integer.")
    c_in = torch.as_tensor(cells).long()
    c = _cells(c_in)
    size = int(size or model.input_size)
    h, w = feature_map_size(model, size)
    if (c < 0).any() or (c[:, 0] >= h).any() or (c[:, 1] >= w).any():
        raise ParameterError(f"cells {c.tolist()[:8]} lie outside the {h}x{w} feature map. "
                             f"Fix: rows in 0..{h - 1}, columns in 0..{w - 1}.")
    key = (getattr(model, "name", id(model)), getattr(model, "weights_id", id(model)), size,
           tuple(map(tuple, c.tolist())), probes, int(seed))
    if key not in _RF_CACHE:
        _RF_CACHE[key] = _support_boxes(model, c, size, probes, int(seed), batch_size)
    return _RF_CACHE[key].reshape(*c_in.shape[:-1], 4).clone()


def _support_boxes(model, c, size, probes, seed, batch_size):
    dev = model_device(model)
    g = torch.Generator().manual_seed(seed)
    support = torch.zeros(len(c), size, size, dtype=torch.bool)
    for _ in range(probes):
        x0 = torch.rand(1, 3, size, size, generator=g).to(dev)
        for s in range(0, len(c), batch_size):
            cc = c[s : s + batch_size].to(dev)
            xi = x0.expand(len(cc), -1, -1, -1).clone().requires_grad_(True)
            with torch.enable_grad():
                a = cam_activation(model, xi)
                r = torch.randn(a.shape[1], generator=g).to(dev)
                sel = a[torch.arange(len(cc), device=dev), :, cc[:, 0], cc[:, 1]]
                (grad,) = torch.autograd.grad((sel * r).sum(), xi)
            support[s : s + len(cc)] |= (grad.abs().sum(1) > 0).cpu()
    boxes = torch.zeros(len(c), 4, dtype=torch.long)
    for k in range(len(c)):
        rows = support[k].any(1).nonzero().flatten()
        cols = support[k].any(0).nonzero().flatten()
        if rows.numel():
            boxes[k] = torch.tensor([int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1])
    return boxes


def cell_boxes(cells, feature_size: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """The pixels under each cell when an ``h x w`` map is stretched over an ``H x W`` image (the CAMs' view).

    Cell ``(i, j)`` covers rows ``floor(i H / h)`` to ``ceil((i+1) H / h)`` (exclusive), and
    the columns likewise.

    Parameters
    ----------
    cells : Sequence or torch.Tensor
        ``(..., 2)`` cells ``(row, column)``.
    feature_size : tuple of int
        ``(h, w)`` of the feature map.
    image_size : tuple of int
        ``(H, W)`` of the image.

    Returns
    -------
    torch.Tensor
        ``(..., 4)`` int64 boxes ``(top, left, bottom, right)``, bottom/right exclusive.
    """
    c_in = torch.as_tensor(cells).long()
    c = _cells(c_in).double()
    (h, w), (hh, ww) = feature_size, image_size
    top, left = (c[:, 0] * hh / h).floor(), (c[:, 1] * ww / w).floor()
    bottom, right = ((c[:, 0] + 1) * hh / h).ceil(), ((c[:, 1] + 1) * ww / w).ceil()
    return torch.stack([top, left, bottom, right], 1).long().reshape(*c_in.shape[:-1], 4)


def mass_inside(maps: torch.Tensor, boxes) -> torch.Tensor:
    """The share of each map's mass inside its box: ``sum(map in box) / sum(map)``.

    Parameters
    ----------
    maps : torch.Tensor
        ``(..., H, W)`` maps >= 0 (e.g. ``(g, g, H, W)`` of
        :func:`lotslib.lots_variants.location_maps`).
    boxes : torch.Tensor or Sequence
        ``(..., 4)`` boxes ``(top, left, bottom, right)``, bottom/right exclusive, the leading
        shape that of ``maps`` (or one box for all).

    Returns
    -------
    torch.Tensor
        ``(...)`` float shares in [0,1]; NaN for an all-zero map (it has no mass to place).

    Raises
    ------
    lotslib.errors.ParameterError
        The leading shapes of ``maps`` and ``boxes`` differ, or a map has negative values.
    """
    m = torch.as_tensor(maps).double()
    b = torch.as_tensor(boxes).long()
    lead = m.shape[:-2]
    if b.shape[:-1] != lead:
        if b.numel() != 4:
            raise ParameterError(f"boxes {tuple(b.shape)} do not match maps {tuple(m.shape)}: "
                                 f"give one (top, left, bottom, right) per map.")
        b = b.reshape(4).expand(*lead, 4)
    if (m < 0).any():
        raise ParameterError("maps have negative values; the mass share needs maps >= 0 (e.g. in [0,1]).")
    hh, ww = m.shape[-2:]
    rows = torch.arange(hh).view(*([1] * len(lead)), hh, 1)
    cols = torch.arange(ww).view(*([1] * len(lead)), 1, ww)

    def edge(i):
        return b[..., i].view(*lead, 1, 1)

    inside = (rows >= edge(0)) & (rows < edge(2)) & (cols >= edge(1)) & (cols < edge(3))
    total = m.sum((-2, -1))
    share = (m * inside).sum((-2, -1)) / total
    return torch.where(total > 0, share, torch.full_like(share, float("nan"))).float()
