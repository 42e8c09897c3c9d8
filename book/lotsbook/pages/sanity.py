"""Chapter 8, "Sanity checks" (``notebooks/08_sanity.py``): maps of a randomisation cascade,
the similarity curves, the LOTS map of every cell of the location grid, and a Focus mosaic.

The checks themselves are in :mod:`lotslib.sanity` and :mod:`lotslib.focus`; this module only
draws their results. Pixels ``(N,3,H,W)`` in [0,1] in; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch

from lotslib.focus import FocusResult
from lotslib.method_registry import ALL_METHODS
from lotslib.sanity import CascadeResult, randomisation_summary
from lotslib.visualize import overlay

from ..plots import panel_grid, short_class

__all__ = ["randomisation_figure", "similarity_figure", "location_figure", "focus_figure"]


def location_figure(x: torch.Tensor, maps: torch.Tensor, rf_boxes: torch.Tensor, cell_boxes: torch.Tensor,
                    size: float = 1.05):
    """The LOTS map of every cell of the grid, each over the photo, with its two boxes.

    Parameters
    ----------
    x : torch.Tensor
        ``(1,3,H,W)`` the photo, pixels in [0,1].
    maps : torch.Tensor
        ``(gh, gw, H, W)`` maps in [0,1], one per cell.
    rf_boxes, cell_boxes : torch.Tensor
        ``(gh, gw, 4)`` boxes ``(top, left, bottom, right)``: the receptive fields (dashed white)
        and the cells' upsampled areas (solid black).
    size : float
        Inches per panel (default 1.05).

    Returns
    -------
    matplotlib.figure.Figure
        A ``gh x gw`` grid of panels in the cells' layout.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle


    gh, gw = maps.shape[:2]
    fig, axes = plt.subplots(gh, gw, figsize=(gw * size, gh * size), squeeze=False)
    for i in range(gh):
        for j in range(gw):
            ax = axes[i, j]
            ax.imshow(overlay(x[:1].cpu(), maps[i, j][None])[0].permute(1, 2, 0).numpy())
            for b, style in ((rf_boxes[i, j], dict(ec="white", ls="--")), (cell_boxes[i, j], dict(ec="black", ls="-"))):
                t, le, bo, r = [int(v) for v in b]
                ax.add_patch(Rectangle((le - 0.5, t - 0.5), r - le, bo - t, fill=False, lw=0.9, **style))
            ax.set_axis_off()
    fig.subplots_adjust(wspace=0.04, hspace=0.04, left=0, right=1, top=1, bottom=0)
    return fig


def randomisation_figure(x: torch.Tensor, result: CascadeResult, image: int = 0, methods: Sequence[str] | None = None,
                         size: float = 1.45):
    """Adebayo et al.'s Figure 2 for one image: one row per method, one column per step.

    Parameters
    ----------
    x : torch.Tensor
        The ``(N,3,H,W)`` images of the test (pixels in [0,1]).
    result : lotslib.sanity.CascadeResult
        The test's result.
    image : int
        Which image of the batch (default 0).
    methods : Sequence of str or None
        The rows (default: every method of the test).
    size : float
        Inches per panel (default 1.45).

    Returns
    -------
    matplotlib.figure.Figure
        The maps laid over the image (jet), titled with the step's deepest randomised unit.
    """

    methods = list(methods or result.maps[0])
    steps = sorted(result.maps)
    panels = []
    for m in methods:
        for s in steps:
            panels.append({"image": overlay(x[image : image + 1].cpu(), result.maps[s][m][image][None])[0],
                           "title": result.labels[s] if m == methods[0] else ""})
    return panel_grid(panels, len(steps), size=size, title_size=7,
                      row_labels=[ALL_METHODS[m].name for m in methods])


def similarity_figure(rows: pd.DataFrame):
    """The similarity curves of the test: Spearman and SSIM against the original map, per method.

    Parameters
    ----------
    rows : pandas.DataFrame
        The cascade's similarity rows (:attr:`lotslib.sanity.CascadeResult.rows`).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (Spearman's rho, SSIM); x: the randomisation steps (labelled by the deepest
        unit randomised), y: the mean over the images, one line per method.
    """
    import matplotlib.pyplot as plt

    s = randomisation_summary(rows).reset_index()
    labels = list(dict.fromkeys(s.sort_values("step")["label"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    styles = ["-", "--", "-.", ":"]
    for k, (name, d) in enumerate(s.groupby("method_name", sort=False)):
        d = d.sort_values("step")
        for ax, col in zip(axes, ("spearman", "ssim")):
            ax.plot(d["step"], d[col], styles[k % len(styles)], marker="o", ms=3, label=name)
    for ax, title in zip(axes, ("Spearman's ρ with the original map", "SSIM with the original map")):
        ax.set_title(title)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=7)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_ylim(-0.35, 1.05)
        ax.set_xlabel("randomised from the logits down to")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def focus_figure(result: FocusResult, pair: int = 0, methods: Sequence[str] | None = None, ncols: int = 5,
                 class_names: Sequence[str] | None = None):
    """One mosaic and every method's map for one of its classes, titled with the Focus.

    Parameters
    ----------
    result : lotslib.focus.FocusResult
        The study's result.
    pair : int
        Which (mosaic, class) pair (default 0: the first mosaic's top-left class).
    methods : Sequence of str or None
        The methods (default: every method of the study).
    ncols : int
        Panels per row (default 5).
    class_names : Sequence of str or None
        The 1000 class names (``model.categories``) for the title; default None: indices.

    Returns
    -------
    matplotlib.figure.Figure
        The mosaic, then each method's map laid over it.
    """

    r = result.rows
    row = r[r["pair"] == pair].iloc[0]
    k, c = int(row["mosaic"]), int(row["class"])
    x = result.mosaics.x[k : k + 1]
    name = short_class(class_names[c], 18) if class_names is not None else f"class {c}"
    panels = [{"image": x[0], "title": f"mosaic; explained: {name} ({row['quadrants']})"}]
    for m in list(methods or result.maps):
        f = float(r[(r["method"] == m) & (r["pair"] == pair)]["focus"].iloc[0])
        panels.append({"image": overlay(x, result.maps[m][pair][None])[0], "title": f"{ALL_METHODS[m].name}: {f:.0f}%"})
    return panel_grid(panels, ncols, size=2.0)
