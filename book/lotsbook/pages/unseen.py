"""Chapter 6, "Objects without an ImageNet class" (``notebooks/06_unseen.py``): the photos'
top-k classes, Figure 5.7 and the distances to each LOTS target with their captions, and the
exercises' figure and sentences.

Images ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd
import torch

from lotslib.params import LotsParams

from ..plots import map_panel, note, panel_grid, short_class, show, table
from ..results import cam_maps

__all__ = ["top_k_table", "extracted_target_maps", "distance_table", "figure_5_7", "CASES", "PHOTO_IDS", "show_top_k",
           "show_figure_5_7", "show_distances", "unseen_summary", "show_unseen_summary"]


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


def figure_5_7(x, x_target, maps: Mapping[str, torch.Tensor], title: str, target_title: str, ncols: int = 3):
    """Thesis Figure 5.7: (a) the image ``(1,3,H,W)``, (b) the image whose features are the
    LOTS target ``(1,3,H,W)``, then each method's heat-map (maps ``(H,W)`` or ``(1,H,W)``, all
    in [0,1]) on (a); ``ncols`` panels a row (default 3: the nine panels of two photos and
    seven maps fill a 3 × 3 grid, 2.6 inches a panel, titles at 10 pt), the jet colour bar below."""
    panels = [{"image": x[0], "title": title}, {"image": x_target[0], "title": target_title}]
    panels += [map_panel(x, m, name) for name, m in maps.items()]
    return panel_grid(panels, ncols, size=2.6, letters=True, title_size=10)


#: the chapter's objects without an ImageNet class: (photo, target photo, photo's title, target's title),
#: all ids of ``lotslib.data.embedded("photos")``
CASES = (
    ("motorcycle_left", "motorcycle_right", "motorcycle, left view", "right view (target)"),
    ("astronaut", "grace_hopper", "person (astronaut)", "another person (target)"),
)
#: every photo of the chapter: the photos of :data:`CASES`, then their target photos
PHOTO_IDS = [c[0] for c in CASES] + [c[1] for c in CASES]


def show_top_k(net, xs: dict, k: int = 5) -> None:
    """Show the top-``k`` ImageNet classes of ``net`` for each photo (:func:`top_k_table`;
    ``xs``: photo id -> ``(1,3,H,W)`` in [0,1]) with its caption."""
    table(top_k_table(net, xs, k),
          f"Top-5 ImageNet classes of {net.name} for the photos of this chapter: none of them has a class of its own")


def show_figure_5_7(ctx, net, photos, xs: dict) -> dict:
    """Run LOTS on each photo of :data:`CASES` with the extracted target (the target photo's
    logits) and with the zero target, and show thesis Figure 5.7 for each, with its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (cached LOTS runs, ``filter_size``, ``batch_size``).
    net : lotslib.models.ModelWrapper
        The backbone.
    photos : lotslib.data.ImageSource
        The embedded photos.
    xs : dict
        Photo id -> pixels ``(1,3,H,W)`` in [0,1], for every id of :data:`PHOTO_IDS`.

    Returns
    -------
    dict
        Photo id -> ``{"extracted": LotsResult, "zero": LotsResult}``.
    """
    from lotslib.targets import image_target

    runs = {}
    for k, (pid, tid, title, ttitle) in enumerate(CASES):
        src, x = photos.select([pid]), xs[pid]
        runs[pid] = {"extracted": ctx.lots(net, src, image_target(net, xs[tid], key=tid), f"image:{tid}", x=x,
                                           iters=ctx.figure_iters),
                     "zero": ctx.lots(net, src, x=x, iters=ctx.figure_iters)}
        maps, c = extracted_target_maps(net, x, runs[pid], ctx.filter_size, ctx.batch_size)
        show(
            figure_5_7(x, xs[tid], maps, title, ttitle),
            f"fig-5-7-{k + 1}",
            f"**Regenerates thesis Figure 5.7** (there: black olives on ConvNeXt Tiny) for a "
            f"{title.split(',')[0].split(' (')[0]}. "
            f"{net.name}, LOTS at most {ctx.figure_iters} iterations (these photos are outside the protocol's runs): "
            f"(a) the photo ({pid}); (b) the photo whose features are the extracted target ({tid}); (c) LOTS "
            f"with the extracted target; (d) LOTS with the zero target; (e)–(i) Grad-CAM, Grad-CAM++, "
            f"SmoothGrad-CAM++, Layer-CAM and HiRes-CAM for the network's top-1 class, "
            f"*{short_class(net.categories[int(c)])}*, the nearest of ImageNet's 1000 classes.",
        )
    return runs


def show_distances(ctx, net, runs: dict) -> None:
    """Show the distance of the logits to each LOTS target before and after the attack
    (:func:`distance_table` of ``runs``, as returned by :func:`show_figure_5_7`) with its caption."""
    table(distance_table(runs),
          f"Distance of the logits to each LOTS target before and after the attack ({net.name}, "
          f"at most {ctx.figure_iters} iterations, τ = {ctx.tau:g})",
          fmt={"distance before": "{:.2f}", "distance after": "{:.2f}", "iterations": "{:d}", "reached τ": "{}"})


def unseen_summary(dist: pd.DataFrame) -> str:
    """What the distance table shows, written from its numbers: per photo, how much of the
    distance to each target the walk removed.

    Parameters
    ----------
    dist : pandas.DataFrame
        :func:`distance_table`: index (``photo``, ``target``), ``distance before`` and ``distance
        after`` (>= 0), ``iterations``, ``reached τ`` ("yes"/"no").

    Returns
    -------
    str
        Per photo the remaining share of each target's distance (after ÷ before, in %); n; which
        target keeps the smaller share on how many photos only from
        :data:`lotslib.verdicts.MIN_PAIRS` photos with both targets on, else "too few images".
    """
    from lotslib.verdicts import too_few

    left = (dist["distance after"] / dist["distance before"]).unstack("target") * 100
    parts = [f"{pid}: " + ", ".join(f"{t} target {dist.loc[(pid, t), 'distance before']:.2f} → "
                                    f"{dist.loc[(pid, t), 'distance after']:.2f} ({v:.0f}% left)"
                                    for t, v in row.dropna().items()) for pid, row in left.iterrows()]
    reached = int((dist["reached τ"] == "yes").sum())
    text = (f"Distance to each target, before → after ({len(left)} photos): " + "; ".join(parts)
            + f". {reached} of {len(dist)} runs reached τ.")
    both = left.dropna()
    few = too_few(len(both))
    if few or not {"extracted", "zero"} <= set(left.columns):
        return text + f" Which target LOTS approaches further is not said: {few or 'one target missing'}."
    k = int((both["extracted"] < both["zero"]).sum())
    return text + (f" The extracted target keeps the smaller share on {k} of {len(both)} photos, the zero target on "
                   f"{len(both) - k}.")


def show_unseen_summary(runs: dict) -> None:
    """Show :func:`unseen_summary` of the runs of :func:`show_figure_5_7`."""
    note(unseen_summary(distance_table(runs)))
