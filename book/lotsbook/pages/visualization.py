"""Chapter 2, "From perturbation to activation map" (``notebooks/02_visualization.py``):
Figure 4.2, the filter-size and threshold figures, their tables and captions, and the
exercises' figure and sentences.

Images ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` or ``(1,H,W)`` in [0,1].
"""
from __future__ import annotations

import pandas as pd
import torch

from lotslib.params import LotsParams

from ..plots import map_panel, note, panel_grid, short_class, show, table
from ..results import concentration, top1

__all__ = ["map_concentration", "threshold_confidence", "figure_4_2", "filter_size_figure", "threshold_figure",
           "FILTER_SIZES", "QUANTILES", "show_figure_4_2", "show_figure_5_6", "show_threshold", "threshold_summary",
           "show_threshold_summary"]


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
        The eight panels; a gray colour bar for (e), (f) and a jet one for (h).
    """
    from lotslib.visualize import explanation_map, gaussian_blur, lots_map, minmax, to_gray

    g0, g1 = to_gray(x), to_gray(x_adv)
    pert = minmax((g1 - g0).abs())
    blurred = minmax(gaussian_blur(pert, filter_size))
    amap = lots_map(x, x_adv, filter_size)
    panels = [
        {"image": x[0], "title": "original"},
        {"image": x_adv[0], "title": "adversarial (LOTS)"},
        {"image": g0[0], "title": "original, grayscale", "scale": None},  # photos, not maps
        {"image": g1[0], "title": "adversarial, grayscale", "scale": None},
        {"image": pert[0], "title": "|difference|, min-max"},
        {"image": blurred[0], "title": f"Gaussian blur {filter_size}×{filter_size}"},
        {"image": explanation_map(x, amap)[0], "title": "explanation map x ⊙ map"},
        map_panel(x, amap, "activation heat-map"),
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
    from lotslib.visualize import lots_map

    panels = [{"image": x[0], "title": "original"}]
    for s in sizes:
        panels.append(map_panel(x, lots_map(x, x_adv, s), f"filter {s}×{s}" + (" (no blur)" if s == 1 else "")))
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
    from lotslib.visualize import explanation_map, threshold_map

    panels = []
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        panels.append(map_panel(x, mq, "no threshold" if q == 0 else f"keep top {100 - 100 * q:.0f}%"))
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        panels.append({"image": explanation_map(x, mq)[0], "title": "explanation map"})
    return panel_grid(panels, len(quantiles), size=2.4, letters=True)


#: the Gaussian filter sizes of Figure 5.6 (1: no blur)
FILTER_SIZES = (49, 25, 13, 7, 3, 1)
#: the per-image quantiles of the thresholding figure and table (0: no threshold)
QUANTILES = (0.0, 0.5, 0.8, 0.9)


def show_figure_4_2(ctx, net, example, x: torch.Tensor, x_adv: torch.Tensor, res) -> int:
    """Show thesis Figure 4.2 (a)-(h), the steps of Algorithm 2 on the chapter's image, with
    its caption (the image's top-1 class and confidence, the LOTS run's settings).

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its ``filter_size``, ``iters``, ``tau``, ``alpha``).
    net : lotslib.models.ModelWrapper
        The model, with ``name`` and ``categories``.
    example : lotslib.data.ImageSource
        The one image's record.
    x, x_adv : torch.Tensor
        The image and its LOTS adversarial, ``(1,3,H,W)`` in [0,1].
    res : lotslib.attack.LotsResult
        The LOTS run (its iterations go into the caption).

    Returns
    -------
    int
        The image's top-1 class index, the class the later tables explain.
    """
    classes, probs = top1(net, x)
    top = int(classes[0])
    what = f"{example[0].id} (predicted {short_class(net.categories[top])}, {100 * float(probs[0]):.1f}%)"
    show(
        figure_4_2(x, x_adv, ctx.filter_size),
        "fig-4-2",
        f"**Regenerates thesis Figure 4.2 (a)–(h).** The LOTS visualization procedure on {what}, {net.name}: "
        f"(a) original; (b) adversarial image from LOTS (zero target, {int(res.trace.iterations[0])} iterations of at "
        f"most {ctx.iters}, τ = {ctx.tau:g}, α = {ctx.alpha:.4g}); (c), (d) both in grayscale; (e) their absolute "
        f"difference, min-max normalised; (f) after a {ctx.filter_size} × {ctx.filter_size} Gaussian blur and a second "
        f"min-max normalisation: the activation map; "
        f"(g) explanation map, the original multiplied by the map; (h) the map as a heat-map over the original.",
    )
    return top


def show_figure_5_6(net, x: torch.Tensor, x_adv: torch.Tensor, sizes=FILTER_SIZES) -> None:
    """Show thesis Figure 5.6 (the LOTS map of ``(1,3,H,W)`` image ``x`` for decreasing filter
    sizes, :func:`filter_size_figure`) and then the table of how concentrated the map is per
    size (:func:`map_concentration`), each with its caption."""
    show(
        filter_size_figure(x, x_adv, sizes),
        "fig-5-6",
        f"**Regenerates thesis Figure 5.6.** The LOTS activation map of the same image as a heat-map for Gaussian "
        f"filter sizes {', '.join(map(str, sizes))} (panels b–g; 1 means no blur) and, in (h), the unblurred map "
        f"itself. The thesis shows this on DenseNet-121; here {net.name}.",
    )
    table(map_concentration(x, x_adv, sizes),
          "How concentrated the LOTS map is for each filter size (no thesis table; a numeric reading of Figure 5.6).")


def show_threshold(ctx, net, x: torch.Tensor, m: torch.Tensor, top: int, quantiles=QUANTILES) -> pd.DataFrame:
    """Show the thresholding of thesis section 6.2 on one LOTS map: the figure
    (:func:`threshold_figure`) and the table of the model's confidence in class ``top`` on the
    thresholded explanation maps (:func:`threshold_confidence`), each with its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its ``filter_size``).
    net : lotslib.models.ModelWrapper
        The model.
    x : torch.Tensor
        The image ``(1,3,H,W)`` in [0,1].
    m : torch.Tensor
        Its LOTS map ``(1,H,W)`` in [0,1].
    top : int
        The explained class (the image's top-1).
    quantiles : sequence of float, optional
        Per-image quantiles in [0,1) (default :data:`QUANTILES`).

    Returns
    -------
    pandas.DataFrame
        The table (:func:`threshold_confidence`), for :func:`threshold_summary`.
    """
    show(
        threshold_figure(x, m, quantiles),
        "fig-threshold",
        f"**Thresholding proposed in thesis section 6.2 (no thesis figure).** Top row: the LOTS heat-map "
        f"({ctx.filter_size} × {ctx.filter_size} filter) without threshold and keeping only the activations above the "
        f"50%, 80% and 90% quantile of the map; bottom row: the corresponding explanation maps (image × map).",
    )
    kept, p_orig = threshold_confidence(net, x, m, quantiles, top)
    table(kept,
          f"Confidence of {net.name} in its top-1 class ({short_class(net.categories[top])}, "
          f"{100 * float(p_orig):.1f}% on the original) on the explanation maps of the thresholded LOTS maps "
          f"(one image; the drop is the thesis's Average Drop for this image).",
          fmt={"pixels kept (%)": "{:.1f}", "confidence on x ⊙ map (%)": "{:.1f}", "drop (%)": "{:.1f}"})
    return kept


def threshold_summary(kept: pd.DataFrame) -> str:
    """What the thresholding table shows, written from its numbers: whether the drop grows with
    the threshold, and where it does not.

    Parameters
    ----------
    kept : pandas.DataFrame
        :func:`threshold_confidence`'s table of one image: index ``quantile q`` (ascending),
        columns "pixels kept (%)", "confidence on x ⊙ map (%)" and "drop (%)" in [0,100].

    Returns
    -------
    str
        The sentences: the drop at each end, and either that it rises (never falls) as ``q`` grows
        or each step where it falls, with the confidence that makes it fall. One image: a shape,
        never a verdict (:data:`lotslib.verdicts.MIN_PAIRS`).
    """
    from lotslib.verdicts import MIN_PAIRS

    q, drop = list(kept.index), kept["drop (%)"].to_numpy(dtype=float)
    conf, share = kept["confidence on x ⊙ map (%)"].to_numpy(dtype=float), kept["pixels kept (%)"].to_numpy(dtype=float)
    text = (f"On this one image (n = 1, fewer than the {MIN_PAIRS} a verdict needs: this describes the curve, it "
            f"does not generalise), keeping {share[0]:.1f}% down to {share[-1]:.1f}% of the pixels (q = {q[0]} to "
            f"{q[-1]}) takes the drop in confidence from {drop[0]:.1f}% to {drop[-1]:.1f}%.")
    falls = [i for i in range(1, len(drop)) if drop[i] < drop[i - 1] - 0.05]
    if not falls:
        return text + " The drop never falls as the threshold rises: removing weaker activations only removes evidence."
    steps = "; ".join(f"from {drop[i - 1]:.1f}% at q = {q[i - 1]} to {drop[i]:.1f}% at q = {q[i]} (confidence on "
                      f"x ⊙ map {conf[i - 1]:.1f}% → {conf[i]:.1f}%)" for i in falls)
    return (text + f" The curve is not monotonic: the drop falls {steps}: the activations removed there lowered "
            "the model's confidence, so removing them raised it." + (" A drop of 0.0% means the confidence on x ⊙ map "
            "is at least the original's (Average Drop counts no gain)." if (drop == 0).any() else ""))


def show_threshold_summary(kept: pd.DataFrame) -> None:
    """Show :func:`threshold_summary` of the thresholding table ``kept``."""
    note(threshold_summary(kept))


