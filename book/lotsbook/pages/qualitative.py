"""Chapter 5, "Qualitative comparison" (``notebooks/05_qualitative.py``): the choice of its
images and the paired grids of maps (method against method, backbone against backbone).

Images ``(N,3,H,W)`` in [0,1]; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..plots import as_image, short_class

__all__ = ["first_of_classes", "random_subset", "class_titles", "paired_grid", "model_pair_grid"]


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
                ncols: int = 5, x_b=None):
    """Thesis Figures 5.3-5.5: the same images twice, with two sets of maps.

    Parameters
    ----------
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    maps_a : torch.Tensor
        The maps of the top half, ``(N,H,W)`` in [0,1].
    maps_b : torch.Tensor
        The maps of the bottom half, ``(N,H,W)`` in [0,1].
    titles_a : list of str
        A title per image of the top half.
    titles_b : list of str
        A title per image of the bottom half.
    label_a : str
        The label of the top half.
    label_b : str
        The label of the bottom half.
    ncols : int, optional
        Number of columns (default 5).
    x_b : torch.Tensor or None, optional
        The images as the second model saw them, ``(N,3,H,W)`` in [0,1], if different
        (default None: ``x``).

    Returns
    -------
    matplotlib.figure.Figure
        Top half with ``maps_a``, bottom half with ``maps_b``.
    """
    import matplotlib.pyplot as plt

    from lotslib.visualize import overlay

    x_b = x if x_b is None else x_b
    n = len(x)
    ncols = min(ncols, n)
    rows = -(-n // ncols)
    size = 2.0
    fig = plt.figure(figsize=(ncols * size, 2 * rows * (size + 0.25) + 0.6))
    sub = fig.subfigures(2, 1, hspace=0.02)
    halves = ((x, maps_a, titles_a, label_a), (x_b, maps_b, titles_b, label_b))
    for half, (xs, maps, titles, label) in enumerate(halves):
        sub[half].suptitle(label, fontsize=10, fontweight="bold")
        axes = sub[half].subplots(rows, ncols, squeeze=False)
        ov = overlay(xs, torch.as_tensor(maps))
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < n:
                ax.imshow(as_image(ov[k]))
                ax.set_title(titles[k], fontsize=7)
    return fig


def model_pair_grid(x_a, maps_a, x_b, maps_b, titles_a: Sequence[str], titles_b: Sequence[str], label_a: str,
                    label_b: str, ncols: int = 5):
    """Thesis Figure 5.5: the same images explained on two models, as :func:`paired_grid`.

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
        Panels per row.

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
