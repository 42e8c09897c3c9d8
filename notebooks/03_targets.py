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
# # 3 Choice of the LOTS target
#
# {term}`LOTS` needs a {term}`target <feature target>` $F_t$ in feature space. The thesis (section 4.2) considers three:
#
# * **zero** — the zero vector: logits that favour no class, so LOTS removes whatever
#   the network recognises in the image;
# * **class** — the features of another image of the same class;
# * **mean** — the mean features of the images of that class.
#
# With a class or mean target, LOTS changes the pixels that make the image *unlike* a
# typical member of its own class, which is not the same as the pixels that make it a
# member. The thesis compares the three on ResNet-50 with the five metrics of chapter 4
# (its Table 5.1) and keeps the zero target for all later experiments.
#
# **Protocol.** The metrics are those of chapter 4: {term}`Average Drop` and {term}`Average Increase`
# {cite}`chattopadhyay2018gradcampp`, {term}`Coherency` {cite}`poppi2021coherency` (LOTS is run
# again on the {term}`explanation map`) and {term}`Insertion`/{term}`Deletion` {cite}`petsiuk2018rise` with a
# blurred substrate, all for the top-1 class of the original image. The thesis took the
# class and mean targets from the ImageNet *training* set (its section 5.1.1). Here they
# come from a labelled *reference set*: `--reference` (a folder with `labels.csv`, or an
# ImageNet train/val folder with one subfolder per class) or, by default, every image of
# the profile's source. The class target is the features of a randomly chosen (seeded)
# *other* image of the class — compared by content, so the evaluated photo is never its own
# target even under another name — and the mean target is the mean over the class's other
# reference images. An image whose class has no other reference image gets no target: its
# class and mean rows are N/A, listed below with the reason and left out of every mean.
# The embedded photos are mostly one per class, so there most rows are N/A; a reference
# folder with several images per class fills them. The backbone is the profile's main
# model (ResNet-50 in the full profile, as in the thesis).

# %% tags=["parameters"]
params = {}

# %%
from lotsbook import chapter
from lotsbook.pages import targets as page

ctx = chapter.open_chapter(params, "3")
net, images = ctx.net, ctx.images

# %%
df = ctx.benchmark(["lots", "lots_class", "lots_mean"], models=[net], all_cores=True)
page.show_table_5_1(ctx, net, df)

# %%
page.show_na_rows(df)

# %%
page.show_thesis_5_1(net)

# %%
page.show_target_tests(df)

# %% [markdown]
# ## One image, three targets (thesis Figure 5.1)

# %%
page.show_figure_5_1(ctx, net, df)

# %% [markdown]
# ## What this shows
#
# On how many images each target exists here, and what the paired tests above say; the
# sentence is computed from the rows of Table 5.1.

# %%
page.show_targets_summary(df)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build. Try the exercise first, then open
# the solution.
#
# ```{exercise} The distance to the zero target by hand
# :label: ex-target-zero
# :nonumber:
#
# With the zero target, LOTS's distance before its first step is a property of the photo
# alone. Which one? Compute it from the logits of the first two photos and compare it with
# the first distance of their LOTS traces (`trace.distances[:, 0]`).
# ```
#
# ```{solution-start} ex-target-zero
# :class: dropdown
# ```
#
# The distance to the zero vector is the Euclidean norm of the logits, $\lVert F(x)\rVert$.

# %% tags=["show-input"]
import torch
from lotslib import lots
from lotslib.models import exercise_kit

kit = exercise_kit(2)
with torch.no_grad():
    norms = kit.net(kit.x).norm(dim=1)
first = lots(kit.net, kit.x, iters=1).trace.distances[:, 0]  # the distance before the first step
for i, n, d in zip(kit.photos.ids, norms, first):
    print(f"{i}: norm of the logits {float(n):.3f}, first distance of the trace {float(d):.3f}")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Another photo as the target
# :label: ex-target-photo
# :nonumber:
#
# Use the logits of the second photo as the target of the first (`lotslib.targets.image_target`).
# Predict: is the first photo's distance to this target smaller or larger than to the zero
# vector, and will the adversarial image take the second photo's class? Run LOTS and check.
# ```
#
# ```{solution-start} ex-target-photo
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib import lots
from lotslib.models import exercise_kit
from lotslib.targets import image_target

kit = exercise_kit(2)
targets = {"zero": "zero", "second photo": image_target(kit.net, kit.x[1:2])}
for name, t in targets.items():
    r = lots(kit.net, kit.x[:1], t, iters=kit.iters, tau=kit.tau, alpha=kit.alpha)
    print(f"target {name}: distance {float(r.trace.distances[0, 0]):.2f} before, {float(r.trace.final_distance[0]):.2f} after;"
          f" top-1 after LOTS: {kit.net.categories[int(kit.net(r.x_adv).argmax())]}")
print(f"The second photo's top-1 class: {kit.net.categories[int(kit.net(kit.x[1:2]).argmax())]}")

# %% [markdown]
# Both targets are points of the same 1000-dimensional logit space, and the "distance
# before" column says which one is nearer. Reaching the other photo's logits exactly would
# give the adversarial image that photo's top-1 class (the largest logit decides it); a run
# that stops at the iteration cap can leave the image between the two.
#
# ```{solution-end}
# ```
