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
# # 2 From perturbation to activation map
#
# To compare LOTS with CAM methods the thesis turns the perturbation into an activation
# map (its Algorithm 2, section 4.3): convert the original and the adversarial image to
# grayscale, take the absolute difference, min-max normalise it, blur it with a Gaussian
# filter (49 × 49 pixels by default) and min-max normalise again. This chapter shows the
# steps (thesis Figure 4.2), the effect of the filter size (thesis Figure 5.6) and the
# thresholding the thesis proposes in its discussion (section 6.2) against scattered,
# noisy activations.
#
# **Protocol.** One image, the zero target and the LOTS run of chapter 1 (read from the
# cache). The thesis shows Figure 5.6 on DenseNet-121; this chapter uses the first
# backbone of the comparison pair (`compare_models[0]`; EfficientNet-Lite0 in the
# embedded profile, DenseNet-121 in the full one) and the number of LOTS iterations in
# the table below.

# %% tags=["parameters"]
params = {}

# %%
from lotslib import chapter, plots, reports

ctx = chapter.open_chapter(params, "2", table=False)
net, example = ctx.model(ctx.compare_models[0]), ctx.images.head(1)
display(ctx.run_table(example))

# %%
x = example.batch(net).to(ctx.device)
res = ctx.lots(net, example, x=x)
xa = res.x_adv.to(ctx.device)
classes, probs = reports.top1(net, x)
top = int(classes[0])
what = f"{example[0].id} (predicted {plots.short_class(net.categories[top])}, {100 * float(probs[0]):.1f}%)"
plots.show(
    plots.figure_4_2(x, xa, ctx.filter_size),
    "fig-4-2",
    f"**Regenerates thesis Figure 4.2 (a)–(h).** The LOTS visualization procedure on {what}, {net.name}: "
    f"(a) original; (b) adversarial image from LOTS (zero target, {int(res.trace.iterations[0])} iterations of at most {ctx.iters}, "
    f"τ = {ctx.tau:g}, α = {ctx.alpha:.4g}); (c), (d) both in grayscale; (e) their absolute difference, "
    f"min-max normalised; (f) after a {ctx.filter_size} × {ctx.filter_size} Gaussian blur and a second min-max normalisation: the activation map; "
    f"(g) explanation map, the original multiplied by the map; (h) the map as a heat-map over the original.",
)

# %% [markdown]
# ## Filter size and localisation
#
# The blur decides how local the map is: a large filter gives CAM-like blobs, a small
# one keeps the pixel-level structure of the perturbation (and its noise).

# %%
sizes = (49, 25, 13, 7, 3, 1)
plots.show(
    plots.filter_size_figure(x, xa, sizes),
    "fig-5-6",
    f"**Regenerates thesis Figure 5.6.** The LOTS activation map of the same image as a heat-map for Gaussian "
    f"filter sizes {', '.join(map(str, sizes))} (panels b–g; 1 means no blur) and, in (h), the unblurred map itself. "
    f"The thesis shows this on DenseNet-121; here {net.name}.",
)

# %%
plots.table(reports.map_concentration(x, xa, sizes),
            "How concentrated the LOTS map is for each filter size (no thesis table; a numeric reading of Figure 5.6).")

# %% [markdown]
# ## Thresholding the map (thesis section 6.2)
#
# The thesis observes scattered activations around the main focus of LOTS maps and
# suggests removing activations below a threshold as a post-processing step. Here the
# threshold is the per-image quantile $q$ of the map: values below it are set to zero
# and the rest is min-max normalised again (`lotslib.visualize.threshold_map`).

# %%
m = ctx.lots_maps(net, example, x=x)
qs = (0.0, 0.5, 0.8, 0.9)
plots.show(
    plots.threshold_figure(x, m, qs),
    "fig-threshold",
    f"**Thresholding proposed in thesis section 6.2 (no thesis figure).** Top row: the LOTS heat-map "
    f"({ctx.filter_size} × {ctx.filter_size} filter) without threshold and keeping only the activations above the "
    f"50%, 80% and 90% quantile of the map; bottom row: the corresponding explanation maps (image × map).",
)

# %%
kept, p_orig = reports.threshold_confidence(net, x, m, qs, top)
plots.table(kept,
            f"Confidence of {net.name} in its top-1 class ({plots.short_class(net.categories[top])}, "
            f"{100 * float(p_orig):.1f}% on the original) on the explanation maps of the thresholded LOTS maps "
            f"(one image; the drop is the thesis's Average Drop for this image).",
            fmt={"pixels kept (%)": "{:.1f}", "confidence on x ⊙ map (%)": "{:.1f}", "drop (%)": "{:.1f}"})
