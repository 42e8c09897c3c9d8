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
# build) runs the same LOTS protocol on the ImageNet photos shipped with the `foolbox`
# package, fewer of them, so that the whole book builds on two CPU cores (its measured
# build time is in the README); the table below names every difference. The runs below
# are those of Tables 5.1 and 5.2, read from the LOTS store; figures that show a shorter
# walk read the same runs' snapshots (`figure_iters`). `python -m lotsbook --profile full`
# uses the thesis's values throughout.

# %% tags=["parameters"]
params = {}

# %%
from lotsbook import chapter, results
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
page.show_distance(ctx, net, images, res)

# %% [markdown]
# ## Predictions before and after
#
# The zero target does not aim at another class: it drives every logit towards zero, so
# the softmax flattens and the confidence in the original class collapses, whatever the
# new top-1 class is.

# %%
pred = page.show_predictions(ctx, net, x, res, images)

# %% [markdown]
# ## The perturbation (thesis Figure 4.1)
#
# The difference between the adversarial and the original image is hard to see at its
# true scale; as in the thesis it is multiplied by 10 and shifted to mid-grey (128).

# %%
page.show_figure_4_1(ctx, net, x, res, pred)

# %% [markdown]
# How large is the perturbation, and is it spread over the image or gathered in a few
# places? The sentence below is computed from this build's runs.

# %%
page.show_perturbation(x, res.x_adv)

# %% [markdown]
# Whether the places the perturbation gathers in are the object the network recognises is
# what the rest of the book asks. Chapter 2 turns it into an {term}`activation map` that can
# be compared with CAM methods.
#
# ## What this shows
#
# How far LOTS gets towards the zero target on these photos, and what that does to the
# prediction; computed from this build's runs.

# %%
page.show_attack_summary(ctx, res, pred)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build. Try the exercise first, then open
# the solution.
#
# ```{exercise} A larger step width
# :label: ex-attack-alpha
# :nonumber:
#
# Every LOTS step changes a pixel by at most $\alpha$. Predict what four times the
# chapter's $\alpha$ does, on the first photo and with the same iteration cap, to (a) the
# distance to the target after the run and (b) the largest pixel change. Then run
# `lotslib.lots` with both values and compare (a pandas table puts the runs side by side).
# ```
#
# ```{solution-start} ex-attack-alpha
# :class: dropdown
# ```
#
# Two runs of `lotslib.lots` on the same photo, the chapter's $\alpha$ and four times it:

# %% tags=["show-input"]
import pandas as pd
from lotslib import lots
from lotslib.models import exercise_kit

kit = exercise_kit(1)
alpha_runs = {f"{k} α": lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=k * kit.alpha) for k in (1, 4)}
pd.DataFrame({name: {"distance after": float(r.trace.final_distance[0]), "iterations": int(r.trace.iterations[0]),
                     "largest pixel change (1/255)": float((r.x_adv - kit.x).abs().max() * 255)}
              for name, r in alpha_runs.items()}).T

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
# largest value $|x_{adv} - x|$ can take at any pixel? Check your bound on three photos,
# and say how close the largest change comes to it.
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
import pandas as pd
from lotslib import lots
from lotslib.models import exercise_kit

kit = exercise_kit(3)
run = lots(kit.net, kit.x, iters=kit.iters, tau=kit.tau, alpha=kit.alpha)
largest = ((run.x_adv - kit.x).abs().amax(dim=(1, 2, 3)) * 255).numpy()
bound = run.trace.iterations.numpy() * kit.alpha * 255
pd.DataFrame({"largest change (1/255)": largest, "bound k·α (1/255)": bound, "share of the bound (%)": 100 * largest / bound},
             index=kit.photos.ids)

# %% [markdown]
# The bound is met exactly when one pixel has the largest gradient, with the same sign, in
# every step: it then moves by the full $\alpha$ each time. Every other pixel moves by the
# fraction of $\alpha$ that its gradient has of the largest one.
#
# ```{solution-end}
# ```
