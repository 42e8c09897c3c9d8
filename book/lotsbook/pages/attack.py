"""Chapter 1, "LOTS on real photos" (``notebooks/01_attack.py``): the distance curves of
the attack and the sentence on how large and how concentrated its perturbations are.

Images ``(N,3,H,W)`` in [0,1].
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..results import concentration

__all__ = ["perturbation_summary", "distance_figure"]


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
        iteration.
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
    if labels and n <= 8:
        ax.legend(fontsize=7, ncol=2, frameon=False)
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
