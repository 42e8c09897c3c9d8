"""Chapter 5, "Qualitative comparison" (``notebooks/05_qualitative.py``): the choice of its
images, the paired grids of maps (method against method, backbone against backbone) and the
exercises' figure and table.

Images ``(N,3,H,W)`` in [0,1]; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..plots import BAR_BAND_IN, COLUMN_IN, TITLE_PT, add_colorbars, as_image, methods_figure, short_class, show

__all__ = ["first_of_classes", "random_subset", "class_titles", "paired_grid", "model_pair_grid", "show_all_methods",
           "show_random_grids", "show_model_pair",
           "overlap_summary", "show_overlap_summary"]


def first_of_classes(source, classes=(130, 129)):
    """One image of ``source``, chosen by its label.

    Parameters
    ----------
    source : lotslib.data.ImageSource
        The images to choose from (unlabelled images never match).
    classes : sequence of int
        ImageNet class indices in [0, 1000), in order of preference (130 flamingo, 129 spoonbill).

    Returns
    -------
    lotslib.data.ImageSource
        The first image whose label is ``classes[0]``, failing that ``classes[1]`` ..., failing
        all the first image of ``source``.
    """
    pick = next((i for lab in classes for i, label in enumerate(source.labels) if label == lab), 0)
    return source[pick : pick + 1]


def random_subset(images, n: int, rng):
    """Images drawn at random, without replacement.

    Parameters
    ----------
    images : lotslib.data.ImageSource
        The images to draw from.
    n : int
        How many (at most ``len(images)``).
    rng : numpy.random.Generator
        Draws one permutation of ``len(images)``.

    Returns
    -------
    lotslib.data.ImageSource
        ``min(n, len(images))`` images, in their order in ``images``.
    """
    n = min(n, len(images))
    idx = sorted(rng.permutation(len(images))[:n].tolist())
    return images.select([images.ids[i] for i in idx])


def class_titles(model, classes, n: int = 16) -> list[str]:
    """Panel titles: the short names of classes.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Its ``categories`` name the classes.
    classes : sequence of int or torch.Tensor
        ``(N,)`` class indices in [0, 1000).
    n : int
        The longest title (:func:`lotsbook.plots.short_class`).

    Returns
    -------
    list of str
        ``N`` titles.
    """
    return [short_class(model.categories[int(k)], n) for k in classes]


def paired_grid(x, maps_a, maps_b, titles_a: Sequence[str], titles_b: Sequence[str], label_a: str, label_b: str,
                ncols: int = 3, x_b=None):
    """Thesis Figures 5.3-5.5: each image's two maps side by side, image after image.

    Parameters
    ----------
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    maps_a : torch.Tensor
        The maps of the left column of each pair, ``(N,H,W)`` in [0,1].
    maps_b : torch.Tensor
        The maps of the right column of each pair, ``(N,H,W)`` in [0,1].
    titles_a : list of str
        A title per image, over its left panel.
    titles_b : list of str
        A title per image, over its right panel (where it equals ``titles_a``, one title is
        centred over the pair).
    label_a : str
        The heading of every left column (e.g. the method).
    label_b : str
        The heading of every right column.
    ncols : int, optional
        Images (pairs of panels) per row (default 3: six panels, as wide as the page).
    x_b : torch.Tensor or None, optional
        The images as the second model saw them, ``(N,3,H,W)`` in [0,1], if different
        (default None: ``x``).

    Returns
    -------
    matplotlib.figure.Figure
        One pair of heat-map panels per image (``maps_a`` left, ``maps_b`` right, jet over the
        image), ``ncols`` pairs a row with a gap between pairs, the columns' headings on top and
        the jet colour bar below.
    """
    import textwrap

    import matplotlib.pyplot as plt

    from lotslib.visualize import overlay

    x_b = x if x_b is None else x_b
    n = len(x)
    per = max(1, min(ncols, n))
    rows = -(-n // per)
    gap, pad, title_h = 0.25, 0.05, 0.26  # inches: between pairs, at the sides, the images' titles
    size = min(2.2, (COLUMN_IN - (per - 1) * gap - 2 * pad) / (2 * per))
    width = 2 * per * size + (per - 1) * gap + 2 * pad
    chars = max(8, int(size * 72 / (0.6 * TITLE_PT)))  # about what fits over one panel
    headings = [textwrap.fill(label, chars) for label in (label_a, label_b)]
    head = 0.05 + 0.18 * max(h.count("\n") + 1 for h in headings)
    height = head + rows * (title_h + size) + BAR_BAND_IN
    fig = plt.figure(figsize=(width, height))
    overlays = (overlay(x, torch.as_tensor(maps_a)), overlay(x_b, torch.as_tensor(maps_b)))
    for i in range(n):
        r, c = divmod(i, per)
        left, top = pad + c * (2 * size + gap), head + r * (title_h + size) + title_h  # inches from the top left
        for j, ov in enumerate(overlays):
            ax = fig.add_axes(((left + j * size) / width, 1 - (top + size) / height, size / width, size / height))
            ax.imshow(as_image(ov[i]))
            ax.set_axis_off()
            if r == 0:
                fig.text((left + (j + 0.5) * size) / width, 1 - 0.02 / height, headings[j], ha="center", va="top",
                         fontsize=TITLE_PT, fontweight="bold")
        y = 1 - (top - 0.05) / height
        if titles_a[i] == titles_b[i]:
            fig.text((left + size) / width, y, titles_a[i], ha="center", va="bottom", fontsize=TITLE_PT)
        else:
            for j, t in enumerate((titles_a[i], titles_b[i])):
                fig.text((left + (j + 0.5) * size) / width, y, t, ha="center", va="bottom", fontsize=TITLE_PT)
    add_colorbars(fig, ["jet"])
    return fig


def model_pair_grid(x_a, maps_a, x_b, maps_b, titles_a: Sequence[str], titles_b: Sequence[str], label_a: str,
                    label_b: str, ncols: int = 3):
    """Thesis Figure 5.5: the same images explained on two models, side by side as :func:`paired_grid`.

    Parameters
    ----------
    x_a, x_b : torch.Tensor
        ``(N,3,H,W)`` and ``(N,3,H',W')`` in [0,1]: the images as each model saw them.
    maps_a, maps_b : torch.Tensor
        ``(N,H,W)`` and ``(N,H',W')`` maps in [0,1].
    titles_a, titles_b : sequence of str
        One title per image and model.
    label_a, label_b : str
        The halves' headings.
    ncols : int
        Images (pairs of panels) per row.

    Returns
    -------
    matplotlib.figure.Figure
        Where the input sizes differ, both halves show ``x_a`` and ``maps_b`` is resized
        (bilinear, clamped to [0,1]) to its size.
    """
    if x_a.shape != x_b.shape:
        maps_b = torch.nn.functional.interpolate(maps_b[:, None], size=x_a.shape[-2:], mode="bilinear",
                                                 align_corners=False)[:, 0].clamp(0, 1)
        x_b = x_a
    return paired_grid(x_a, maps_a, maps_b, titles_a, titles_b, label_a, label_b, ncols=ncols, x_b=x_b)


# ------------------------------------------------------------------ the page's figures, with their captions
def show_all_methods(ctx, one) -> None:
    """Show thesis Figure 5.2 (and A.1-A.3) on each backbone: one image, its top-1 class, every
    CAM method's map and LOTS's.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (``backbones``, ``iters``, ``filter_size``, ``batch_size``).
    one : lotslib.data.ImageSource
        The one image (:func:`first_of_classes`).
    """
    from ..results import cam_maps, top1

    thesis_fig = {0: ("5.2", "AlexNet"), 1: ("A.1", "ResNet-50"), 2: ("A.2", "DenseNet-121"),
                  3: ("A.3", "ConvNeXt Tiny")}
    for k, net in enumerate(map(ctx.model, ctx.backbones)):
        x = one.batch(net).to(ctx.device)
        c, p = top1(net, x)
        maps = {**cam_maps(net, x, c, ctx.batch_size), "LOTS": ctx.lots_maps(net, one, x=x)[0]}
        fig_no, thesis_net = thesis_fig.get(k, (f"A.{k}", "another backbone"))
        show(
            methods_figure(x, maps, first_title=f"{short_class(net.categories[int(c)])} {100 * float(p):.1f}%"),
            f"fig-{fig_no.lower().replace('.', '-')}",
            f"**Regenerates thesis Figure {fig_no}** (there: {thesis_net}, a flamingo). {net.name} on {one[0].id}: (a) "
            f"the image with its top-1 class and confidence; (b)–(g) the six CAM methods' heat-maps for that class "
            f"(Random-CAM is the baseline); (h) LOTS, zero target, at most {ctx.iters} iterations, {ctx.filter_size} × "
            f"{ctx.filter_size} blur.",
        )


def show_random_grids(ctx, rng) -> dict:
    """Show thesis Figures 5.3 and 5.4: HiRes-CAM beside LOTS on each image, images drawn at random.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (``images``, ``n_grid``, ``n_grid_large``, the models).
    rng : numpy.random.Generator
        Draws the images (:func:`random_subset`), one draw per figure.

    Returns
    -------
    dict
        ``{"Figure 5.3 (model)": (N,) overlaps}``: per image shown, the overlap of the top 10%
        of LOTS's and HiRes-CAM's maps (:func:`lotslib.studies.top_overlap`), in [0,1].
    """
    from lotslib import explain
    from lotslib.studies import top_overlap

    from ..results import top1

    images, overlaps = ctx.images, {}
    for fig_no, name, n, thesis_n, thesis_net in (("5.3", ctx.params["model"], ctx.n_grid, 15, "ResNet-50"),
                                                  ("5.4", ctx.compare_models[0], ctx.n_grid_large, 35, "DenseNet-121")):
        net, src = ctx.model(name), random_subset(images, n, rng)
        x = src.batch(net).to(ctx.device)
        c, _ = top1(net, x)
        titles = class_titles(net, c)
        hires = explain("hirescam", net, x, targets=c, batch_size=ctx.batch_size)
        lots = ctx.lots_maps(net, src, x=x)
        overlaps[f"Figure {fig_no} ({net.name})"] = top_overlap(lots, hires)
        grid = paired_grid(x, hires, lots, titles, titles, "HiRes-CAM", "LOTS, zero target")
        caption = (f"**Regenerates thesis Figure {fig_no}** (there: {thesis_n} images on {thesis_net}). LOTS at most "
                   f"{ctx.iters} iterations. {len(src)} "
                   f"images drawn at random (seed {ctx.seed}) from the {len(images)} images of this run, "
                   f"on {net.name}: for each image HiRes-CAM for the top-1 class (left) beside LOTS with the zero "
                   f"target (right), titles are the top-1 classes.")
        show(grid, f"fig-{fig_no.replace('.', '-')}", caption)
    return overlaps


def overlap_summary(overlaps: dict, fraction: float = 0.1) -> str:
    """What the grids show, written from the numbers: how far LOTS's and HiRes-CAM's strongest
    regions coincide on each figure's images.

    Parameters
    ----------
    overlaps : dict
        Figure label -> ``(N,)`` overlaps in [0,1] (:func:`show_random_grids`,
        :func:`lotslib.studies.top_overlap`).
    fraction : float, optional
        The share of each map compared (default 0.1: the top 10%).

    Returns
    -------
    str
        Per figure: n, the median and range of the overlap, and the random maps' expected overlap
        ``fraction / (2 − fraction)`` beside it; a statement about how many images lie above that
        level only from :data:`lotslib.verdicts.MIN_PAIRS` images on.
    """
    import numpy as np

    from lotslib.verdicts import too_few

    chance = fraction / (2 - fraction)
    out = []
    for label, v in overlaps.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            out.append(f"{label}: no image.")
            continue
        text = (f"{label}, n = {len(v)}: the top {100 * fraction:.0f}% of LOTS's map and of HiRes-CAM's overlap by "
                f"a median intersection over union of {np.median(v):.2f} (range {v.min():.2f}–{v.max():.2f}; "
                f"1 = the same pixels, two unrelated random maps {chance:.2f})")
        few = too_few(len(v))
        above = int((v > chance).sum())
        text += (f"; {few}: no general statement." if few else
                 f"; {above} of {len(v)} images lie above the random level.")
        out.append(text)
    return " ".join(out)


def show_overlap_summary(overlaps: dict) -> None:
    """Show :func:`overlap_summary` of the grids' overlaps."""
    from ..plots import note

    note(overlap_summary(overlaps))


def show_model_pair(ctx, rng) -> None:
    """Show thesis Figure 5.5: LOTS on two backbones (``ctx.compare_models``) on the same random images.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context.
    rng : numpy.random.Generator
        Draws the images (:func:`random_subset`).
    """
    from ..results import top1

    a, b = ctx.model(ctx.compare_models[0]), ctx.model(ctx.compare_models[1])
    src = random_subset(ctx.images, ctx.n_grid_large, rng)
    xa, xb = src.batch(a).to(ctx.device), src.batch(b).to(ctx.device)
    (ca, _), (cb, _) = top1(a, xa), top1(b, xb)
    same = float((ca == cb).float().mean()) * 100
    show(
        model_pair_grid(xa, ctx.lots_maps(a, src, x=xa, iters=ctx.figure_iters), xb,
                        ctx.lots_maps(b, src, x=xb, iters=ctx.figure_iters), class_titles(a, ca),
                        class_titles(b, cb), f"LOTS on {a.name}", f"LOTS on {b.name}"),
        "fig-5-5",
        f"**Regenerates thesis Figure 5.5** (there: 35 images, DenseNet-121 against ConvNeXt Tiny). "
        f"The same {len(src)} images with LOTS (zero target, at most {ctx.figure_iters} iterations on both backbones: "
        f"the second one has no protocol run, and at this budget {a.name}'s maps are snapshots of its "
        f"{ctx.iters}-iteration runs) on {a.name} (left of each pair) and {b.name} (right); titles are each model's "
        f"top-1 class — they agree on {same:.0f}% of the images."
        + (f" {b.name}'s maps were resized to {a.name}'s input size." if xa.shape != xb.shape else ""),
    )


