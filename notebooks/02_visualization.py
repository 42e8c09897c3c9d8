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
from lotsbook import chapter, results
from lotsbook.pages import visualization as page

ctx = chapter.open_chapter(params, "2", table=False)
net, example = ctx.model(ctx.compare_models[0]), ctx.images.head(1)
display(ctx.run_table(example))

# %%
x = example.batch(net).to(ctx.device)
res = ctx.lots(net, example, x=x)
xa = res.x_adv.to(ctx.device)
top = page.show_figure_4_2(ctx, net, example, x, xa, res)

# %% [markdown]
# ## Filter size and localisation
#
# The blur decides how local the map is: a large filter gives CAM-like blobs, a small
# one keeps the pixel-level structure of the perturbation (and its noise).

# %%
page.show_figure_5_6(net, x, xa)

# %% [markdown]
# ## Thresholding the map (thesis section 6.2)
#
# The thesis observes scattered activations around the main focus of LOTS maps and
# suggests removing activations below a threshold as a post-processing step. Here the
# threshold is the per-image quantile $q$ of the map: values below it are set to zero
# and the rest is min-max normalised again (`lotslib.visualize.threshold_map`).

# %%
m = ctx.lots_maps(net, example, x=x)
kept = page.show_threshold(ctx, net, x, m, top)

# %% [markdown]
# ## What this shows
#
# A threshold keeps fewer pixels of the map, so one expects the confidence on
# $x \odot \text{map}$ to fall, and the drop to grow, as $q$ rises. Whether it does on this
# image is read from the table above; the sentence is computed from this build's numbers.

# %%
page.show_threshold_summary(kept)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build.
# The three solutions start from the same LOTS run of the first photo, so you can compare
# their maps. Try the exercise first, then open
# the solution.
#
# ```{exercise} Algorithm 2 by hand
# :label: ex-map-by-hand
# :nonumber:
#
# Rebuild the LOTS map of the first photo from the steps of Algorithm 2 with the
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
from lotslib import lots
from lotslib import visualize as vis
from lotslib.models import exercise_kit

kit = exercise_kit(1)
x_adv = lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=kit.alpha).x_adv
by_hand = vis.minmax(vis.gaussian_blur(vis.minmax((vis.to_gray(x_adv) - vis.to_gray(kit.x)).abs()), kit.filter_size))
print(f"Largest difference from lots_map: {float((by_hand - vis.lots_map(kit.x, x_adv, kit.filter_size)).abs().max()):.1e}")

# %% [markdown]
# The difference is zero up to float rounding: `lotslib.visualize.lots_map` is these steps.
# With filter size 1 the blur leaves the map as it is, so the two normalisations give the
# unblurred map of Figure 5.6 (h).
#
# ```{solution-end}
# ```
#
# ```{exercise} The width of the Gaussian
# :label: ex-map-sigma
# :nonumber:
#
# The blur has two parameters: the filter size $k$ and the standard deviation $\sigma$
# (by default tied to $k$: 7.7 for $k = 49$). Keep $k$ and set $\sigma$ to 2 and to 20.
# Predict which map puts half of its mass on the fewest pixels, then check: sort each map's
# values and count the pixels that hold half of its sum.
# ```
#
# ```{solution-start} ex-map-sigma
# :class: dropdown
# ```

# %% tags=["show-input"]
import torch
from torchvision.transforms.functional import to_pil_image
from lotslib import lots
from lotslib import visualize as vis
from lotslib.models import exercise_kit

kit = exercise_kit(1)
x_adv = lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=kit.alpha).x_adv
sigma_maps = {s: vis.lots_map(kit.x, x_adv, kit.filter_size, sigma=s) for s in (2.0, vis.default_sigma(kit.filter_size), 20.0)}
for s, m in sigma_maps.items():  # the share of the pixels that holds half of the map's mass
    print(f"σ = {s:.1f}: {100 * float((m.flatten().sort(descending=True).values.cumsum(0) < m.sum() / 2).float().mean()):.1f}%")
to_pil_image(torch.cat(list(vis.overlay(kit.x.expand(3, -1, -1, -1), torch.cat(list(sigma_maps.values())))), 2))

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
# raises or lowers this drop for the first photo, then compute it with
# `lotslib.metrics.confidence_change`.
# ```
#
# ```{solution-start} ex-map-blur-drop
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib import lots, metrics
from lotslib import visualize as vis
from lotslib.models import exercise_kit

kit = exercise_kit(1)
x_adv, top = lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=kit.alpha).x_adv, kit.net(kit.x).argmax(1)
for k in (kit.filter_size, 13, 3):
    print(f"{k} × {k}: drop {float(metrics.confidence_change(kit.net, kit.x, vis.lots_map(kit.x, x_adv, k), top).drop[0]):.1f}%")

# %% [markdown]
# With less blur the map stays close to the scattered perturbation: the explanation map
# keeps isolated bright pixels instead of whole regions. Whether that costs confidence
# depends on whether the pixels that stay bright carry the evidence for the class.
#
# ```{solution-end}
# ```
