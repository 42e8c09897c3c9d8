# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1 LOTS on real photos
#
# LOTS (layerwise origin-target synthesis, {cite:t}`rozsa2017lots`) changes an image
# step by step until its deep features $F(x)$ come close to a chosen target $F_t$. The
# thesis {cite}`weber2023` uses the logits of the classifier as $F$ and, for most
# experiments, the zero vector as $F_t$: the image is pushed towards "no class at all".
# Each step moves every pixel against the gradient of
# $L = \tfrac12\lVert F(x_k) - F_t\rVert^2$, scaled so that the largest change is
# $\alpha$, and keeps pixels in $[0, 1]$:
#
# $$x_{k+1} = \operatorname{clip}_{[0,1]}\Big(x_k - \alpha\,\frac{\nabla_x L(x_k)}{\max\lvert\nabla_x L(x_k)\rvert}\Big),$$
#
# until $\lVert F(x_k) - F_t\rVert \le \tau$ or `iters` steps were taken (thesis
# Algorithm 1, section 3.2.2). This chapter runs the attack on real photos, follows the
# distance to the target, shows the perturbation as in the thesis's Figure 4.1 and lists
# the predictions before and after.
#
# **Protocol.** The thesis runs LOTS with $\tau = 0.1$, $\alpha = 1/255$ and at most 500
# iterations on 1000 ImageNet validation images. The embedded profile (the default
# build) runs fewer iterations on the ImageNet photos shipped with the `foolbox` package
# so that the whole book builds in about 20 minutes on two CPU cores; the table below
# names every difference. `python -m lotslib.book --profile full` uses the thesis's values.

# %% tags=["parameters"]
params = {}

# %%
from lotslib import chapter, plots, reports

ctx = chapter.open_chapter(params, "1")
net, images = ctx.net, ctx.images

# %% [markdown]
# ## Distance to the target
#
# LOTS is run once per image with the zero target; the results are cached on disk
# and reused by the later chapters.

# %%
x = images.batch(net).to(ctx.device)
res = ctx.lots(net, images, x=x)
tr = res.trace
reached = float(tr.converged.float().mean()) * 100
plots.show(
    plots.distance_figure(tr.distances, ctx.tau, [plots.short_class(s.name, 16) for s in images],
                          title=f"LOTS, zero target, {net.name}"),
    "fig-lots-distance",
    f"**LOTS convergence (Algorithm 1 of the thesis; the thesis has no figure of it).** "
    f"Left: Euclidean distance between the logits of the image and the zero target after each "
    f"iteration, for {len(images)} images on {net.name} (α = {ctx.alpha:.4g}, at most {ctx.iters} "
    f"iterations; dashed: median). Right: share of the images whose distance is at most τ = {ctx.tau:g}: "
    f"{reached:.0f}% reached it within {ctx.iters} iterations.",
)

# %% [markdown]
# ## Predictions before and after
#
# The zero target does not aim at another class: it drives every logit towards zero, so
# the softmax flattens and the confidence in the original class collapses, whatever the
# new top-1 class is.

# %%
pred = reports.predictions(net, x, res, images)
plots.table(
    pred.table,
    f"Predictions of {net.name} before and after LOTS (zero target, at most {ctx.iters} iterations). "
    f"The top-1 class changed for {pred.changed:.0f}% of the images; the mean confidence in the original "
    f"top-1 class fell from {pred.confidence_before:.1f}% to {pred.confidence_after:.1f}%.",
    fmt={"p(original top-1) after %": "{:.2f}", "final distance": "{:.2f}"},
)

# %% [markdown]
# ## The perturbation (thesis Figure 4.1)
#
# The difference between the adversarial and the original image is hard to see at its
# true scale; as in the thesis it is multiplied by 10 and shifted to mid-grey (128).

# %%
k = min(3, len(images))
plots.show(
    plots.figure_4_1(x[:k], res.x_adv[:k], pred.titles_before[:k], pred.titles_after[:k]),
    "fig-4-1",
    f"**Regenerates thesis Figure 4.1.** Left: original image with its top-1 class and confidence; middle: "
    f"the LOTS perturbation (adversarial − original) ×10, shifted by 128 and clamped; right: the adversarial "
    f"image with its new top-1 class. {net.name}, zero target, at most {ctx.iters} iterations, α = {ctx.alpha:.4g}.",
)

# %% [markdown]
# The perturbation is concentrated on the object the network recognises and is almost
# invisible at its true scale. Chapter 2 turns it into an activation map that can be
# compared with CAM methods.
