"""Chapter 1, "LOTS on real photos" (``notebooks/01_attack.py``): the distance curves of
the attack, the predictions before and after, Figure 4.1, the sentence on how large and how
concentrated its perturbations are, and the exercises' tables and sentences.

Images ``(N,3,H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..plots import figure_4_1, note, short_class, show, table
from ..results import concentration, predictions

__all__ = ["attack_summary", "show_attack_summary", "perturbation_summary", "distance_figure", "show_distance",
           "show_predictions", "show_figure_4_1", "show_perturbation"]


def perturbation_summary(x: torch.Tensor, x_adv: torch.Tensor) -> dict:
    """How large and how concentrated the LOTS perturbations of a batch are, with a sentence.

    The perturbation of an image is ``|gray(x_adv) - gray(x)|`` (the first steps of
    Algorithm 2, before the blur). Its concentration is :func:`lotsbook.results.concentration` of that
    difference: the fraction of the pixels that holds half of its total magnitude (50 % for
    a perturbation spread evenly over the image).

    Parameters
    ----------
    x, x_adv : torch.Tensor
        The images and their LOTS adversarials, ``(N,3,H,W)`` in [0,1].

    Returns
    -------
    dict
        ``half_mass_pct`` (median over the images of that fraction, in %), ``mean_change``
        and ``max_change`` (the mean and the largest absolute gray-level change, in 1/255
        units, over all images), ``n`` and ``text``: a sentence stating these numbers and
        what they mean (concentrated below 10 %, spread out above 35 %, between them
        like the magnitudes of Gaussian noise, whose largest 27 % hold half the mass;
        invisible at its true scale when the largest change is at most 8/255).
    """
    from lotslib.visualize import to_gray

    d = (to_gray(x_adv.detach().cpu().float()) - to_gray(x.detach().cpu().float())).abs().flatten(1)
    half = 100 * float(torch.tensor([concentration(r) for r in d]).median())
    mean, mx = float(d.mean()) * 255, float(d.max()) * 255
    ref = "an even spread would need 50 %, Gaussian pixel noise about 27 %"
    if half < 10:
        how = f"concentrated in a small part of the image ({ref})"
    elif half > 35:
        how = f"spread over much of the image ({ref})"
    else:
        how = f"about as concentrated as pixel noise ({ref})"
    seen = ("almost invisible at its true scale" if mx <= 8 else "large enough to be visible in places at its true "
            "scale")
    text = (f"Half of the perturbation's magnitude lies in {half:.0f} % of the pixels (median over {len(d)} images): "
            f"it is {how}. The mean gray-level change is {mean:.2f}/255 and the largest {mx:.0f}/255, so the "
            f"perturbation is {seen}.")
    return {"half_mass_pct": half, "mean_change": mean, "max_change": mx, "n": len(d), "text": text}


def show_perturbation(x: torch.Tensor, x_adv: torch.Tensor) -> None:
    """Show the sentence of :func:`perturbation_summary` (size and concentration of the
    perturbations of ``(N,3,H,W)`` images in [0,1])."""
    note(perturbation_summary(x, x_adv)["text"])


def distance_figure(distances, tau: float, labels: Sequence[str] | None = None, title: str = ""):
    """Distance to the target vs iteration, one line per image (log scale).

    Parameters
    ----------
    distances : numpy.ndarray or torch.Tensor
        The distances to the target, one row per image, one column per iteration.
    tau : float
        The stopping threshold tau, drawn as a line.
    labels : list of str or None, optional
        A legend label per image (default None).
    title : str, optional
        The figure title (default ``""``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with tau and the share of images whose distance is below tau at each
        iteration; the legend (at most 8 images) under the left axes.
    """
    import matplotlib.pyplot as plt

    d = torch.as_tensor(distances).float().numpy()
    n, k = d.shape
    it = np.arange(k)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.4), gridspec_kw={"width_ratios": [2.2, 1]})
    cmap = plt.get_cmap("viridis")
    for i in range(n):
        ax.plot(it, d[i], lw=1.1, color=cmap(i / max(1, n - 1)), label=(labels[i] if labels and n <= 8 else None))
    ax.plot(it, np.median(d, 0), color="black", lw=2.2, ls="--", label="median")
    ax.axhline(tau, color="crimson", lw=1, ls=":")
    ax.text(0, tau * 1.15, f"τ = {tau:g}", color="crimson", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("‖F(x_k) − F_t‖ (logits)")
    ax.set_title(title or "Distance to the target")
    if labels and n <= 8:  # under the axes, never over the lines
        ax.legend(fontsize=8, ncol=3, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    ax.grid(alpha=0.3, which="both")
    share = (d <= tau).mean(0) * 100
    ax2.plot(it, share, color="crimson", lw=2)
    ax2.set_ylim(-3, 103)
    ax2.set_xlabel("iteration k")
    ax2.set_ylabel("images with distance ≤ τ (%)")
    ax2.set_title("Share of images that reached τ")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_distance(ctx, net, images, res) -> None:
    """Show the convergence figure of the chapter's LOTS runs with its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its ``tau``, ``alpha`` and ``iters``).
    net : lotslib.models.ModelWrapper
        The model, with a ``name``.
    images : lotslib.data.ImageSource
        The photos, one legend label each (their class names).
    res : lotslib.attack.LotsResult
        The runs: ``res.trace.distances`` ``(N, iters)`` and ``res.trace.converged`` ``(N,)``.
        The caption states the share of images (in %) that reached τ.
    """
    tr = res.trace
    reached = float(tr.converged.float().mean()) * 100
    show(
        distance_figure(tr.distances, ctx.tau, [short_class(s.name, 16) for s in images],
                        title=f"LOTS, zero target, {net.name}"),
        "fig-lots-distance",
        f"**LOTS convergence (Algorithm 1 of the thesis; the thesis has no figure of it).** "
        f"Left: Euclidean distance between the logits of the image and the zero target after each "
        f"iteration, for {len(images)} images on {net.name} (α = {ctx.alpha:.4g}, at most {ctx.iters} "
        f"iterations; dashed: median). Right: share of the images whose distance is at most τ = {ctx.tau:g}: "
        f"{reached:.0f}% reached it within {ctx.iters} iterations.",
    )


def show_predictions(ctx, net, x: torch.Tensor, res, images):
    """Show the table of predictions before and after LOTS, with the share of changed top-1
    classes and the mean confidence before/after in its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its ``iters``).
    net : lotslib.models.ModelWrapper
        The classifier (pixels in [0,1] -> logits), whose name the caption gives.
    x, res, images
        The photos ``(N,3,H,W)`` in [0,1], their LOTS runs (:class:`lotslib.attack.LotsResult`)
        and their records (:class:`lotslib.data.ImageSource`).

    Returns
    -------
    lotsbook.results.Predictions
        The predictions (:func:`lotsbook.results.predictions`), whose titles serve Figure 4.1.
    """
    pred = predictions(net, x, res, images)
    table(
        pred.table,
        f"Predictions of {net.name} before and after LOTS (zero target, at most {ctx.iters} iterations). "
        f"The top-1 class changed for {pred.changed:.0f}% of the images; the mean confidence in the original "
        f"top-1 class fell from {pred.confidence_before:.1f}% to {pred.confidence_after:.1f}%.",
        fmt={"p(original top-1) after %": "{:.2f}", "final distance": "{:.2f}"},
    )
    return pred


def show_figure_4_1(ctx, net, x: torch.Tensor, res, pred, k: int = 3) -> None:
    """Show thesis Figure 4.1 for the first ``k`` photos: original, perturbation ×10 around
    mid-grey, adversarial, with their top-1 classes and confidences, and its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its ``iters`` and ``alpha``).
    net : lotslib.models.ModelWrapper
        The model.
    x : torch.Tensor
        The photos ``(N,3,H,W)`` in [0,1].
    res : lotslib.attack.LotsResult
        Their LOTS runs (``res.x_adv``, same shape).
    pred : lotsbook.results.Predictions
        Their predictions (:func:`show_predictions`), for the panel titles.
    k : int, optional
        At most this many photos (default 3).
    """
    k = min(k, len(x))
    show(
        figure_4_1(x[:k], res.x_adv[:k], pred.titles_before[:k], pred.titles_after[:k]),
        "fig-4-1",
        f"**Regenerates thesis Figure 4.1.** Left: original image with its top-1 class and confidence; middle: "
        f"the LOTS perturbation (adversarial − original) ×10, shifted by 128 and clamped; right: the adversarial "
        f"image with its new top-1 class. {net.name}, zero target, at most {ctx.iters} iterations, "
        f"α = {ctx.alpha:.4g}.",
    )


def attack_summary(start, end, converged, tau: float, iters: int, changed: float, before: float, after: float) -> str:
    """What the chapter's runs show, written from their numbers.

    Parameters
    ----------
    start, end : array-like
        ``(N,)`` distances to the target (logits, >= 0) before the first step and after the run.
    converged : array-like
        ``(N,)`` bool: the run reached ``tau``.
    tau : float
        The stopping distance.
    iters : int
        The iteration cap.
    changed : float
        The share of the images whose top-1 class changed, in % (:func:`lotsbook.results.predictions`).
    before, after : float
        The mean confidence in the original top-1 class before and after, in %.

    Returns
    -------
    str
        n; the median distance before and after (and as a share of the start); how many runs
        reached τ; the top-1 changes and the confidence. A statement about LOTS on this model
        (every run ended at the cap, or the share that reached τ) only from
        :data:`lotslib.verdicts.MIN_PAIRS` photos on, else "too few images".
    """
    from lotslib.verdicts import too_few

    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    n, reached = len(start), int(np.asarray(converged, dtype=bool).sum())
    fell = int((end < start).sum())
    text = (f"On these {n} photos the median distance to the zero target falls from {np.median(start):.2f} to "
            f"{np.median(end):.2f} ({100 * np.median(end / start):.0f}% of its start, median over the photos; "
            f"it fell on {fell} of {n}); {reached} of {n} runs reached τ = {tau:g} within {iters} iterations. "
            f"The top-1 class changed on {changed:.0f}% of the photos, and the mean confidence in the original top-1 "
            f"class fell from {before:.1f}% to {after:.1f}%.")
    few = too_few(n)
    if few:
        return text + f" This describes these photos only: {few}."
    if reached == 0:
        return text + (f" No run reached τ: on this model the iteration cap, not τ, ends LOTS, so its map is the "
                       f"perturbation of {iters} steps (chapter 7 varies that budget).")
    return text + f" {100 * reached / n:.0f}% of the runs stopped at τ; the others ran to the cap."


def show_attack_summary(ctx, res, pred) -> None:
    """Show :func:`attack_summary` of the chapter's runs ``res`` (:class:`lotslib.attack.LotsResult`)
    and predictions ``pred`` (:func:`show_predictions`), with ``ctx``'s τ and iteration cap."""
    tr = res.trace
    note(attack_summary(tr.distances[:, 0].numpy(), tr.final_distance.numpy(), tr.converged.numpy(), ctx.tau,
                        ctx.iters, pred.changed, pred.confidence_before, pred.confidence_after))
