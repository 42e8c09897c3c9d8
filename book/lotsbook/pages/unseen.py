"""Chapter 6, "Objects without an ImageNet class" (``notebooks/06_unseen.py``): the photos'
top-k classes, Figure 5.7's maps and the distances to each LOTS target.

Images ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd
import torch

from lotslib.params import LotsParams

from ..plots import panel_grid, short_class
from ..results import cam_maps

__all__ = ["top_k_table", "extracted_target_maps", "distance_table", "figure_5_7"]


def top_k_table(model, xs: dict, k: int = 5) -> pd.DataFrame:
    """The ``k`` most probable ImageNet classes of ``model`` for each image.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    xs : dict
        ``{image id: (1,3,H,W) tensor in [0,1]}``, in the table's row order.
    k : int
        Classes per image (1..1000).

    Returns
    -------
    pandas.DataFrame
        Index ``photo`` (the ids), columns ``top-1`` .. ``top-k``: "class (probability %)".
    """

    rows = []
    for pid, x in xs.items():
        with torch.no_grad():
            p = model(x).softmax(1)[0]
        v, c = p.topk(k)
        top = {f"top-{j + 1}": f"{short_class(model.categories[int(ci)])} ({100 * float(q):.1f}%)"
               for j, (q, ci) in enumerate(zip(v, c))}
        rows.append({"photo": pid, **top})
    return pd.DataFrame(rows).set_index("photo")


def extracted_target_maps(model, x: torch.Tensor, runs: dict, filter_size: int = LotsParams.filter_size,
                          batch_size: int | None = None):
    """Thesis Figure 5.7's maps of one image: LOTS with the extracted and with the zero
    target, and the CAM methods but Random-CAM for the top-1 class.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    x : torch.Tensor
        One image ``(1,3,H,W)`` in [0,1].
    runs : dict
        ``{"extracted": LotsResult, "zero": LotsResult}`` of the image.
    filter_size : int
        Gaussian filter of Algorithm 2.
    batch_size : int or None
        Images per chunk of the CAM methods.

    Returns
    -------
    maps : dict
        ``{panel title: (H,W) map in [0,1]}``.
    classes : torch.Tensor
        ``(1,)`` the top-1 class (argmax of the logits).
    """
    from lotslib.visualize import lots_map

    with torch.no_grad():
        c = model(x).argmax(1)
    maps = {"LOTS, extracted target": lots_map(x, runs["extracted"].x_adv.to(x.device), filter_size)[0],
            "LOTS, zero target": lots_map(x, runs["zero"].x_adv.to(x.device), filter_size)[0]}
    maps.update(cam_maps(model, x, c, batch_size, skip=("random",)))
    return maps, c


def distance_table(runs: dict) -> pd.DataFrame:
    """The distance of the logits to each LOTS target before and after the attack.

    Parameters
    ----------
    runs : dict
        ``{image id: {target name: LotsResult of that one image}}``.

    Returns
    -------
    pandas.DataFrame
        Index (``photo``, ``target``); ``distance before``, ``distance after`` (>= 0),
        ``iterations`` and ``reached τ`` ("yes"/"no").
    """
    rows = []
    for pid, by_target in runs.items():
        for lab, r in by_target.items():
            rows.append({"photo": pid, "target": lab, "distance before": float(r.trace.distances[0][0]),
                         "distance after": float(r.trace.final_distance[0]), "iterations": int(r.trace.iterations[0]),
                         "reached τ": "yes" if bool(r.trace.converged[0]) else "no"})
    return pd.DataFrame(rows).set_index(["photo", "target"])


def figure_5_7(x, x_target, maps: Mapping[str, torch.Tensor], title: str, target_title: str, ncols: int = 5):
    """Thesis Figure 5.7: (a) the image, (b) the image whose features are the LOTS target,
    then each method's heat-map on (a)."""
    from lotslib.visualize import overlay

    panels = [{"image": x[0], "title": title}, {"image": x_target[0], "title": target_title}]
    for name, m in maps.items():
        m = torch.as_tensor(m)
        m = m if m.dim() == 3 else m[None]
        panels.append({"image": overlay(x, m)[0], "title": name})
    return panel_grid(panels, ncols, size=2.4, letters=True)
