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
# {term}`LOTS` (layerwise origin-target synthesis, {cite:t}`rozsa2017lots`) changes an image
# step by step until its deep features $F(x)$ come close to a chosen {term}`target <feature target>` $F_t$. The
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
# distance to the target, shows the {term}`perturbation` as in the thesis's Figure 4.1 and lists
# the predictions before and after.
#
# **Protocol.** The thesis runs LOTS with $\tau = 0.1$, $\alpha = 1/255$ and at most 500
# iterations on 1000 ImageNet validation images. The embedded profile (the default
# build) runs fewer iterations on the ImageNet photos shipped with the `foolbox` package
# so that the whole book builds in about 20 minutes on two CPU cores; the table below
# names every difference. `python -m lotsbook --profile full` uses the thesis's values.

# %% tags=["parameters"]
params = {}

# %%
from lotsbook import chapter, plots, results
from lotsbook.pages import attack as page

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
    page.distance_figure(tr.distances, ctx.tau, [plots.short_class(s.name, 16) for s in images],
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
pred = results.predictions(net, x, res, images)
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
# How large is the perturbation, and is it spread over the image or gathered in a few
# places? The sentence below is computed from this build's runs.

# %%
plots.note(page.perturbation_summary(x, res.x_adv)["text"])

# %% [markdown]
# Whether the places the perturbation gathers in are the object the network recognises is
# what the rest of the book asks. Chapter 2 turns it into an {term}`activation map` that can
# be compared with CAM methods.

# %% [markdown]
# ## Exercises
#
# Each solution is code that runs with this chapter when the book is built, so its numbers
# are those of this build. Try the exercise first, then open the solution.
#
# ```{exercise} A larger step width
# :label: ex-attack-alpha
# :nonumber:
#
# Every LOTS step changes a pixel by at most $\alpha$. Predict what four times the
# chapter's $\alpha$ does, on the first photo and with the same iteration cap, to (a) the
# distance to the target after the run and (b) the largest pixel change. Then run
# `lotslib.lots` with both values and compare (`lotsbook.results.lots_run_table` puts the
# runs side by side).
# ```
#
# ```{solution-start} ex-attack-alpha
# :class: dropdown
# ```
#
# Two runs of `lotslib.lots` on the same photo, the chapter's $\alpha$ and four times it:

# %% tags=["show-input"]
from lotslib import lots

x1, steps = x[:1], {"α": ctx.alpha, "4 α": 4 * ctx.alpha}
runs = {f"{k} = {a * 255:g}/255": lots(net, x1, iters=ctx.iters, tau=ctx.tau, alpha=a) for k, a in steps.items()}
alpha_runs = results.lots_run_table(x1, runs, images.ids[:1])
plots.table(alpha_runs, f"LOTS on {images[0].id} with two step widths, at most {ctx.iters} iterations, zero target, "
            f"{net.name}; pixel changes in units of 1/255.")
small, large = alpha_runs.iloc[0], alpha_runs.iloc[1]
plots.note(f"With 4 α the distance after the run is {large['distance after']:.2f} instead of "
           f"{small['distance after']:.2f} (iterations taken: {large['iterations']} with 4 α, {small['iterations']} with "
           f"α), and the largest pixel change is {large['largest pixel change'] / small['largest pixel change']:.1f} "
           f"times as large.")

# %% [markdown]
# A wider step moves the features further per iteration, so the target can be reached in
# fewer steps; the price is a coarser perturbation, since each step may change a pixel by
# four times as much. The map of chapter 2 is built from that perturbation, so $\alpha$
# also changes the explanation (chapter 7 measures how much).
#
# ```{solution-end}
# ```
#
# ```{exercise} A bound on the perturbation
# :label: ex-attack-bound
# :nonumber:
#
# Without running anything: LOTS stopped after $k$ iterations on a photo. What is the
# largest value $|x_{adv} - x|$ can take at any pixel? Check your bound on every photo of
# this chapter's run (`res` above), and say how close the largest change comes to it.
# ```
#
# ```{solution-start} ex-attack-bound
# :class: dropdown
# ```
#
# Each step changes a pixel by at most $\alpha$ (the gradient is divided by its largest
# absolute value), and clipping to $[0, 1]$ can only shorten a step, so after $k$ steps no
# pixel moved by more than $k\alpha$. In units of 1/255 with $\alpha = 1/255$ the bound is
# simply $k$.

# %% tags=["show-input"]
sizes = results.lots_run_table(x, {"zero target": res}, images.ids)
sizes["bound k·α"] = sizes["iterations"] * ctx.alpha * 255
plots.table(sizes, f"The largest pixel change of each LOTS run of this chapter beside its bound k·α (units of 1/255, "
            f"{net.name}, at most {ctx.iters} iterations).")
within = int((sizes["largest pixel change"] <= sizes["bound k·α"] + 1e-3).sum())
share = (sizes["largest pixel change"] / sizes["bound k·α"]).mean() * 100
mean_share = (sizes["mean pixel change"] / sizes["largest pixel change"]).mean() * 100
plots.note(f"The largest change stays within k·α on {within} of {len(sizes)} photos and reaches {share:.0f}% of the "
           f"bound on average; the mean change over all pixels is {mean_share:.0f}% of the largest one.")

# %% [markdown]
# The bound is met exactly when one pixel has the largest gradient, with the same sign, in
# every step: it then moves by the full $\alpha$ each time. Every other pixel moves by the
# fraction of $\alpha$ that its gradient has of the largest one.
#
# ```{solution-end}
# ```
