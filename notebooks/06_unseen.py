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
# # 6 Objects without an ImageNet class
#
# Can {term}`LOTS` explain what a network sees in an object it was never trained to name? The
# thesis (section 5.2.2, Figure 5.7) tries an object with no ImageNet class and compares
# the CAM methods, which must explain *some* ImageNet class, with LOTS using two {term}`targets <feature target>`:
# the zero vector, and the features of another image of the same object ("extracted"
# target): LOTS then changes the pixels where the two views differ in the network's eyes.
#
# **Protocol.** The thesis used one photo (black olives) on ConvNeXt Tiny. Here two
# objects that ImageNet-1k has no class for are used, both shipped with Python packages
# so the chapter runs offline: a **motorcycle** — scikit-image's stereo pair, the right
# view's features are the target for the left view (ImageNet has *moped* and *motor
# scooter*, but no motorcycle) — and a **person** — scikit-image's astronaut, with the
# features of Grace Hopper's portrait (matplotlib) as the target (ImageNet has no person
# class). The backbone is the second model of the comparison pair (ConvNeXt Tiny in the
# full profile, as in the thesis).

# %% tags=["parameters"]
params = {}

# %%
from lotslib import data
from lotsbook import chapter, results
from lotsbook.pages import unseen as page
from lotslib.targets import image_target

ctx = chapter.open_chapter(params, "6", table=False)
photos = data.embedded("photos")
used = photos.select(page.PHOTO_IDS)
net = ctx.model(ctx.compare_models[-1])
display(ctx.run_table(used))

# %% [markdown]
# ## What the network predicts

# %%
xs = {pid: photos.select([pid]).batch(net).to(ctx.device) for pid in used.ids}
page.show_top_k(net, xs)

# %% [markdown]
# ## LOTS with an extracted target against the CAMs (thesis Figure 5.7)

# %%
runs = page.show_figure_5_7(ctx, net, photos, xs)

# %%
page.show_distances(ctx, net, runs)

# %% [markdown]
# As in the thesis, one or two examples cannot show that LOTS localises unseen objects
# better than CAMs: there is no ground truth for where the evidence lies, and a
# systematic test would need annotated images of objects outside ImageNet's classes.

# %% [markdown]
# ## What this shows
#
# How much of the distance to each target LOTS removed on these photos, computed from the
# table above.

# %%
page.show_unseen_summary(runs)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build.
# Lite0 here stands in for the chapter's second backbone: the question is about any ImageNet
# classifier, and Lite0 is the cheapest. Try the exercise first, then open
# the solution.
#
# ```{exercise} Swap the view and the target
# :label: ex-unseen-swap
# :nonumber:
#
# Above, LOTS moved the left view of the motorcycle towards the right view's logits. Swap
# the roles: move the right view towards the left view's logits. Predict (a) the distance
# before the first step in each direction and (b) whether the two maps highlight the same
# parts of the motorcycle. Then run it and compare.
# ```
#
# ```{solution-start} ex-unseen-swap
# :class: dropdown
# ```
#
# Each view's logits become the other view's target (`lotslib.targets.image_target`); both
# runs use the kit's LOTS settings, and each map is laid over its own view.

# %% tags=["show-input"]
import torch
from torchvision.transforms.functional import to_pil_image
from lotslib import lots, studies
from lotslib import visualize as vis
from lotslib.models import exercise_kit
from lotslib.targets import image_target

kit = exercise_kit(ids=["motorcycle_left", "motorcycle_right"])
views = {v: kit.x[i:i + 1] for i, v in enumerate(kit.photos.ids)}
swap = {v: lots(kit.net, views[v], image_target(kit.net, views[w]), iters=kit.iters, tau=kit.tau, alpha=kit.alpha)
        for v, w in (("motorcycle_left", "motorcycle_right"), ("motorcycle_right", "motorcycle_left"))}
swap_maps = {v: vis.lots_map(views[v], r.x_adv, kit.filter_size) for v, r in swap.items()}
for v, r in swap.items():
    print(f"{v} → the other view: distance {float(r.trace.distances[0, 0]):.2f} before, {float(r.trace.final_distance[0]):.2f} after")
print(f"Pearson r of the two maps: {studies.map_correlation(*swap_maps.values())[0]:.2f}")
to_pil_image(torch.cat([vis.overlay(views[v], m)[0] for v, m in swap_maps.items()], 2))

# %% [markdown]
# Before the first step both runs measure the same Euclidean distance between the same two
# logit vectors, so (a) has one answer for both directions. The runs then differ: each
# changes the pixels of its own photo, and the gradient at the left view is not the
# gradient at the right view. The two views of a stereo pair are shifted against each
# other, so even two maps on the same parts of the motorcycle do not overlap pixel by pixel
# and the correlation understates their agreement; compare the two panels by eye.
#
# ```{solution-end}
# ```
#
# ```{exercise} How sure is the network about objects it cannot name?
# :label: ex-unseen-confidence
# :nonumber:
#
# The network must spread its probability over ImageNet's 1000 classes even for a photo
# of none of them. Predict: is its top-1 probability lower on this chapter's photos than on
# six of the embedded ImageNet photos? Compute both from the softmax of the logits.
# ```
#
# ```{solution-start} ex-unseen-confidence
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib.models import exercise_kit

seen = exercise_kit(6)
unseen = exercise_kit(ids=["motorcycle_left", "motorcycle_right", "astronaut", "grace_hopper"])
for name, k in (("unseen", unseen), ("ImageNet", seen)):
    p = k.net(k.x).softmax(1).amax(1)
    print(f"{name} photos: top-1 probability {100 * float(p.mean()):.0f}% on average ({100 * float(p.min()):.0f}% to {100 * float(p.max()):.0f}%)")

# %% [markdown]
# A softmax classifier has no "none of these" answer: a photo outside its classes still
# gets a top-1 class, and nothing forces that class's probability to be low. A high value
# on an unseen object is a sign of overconfidence, not of recognition; this is why the
# chapter reads the CAM maps, which must explain one of those classes, with care.
#
# ```{solution-end}
# ```
