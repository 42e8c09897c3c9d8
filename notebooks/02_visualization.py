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
# To compare {term}`LOTS` with CAM methods the thesis turns the {term}`perturbation` into an
# {term}`activation map` (its Algorithm 2, section 4.3): convert the original and the adversarial image to
# grayscale, take the absolute difference, min-max normalise it, blur it with a Gaussian
# filter (49 × 49 pixels by default) and min-max normalise again. This chapter shows the
# steps (thesis Figure 4.2), the effect of the filter size (thesis Figure 5.6) and the
# thresholding the thesis proposes in its discussion (section 6.2) against scattered,
# noisy activations.
#
# **Protocol.** One image, the zero {term}`target <feature target>` and the LOTS run of chapter 1 (read from the
# cache). The thesis shows Figure 5.6 on DenseNet-121; this chapter uses the first
# backbone of the comparison pair (`compare_models[0]`; EfficientNet-Lite0 in the
# embedded profile, DenseNet-121 in the full one) and the number of LOTS iterations in
# the table below.

# %% tags=["parameters"]
params = {}

# %%
from lotsbook import chapter, plots, results
from lotsbook.pages import visualization as page

ctx = chapter.open_chapter(params, "2", table=False)
net, example = ctx.model(ctx.compare_models[0]), ctx.images.head(1)
display(ctx.run_table(example))

# %%
x = example.batch(net).to(ctx.device)
res = ctx.lots(net, example, x=x)
xa = res.x_adv.to(ctx.device)
classes, probs = results.top1(net, x)
top = int(classes[0])
what = f"{example[0].id} (predicted {plots.short_class(net.categories[top])}, {100 * float(probs[0]):.1f}%)"
plots.show(
    page.figure_4_2(x, xa, ctx.filter_size),
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
    page.filter_size_figure(x, xa, sizes),
    "fig-5-6",
    f"**Regenerates thesis Figure 5.6.** The LOTS activation map of the same image as a heat-map for Gaussian "
    f"filter sizes {', '.join(map(str, sizes))} (panels b–g; 1 means no blur) and, in (h), the unblurred map itself. "
    f"The thesis shows this on DenseNet-121; here {net.name}.",
)

# %%
plots.table(page.map_concentration(x, xa, sizes),
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
    page.threshold_figure(x, m, qs),
    "fig-threshold",
    f"**Thresholding proposed in thesis section 6.2 (no thesis figure).** Top row: the LOTS heat-map "
    f"({ctx.filter_size} × {ctx.filter_size} filter) without threshold and keeping only the activations above the "
    f"50%, 80% and 90% quantile of the map; bottom row: the corresponding explanation maps (image × map).",
)

# %%
kept, p_orig = page.threshold_confidence(net, x, m, qs, top)
plots.table(kept,
            f"Confidence of {net.name} in its top-1 class ({plots.short_class(net.categories[top])}, "
            f"{100 * float(p_orig):.1f}% on the original) on the explanation maps of the thresholded LOTS maps "
            f"(one image; the drop is the thesis's Average Drop for this image).",
            fmt={"pixels kept (%)": "{:.1f}", "confidence on x ⊙ map (%)": "{:.1f}", "drop (%)": "{:.1f}"})

# %% [markdown]
# ## Exercises
#
# Each solution is code that runs with this chapter when the book is built, on the same
# image and LOTS run as above. Try the exercise first, then open the solution.
#
# ```{exercise} Algorithm 2 by hand
# :label: ex-map-by-hand
# :nonumber:
#
# Rebuild the LOTS map of this chapter's image from the steps of Algorithm 2 with the
# functions of `lotslib.visualize` (`to_gray`, `minmax`, `gaussian_blur`) and check that
# it equals `lotslib.visualize.lots_map`. Which step would you drop to get the unblurred
# map of Figure 5.6 (h)?
# ```
#
# ```{solution-start} ex-map-by-hand
# :class: dropdown
# ```
#
# Grayscale both images, take the absolute difference, normalise, blur, normalise again.
# Dropping the blur (filter size 1) gives the unblurred map.

# %% tags=["show-input"]
from lotslib import visualize as vis

by_hand = vis.minmax(vis.gaussian_blur(vis.minmax((vis.to_gray(xa) - vis.to_gray(x)).abs()), ctx.filter_size))
gap = float((by_hand - vis.lots_map(x, xa, ctx.filter_size)).abs().max())
plots.note(f"Largest difference between the map built step by step and `lots_map`: {gap:.1e} (the maps are in [0, 1]).")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} The width of the Gaussian
# :label: ex-map-sigma
# :nonumber:
#
# The blur has two parameters: the filter size $k$ and the standard deviation $\sigma$
# (by default tied to $k$: 7.7 for $k = 49$). Keep $k$ and set $\sigma$ to 2 and to 20.
# Predict which map puts half of its mass on the fewest pixels, then check with
# `lotsbook.results.concentration`.
# ```
#
# ```{solution-start} ex-map-sigma
# :class: dropdown
# ```

# %% tags=["show-input"]
sigma_maps = {f"σ = {s or vis.default_sigma(ctx.filter_size):.1f}": vis.lots_map(x, xa, ctx.filter_size, sigma=s)[0]
              for s in (2.0, None, 20.0)}
half = {k: 100 * results.concentration(v) for k, v in sigma_maps.items()}
plots.show(
    plots.methods_figure(x, sigma_maps, first_title="original"),
    "fig-ex-map-sigma",
    f"The LOTS map of {example[0].id} with a {ctx.filter_size} × {ctx.filter_size} filter and three values of σ.",
)
plots.note("Share of the pixels that hold half of the map's mass: " + ", ".join(f"{k}: {v:.1f}%" for k, v in half.items())
           + f". The most concentrated map is the one with {min(half, key=half.get)}.")

# %% [markdown]
# A small $\sigma$ averages each pixel with few neighbours, so the map keeps the perturbation's
# fine, scattered structure; a large one spreads every peak over a wide area. With
# $\sigma = 20$ a 49-pixel filter (the thesis's) cuts the Gaussian off at $1.2\sigma$, so it
# acts almost like a box filter of that size.
#
# ```{solution-end}
# ```
#
# ```{exercise} Blur and Average Drop
# :label: ex-map-blur-drop
# :nonumber:
#
# The {term}`Average Drop` of one image is the relative loss of confidence when the network
# sees only $x \odot \text{map}$. Predict whether a smaller filter (13 or 3 instead of 49)
# raises or lowers this drop for this chapter's image, then compute it with
# `lotslib.metrics.confidence_change`.
# ```
#
# ```{solution-start} ex-map-blur-drop
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib import metrics

blur_drop = {k: float(metrics.confidence_change(net, x, vis.lots_map(x, xa, k), [top], batch_size=1).drop[0])
             for k in (ctx.filter_size, 13, 3)}
plots.note(f"Drop in the confidence in *{plots.short_class(net.categories[top])}* on x ⊙ map, per filter size: "
           + ", ".join(f"{k} × {k}: {v:.1f}%" for k, v in blur_drop.items()) + ".")

# %% [markdown]
# With less blur the map stays close to the scattered perturbation: the explanation map
# keeps isolated bright pixels instead of whole regions. Whether that costs confidence
# depends on whether the pixels that stay bright carry the evidence for the class.
#
# ```{solution-end}
# ```
