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
# Each solution is code that runs with this chapter when the book is built. Try the
# exercise first, then open the solution.
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

# %% tags=["show-input"]
from lotslib import studies
from lotslib import visualize as vis

left, right = "motorcycle_left", "motorcycle_right"
there, back = runs[left]["extracted"], ctx.lots(net, photos.select([right]), image_target(net, xs[left], key=left),
                                                f"image:{left}", x=xs[right], iters=ctx.figure_iters)
swap_maps = {v: vis.lots_map(xs[v], r.x_adv.to(ctx.device), ctx.filter_size) for v, r in ((left, there), (right, back))}
page.show_swap(ctx, net, xs, swap_maps, there, back, studies.map_correlation(swap_maps[left], swap_maps[right])[0])

# %% [markdown]
# Before the first step both runs measure the same Euclidean distance between the same two
# logit vectors, so (a) has one answer for both directions. The runs then differ: each
# changes the pixels of its own photo, and the gradient at the left view is not the
# gradient at the right view. The two views of a stereo pair are shifted against each
# other, so even two maps on the same parts of the motorcycle do not overlap pixel by pixel
# and the correlation understates their agreement; compare the figure's panels by eye.
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
# the ImageNet photos of this run? Compute both with `lotsbook.results.top1`.
# ```
#
# ```{solution-start} ex-unseen-confidence
# :class: dropdown
# ```

# %% tags=["show-input"]
import torch

(_, p_unseen), (_, p_seen) = (results.top1(net, t) for t in (torch.cat([xs[p] for p in used.ids]),
                                                            ctx.images.batch(net).to(ctx.device)))
page.show_confidence(ctx, net, used, p_unseen, p_seen)

# %% [markdown]
# A softmax classifier has no "none of these" answer: a photo outside its classes still
# gets a top-1 class, and nothing forces that class's probability to be low. A high value
# on an unseen object is a sign of overconfidence, not of recognition; this is why the
# chapter reads the CAM maps, which must explain one of those classes, with care.
#
# ```{solution-end}
# ```
