"""Chapter 2, "From perturbation to activation map" (``notebooks/02_visualization.py``):
Figure 4.2, the filter-size and threshold figures, and their tables.

Images ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` or ``(1,H,W)`` in [0,1].
"""
from __future__ import annotations

import pandas as pd
import torch

from lotslib.params import LotsParams

from ..plots import panel_grid
from ..results import concentration

__all__ = ["map_concentration", "threshold_confidence", "figure_4_2", "filter_size_figure", "threshold_figure"]


def map_concentration(x: torch.Tensor, x_adv: torch.Tensor, sizes) -> pd.DataFrame:
    """How concentrated the LOTS map (Algorithm 2) of one image is for each Gaussian filter size.

    Parameters
    ----------
    x, x_adv : torch.Tensor
        The image and its LOTS adversarial, ``(1,3,H,W)`` in [0,1].
    sizes : sequence of int
        Odd filter sizes (1 = no blur).

    Returns
    -------
    pandas.DataFrame
        Index ``filter size``; columns "pixels holding 50% of the map (%)" (:func:`lotsbook.results.concentration`)
        and "pixels above 0.5 (%)", both in [0,100].
    """
    from lotslib.visualize import lots_map

    maps = {s: lots_map(x, x_adv, s)[0] for s in sizes}
    return pd.DataFrame({
        "filter size": list(sizes),
        "pixels holding 50% of the map (%)": [100 * concentration(maps[s]) for s in sizes],
        "pixels above 0.5 (%)": [100 * float((maps[s] > 0.5).float().mean()) for s in sizes],
    }).set_index("filter size")


def threshold_confidence(model, x: torch.Tensor, m: torch.Tensor, quantiles, cls: int) -> tuple[pd.DataFrame, float]:
    """The confidence of ``model`` in class ``cls`` on the explanation maps ``x ⊙ map`` of
    the thresholded map (:func:`lotslib.visualize.threshold_map`; ``q = 0``: the map itself),
    and the drop of Average Drop for this image (:func:`lotslib.metrics.confidence_change`).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (pixels in [0,1] -> logits).
    x, m : torch.Tensor
        One image ``(1,3,H,W)`` in [0,1] and its map ``(1,H,W)`` in [0,1].
    quantiles : sequence of float
        Per-image quantiles in [0,1).
    cls : int
        The explained class.

    Returns
    -------
    table : pandas.DataFrame
        Index ``quantile q``; "pixels kept (%)", "confidence on x ⊙ map (%)" and "drop (%)",
        all in [0,100].
    confidence : float
        The probability of ``cls`` on the image, in [0,1].
    """
    from lotslib.metrics import confidence_change
    from lotslib.visualize import threshold_map

    rows, y = [], None
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        c = confidence_change(model, x, mq, [cls], batch_size=1)
        y = float(c.y[0])
        rows.append({"quantile q": f"{q:.1f}", "pixels kept (%)": 100 * float((mq > 0).float().mean()),
                     "confidence on x ⊙ map (%)": 100 * float(c.o[0]), "drop (%)": float(c.drop[0])})
    return pd.DataFrame(rows).set_index("quantile q"), y


def figure_4_2(x, x_adv, filter_size: int = LotsParams.filter_size):
    """Thesis Figure 4.2 (a)-(h): the steps of Algorithm 2 on one image.

    Parameters
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` float in [0,1].
    x_adv : torch.Tensor
        Its adversarial image, ``(1,3,H,W)`` float in [0,1].
    filter_size : int, optional
        The blur filter size (default 49).

    Returns
    -------
    matplotlib.figure.Figure
        The eight panels.
    """
    from lotslib.visualize import explanation_map, gaussian_blur, lots_map, minmax, overlay, to_gray

    g0, g1 = to_gray(x), to_gray(x_adv)
    pert = minmax((g1 - g0).abs())
    blurred = minmax(gaussian_blur(pert, filter_size))
    amap = lots_map(x, x_adv, filter_size)
    panels = [
        {"image": x[0], "title": "original"},
        {"image": x_adv[0], "title": "adversarial (LOTS)"},
        {"image": g0[0], "title": "original, grayscale"},
        {"image": g1[0], "title": "adversarial, grayscale"},
        {"image": pert[0], "title": "|difference|, min-max"},
        {"image": blurred[0], "title": f"Gaussian blur {filter_size}×{filter_size}"},
        {"image": explanation_map(x, amap)[0], "title": "explanation map x ⊙ map"},
        {"image": overlay(x, amap)[0], "title": "activation heat-map"},
    ]
    return panel_grid(panels, 4, size=2.4, letters=True)


def filter_size_figure(x, x_adv, sizes=(49, 25, 13, 7, 3, 1)):
    """Thesis Figure 5.6: the LOTS map of one image with decreasing blur filter sizes.

    Parameters
    ----------
    x, x_adv
        The image and its adversarial image, as in :func:`figure_4_2`.
    sizes : Sequence of int, optional
        The filter sizes, one panel each (default ``(49, 25, 13, 7, 3, 1)``).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per filter size.
    """
    from lotslib.visualize import lots_map, overlay

    panels = [{"image": x[0], "title": "original"}]
    for s in sizes:
        title = f"filter {s}×{s}" + (" (no blur)" if s == 1 else "")
        panels.append({"image": overlay(x, lots_map(x, x_adv, s))[0], "title": title})
    panels.append({"image": lots_map(x, x_adv, sizes[-1])[0], "title": f"raw map, filter {sizes[-1]}",
                   "cmap": "inferno"})
    return panel_grid(panels, 4, size=2.4, letters=True)


def threshold_figure(x, m, quantiles=(0.0, 0.5, 0.8, 0.9)):
    """The post-processing of thesis section 6.2 on one LOTS map.

    Parameters
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` float in [0,1].
    m : torch.Tensor
        Its LOTS map, ``(1,H,W)`` or ``(H,W)`` in [0,1].
    quantiles : Sequence of float, optional
        The per-image quantiles ``q`` in [0,1], one panel each (default ``(0.0, 0.5, 0.8, 0.9)``).

    Returns
    -------
    matplotlib.figure.Figure
        Per panel, only the activations above the quantile ``q`` of the map are kept (q = 0 is
        the unthresholded map).
    """
    from lotslib.visualize import explanation_map, overlay, threshold_map

    panels = []
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        lab = "no threshold" if q == 0 else f"keep top {100 - 100 * q:.0f}%"
        panels.append({"image": overlay(x, mq)[0], "title": lab})
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        panels.append({"image": explanation_map(x, mq)[0], "title": "explanation map"})
    return panel_grid(panels, len(quantiles), size=2.4, letters=True)
