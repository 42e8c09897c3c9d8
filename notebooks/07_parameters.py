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
# # 7 Parameter study: LOTS's budget, early stop, step width, blur
#
# The thesis fixes {term}`LOTS` at 500 iterations, τ = 0.1, α = 1/255 and a 49 × 49 blur
# (section 5.1) and lists tuning these as future work (sections 6.2 and 7). It also
# reports LOTS as by far the slowest method (25–63 s per map, its Table 5.3). This chapter
# measures what each parameter buys:
#
# * **The iteration budget.** On these models no LOTS run reaches τ (chapter 1), so the map
#   is whatever the walk has reached when the budget runs out. The protocol's runs of
#   Table 5.2 keep snapshots at 10, 20, 40, … 320 iterations; read at each, they give LOTS's
#   metrics as a function of its budget, against every CAM of Table 5.2.
# * **Plateau early stop** (`patience`, `min_delta` of `lotslib.attack.lots`, off by default):
#   a sample stops when its distance to the {term}`target <feature target>` improved by less than the relative
#   `min_delta` over the last `patience` iterations.
# * **Step width α** and **Gaussian filter** (size and σ) of Algorithm 2.
#
# **Protocol.** The zero target and the chapter's first backbone. The budget curve uses the
# photos of Table 5.2; the other studies the first `study_images` photos.
# {term}`Insertion`/{term}`Deletion` use the chapter's `steps` (the thesis: 224). {term}`Coherency` is
# left out of the budget, α and blur studies because it re-runs LOTS for every setting.

# %% tags=["parameters"]
params = {}

# %%
from lotslib import benchmark, studies
from lotslib.method_registry import CAM_METHODS
from lotsbook import chapter, results
from lotsbook.pages import parameters as page

ctx = chapter.open_chapter(params, "7", n_images="study_images")
net, images = ctx.net, ctx.images

# %% [markdown]
# ## LOTS's budget curve
#
# The runs are those of Table 5.2 (chapter 4), read from the LOTS store: the curve costs no
# LOTS step of its own. Each budget's maps are compared with every CAM's on the same photos.
# A verdict "changes" only where it is significant at one budget and not at the next, or
# significant with the opposite sign.

# %%
photos = ctx.open_images(ctx.n_images)
rows = ctx.benchmark(benchmark.METHODS, images=photos)
curve = page.show_budget_curve(ctx, net, photos, rows[rows["method"].isin(list(CAM_METHODS))],
                               rows[rows["method"] == "lots"])

# %% [markdown]
# The same curve on the recorded 100-image study of chapter 4, read from the snapshots its
# protocol runs stored (ImageNet *training* images; see chapter 4):

# %%
page.show_recorded_budget_curve()

# %% [markdown]
# ### In which space does α = 1/255 step?
#
# The thesis's Algorithm 1 clamps the image after every step but does not name the space of
# the step. Two readings exist in public code: pixels in [0,1], clamped (Vastlab's LOTS and
# this book), and the model's normalized input without a clamp (FAME), whose step is about
# 4.4 times narrower in pixels. We take the pixel reading as the thesis's: its clamp keeps
# the image in "the allowed range", and only pixels have one (a normalized tensor is not
# bounded), and 1/255 is one grey level of an 8-bit image. The recorded run below shows what
# the other reading would change.

# %%
page.show_step_spaces(rows[rows["method"].isin(list(CAM_METHODS))])

# %% [markdown]
# ## Plateau early stop
#
# Where the profile runs it live (`plateau_study`), both runs below are full benchmark runs
# (`lotslib.benchmark.run`), so all five metrics, Coherency included, are measured both ways on
# the same images.

# %%
es = page.show_early_stop(ctx, net, images)

# %% [markdown]
# The same study at the thesis's 500 iterations on 20 real photos is recorded by
# `experiments/early_stop.py` (its output is `results/early_stop_study.csv`); when that file
# is present it is summarised here, with the command that produced it.

# %%
page.show_recorded_early_stop()

# %% [markdown]
# ## A cheaper schedule with the protocol's maps?
#
# `experiments/lots_equivalence.py` runs the thesis protocol (α = 1/255, 500 iterations,
# τ = 0.1) and cheaper candidates — the book's former 40 iterations of 1/255, fewer
# iterations with a larger α, a geometrically decaying α, the plateau stop, and
# combinations — on 20 embedded photos with all five
# metrics, and asks which one reproduces the protocol's maps (median Pearson ≥ 0.95, 10th
# percentile ≥ 0.90) and metrics with the fewest forward+backward passes. "Reproduces a
# metric" means *shown equivalent*: two one-sided tests, each at 5%, put the 90% interval
# of the paired difference inside a margin fixed before looking (±2 points). An interval
# that merely contains 0 is not evidence of equivalence: a noisy candidate passes that test
# easily. Its recorded output is summarised here.

# %%
page.show_equivalence()

# %% [markdown]
# ## Step width α

# %%
al = page.show_alpha_study(ctx, net, images)

# %% [markdown]
# ## Gaussian filter of Algorithm 2

# %%
pp = page.show_filter_study(ctx, net, images)

# %% [markdown]
# ## What this shows
#
# Each study above changes one setting of the protocol and keeps the rest. The sentences below
# read their tables: how far each setting moves LOTS's numbers, and where a paired test on
# enough photos says whether the change matters against the CAMs. A study on fewer photos
# than a verdict needs describes its numbers and draws no conclusion.

# %%
page.show_parameter_summary(curve, rows[rows["method"].isin(list(CAM_METHODS))], al, pp, ctx)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build. Try the exercise first, then open
# the solution.
#
# ```{exercise} The same budget, spent differently
# :label: ex-params-budget
# :nonumber:
#
# After $k$ steps of width $\alpha$ no pixel has moved by more than $k\alpha$. Predict:
# does LOTS with half the iteration cap and twice the step width give the same map as the
# chapter's setting, for half the forward and backward passes? Check on the first photo:
# the runs side by side and the Pearson correlation of their maps.
# ```
#
# ```{solution-start} ex-params-budget
# :class: dropdown
# ```

# %% tags=["show-input"]
import pandas as pd
from lotslib import lots, studies
from lotslib.models import exercise_kit
from lotslib.visualize import lots_map

kit = exercise_kit(1)
k = kit.iters
full, half = (lots(kit.net, kit.x, iters=n, tau=kit.tau, alpha=a) for n, a in ((k, kit.alpha), (max(1, k // 2), 2 * kit.alpha)))
print(f"Pearson r of the two maps: {studies.map_correlation(*(lots_map(kit.x, r.x_adv) for r in (full, half)))[0]:.3f}")
pd.DataFrame({name: {"iterations": int(r.trace.iterations[0]), "distance after": float(r.trace.final_distance[0]),
                     "largest pixel change (1/255)": float((r.x_adv - kit.x).abs().max() * 255)}
              for name, r in ((f"at most {k} steps of α", full), (f"at most {max(1, k // 2)} steps of 2α", half))}).T

# %% [markdown]
# Twice the step width follows the gradient of the starting point further before it looks
# again, so the path through pixel space is coarser; the map keeps the same shape as long as
# the gradient changes slowly along the way. The equivalence study above asks the same
# question with all five metrics and 20 photos.
#
# ```{solution-end}
# ```
#
# ```{exercise} Filter size or σ?
# :label: ex-params-sigma
# :nonumber:
#
# Algorithm 2's Gaussian has a size $k$ (49) and a standard deviation $\sigma$ (by default
# tied to $k$: 7.7 for 49, 4.1 for 25). Predict which changes the map of the first photo
# more: shrinking the filter to 25 while keeping $\sigma = 7.7$, or keeping 49 with
# $\sigma = 4.1$. Compare each with the 49 × 49, $\sigma = 7.7$ map.
# ```
#
# ```{solution-start} ex-params-sigma
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib import lots, studies
from lotslib.models import exercise_kit
from lotslib.visualize import default_sigma, lots_map

kit = exercise_kit(1)
x_adv = lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=kit.alpha).x_adv
s49, s25 = default_sigma(49), default_sigma(25)
ref = lots_map(kit.x, x_adv, 49)
for k, s in ((25, s49), (49, s25)):
    print(f"{k} × {k}, σ = {s:.1f}: Pearson r with the 49 × 49, σ = {s49:.1f} map: "
          f"{studies.map_correlation(ref, lots_map(kit.x, x_adv, k, sigma=s))[0]:.3f}")

# %% [markdown]
# $\sigma$ sets how far the blur spreads; the filter size only cuts the Gaussian off. A
# 25-pixel filter reaches 12 pixels from its centre, about $1.6\sigma$ for $\sigma = 7.7$:
# the tails it drops hold about a fifth of the two-dimensional kernel's weight (shared out
# again by the normalisation), while $\sigma = 4.1$ shrinks the spread of every peak to
# about half.
#
# ```{solution-end}
# ```
