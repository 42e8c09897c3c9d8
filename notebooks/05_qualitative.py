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
# # 5 Qualitative comparison
#
# The metrics of chapter 4 reward maps that keep the evidence for *one* class. {term}`LOTS` with
# the zero {term}`target <feature target>` shows everything the network reacts to, so the thesis complements the
# numbers with pictures (its section 5.2.1): all methods on one image for each backbone
# (Figure 5.2 and Appendix A.1–A.3), HiRes-CAM against LOTS on grids of randomly chosen
# images (Figures 5.3 and 5.4), and LOTS on two backbones side by side (Figure 5.5).
#
# **Protocol.** CAM methods explain the top-1 class; LOTS uses the zero target. The
# thesis's single image is a flamingo; here the first image of the flamingo class (130)
# or, failing that, of the spoonbill class (129) is used if the image source has one,
# otherwise its first image. The thesis's grids hold 15 (ResNet-50) and 35
# (DenseNet-121) images and compare DenseNet-121 with ConvNeXt Tiny; the embedded profile
# draws fewer images from its image set (`n_grid`, `n_grid_large` below) and compares
# EfficientNet-Lite0 with Lite2, whose LOTS runs are the costly part.

# %% tags=["parameters"]
params = {}

# %%
import numpy as np

from lotslib import explain
from lotsbook import chapter, plots
from lotsbook.pages import qualitative as page

ctx = chapter.open_chapter(params, "5")
images = ctx.images

# %% [markdown]
# ## All methods on one image (thesis Figures 5.2 and A.1–A.3)

# %%
one = page.first_of_classes(ctx.open_images(None), (130, 129))
page.show_all_methods(ctx, one)

# %% [markdown]
# ## HiRes-CAM and LOTS on a grid of images (thesis Figures 5.3 and 5.4)
#
# HiRes-CAM was the strongest CAM method in the thesis's Table 5.2 on ResNet-50 and
# DenseNet-121. The images are drawn at random (fixed seed) from the chapter's images;
# the titles are the top-1 classes, which need not be the true labels.

# %%
rng = np.random.default_rng(ctx.seed)
overlaps = page.show_random_grids(ctx, rng)

# %% [markdown]
# ## LOTS on two backbones (thesis Figure 5.5)

# %%
page.show_model_pair(ctx, rng)

# %% [markdown]
# ## What this shows
#
# The grids are pictures; to say how far the two methods agree on the images they show, the
# sentence below compares, per image, the 10% of the pixels each map rates highest: the
# intersection over union of those two pixel sets (`lotslib.studies.top_overlap`). A high
# value means LOTS and HiRes-CAM point at the same place; a value near the random level means
# LOTS highlights something HiRes-CAM does not, which is what the zero target, explaining no
# single class, allows.

# %%
page.show_overlap_summary(overlaps)

# %% [markdown]
# ## Exercises
#
# Each solution runs on its own, with the public `lotslib` API only: its first lines load
# the embedded EfficientNet-Lite0 and photos (`lotslib.models.exercise_kit`), so it runs in a
# plain notebook too. In the book it runs when the chapter is built, with the figures' LOTS
# budget, so its numbers are those of this build.
# The maps are laid over the photo side by side, in the order the solution lists them. Try the exercise first, then open
# the solution.
#
# ```{exercise} Does the map follow the class?
# :label: ex-qual-class
# :nonumber:
#
# HiRes-CAM explains the class you ask for; LOTS with the zero target asks for none. For
# the first photo, compute HiRes-CAM for the top-1 and for the top-2 class, and the
# LOTS map. Predict which two of the three maps correlate most, then compute the Pearson
# correlations (`lotslib.studies.map_correlation`).
# ```
#
# ```{solution-start} ex-qual-class
# :class: dropdown
# ```

# %% tags=["show-input"]
import torch
from torchvision.transforms.functional import to_pil_image
from lotslib import explain, studies
from lotslib.models import exercise_kit
from lotslib.visualize import overlay

kit = exercise_kit(1)
top2 = kit.net(kit.x)[0].topk(2).indices.tolist()
class_maps = {f"HiRes-CAM {kit.net.categories[c]}": explain("hirescam", kit.net, kit.x, targets=[c]) for c in top2}
class_maps["LOTS"] = explain("lots", kit.net, kit.x, iters=kit.iters)
(n1, h1), (n2, h2), (_, lm) = class_maps.items()
print(f"r between the HiRes-CAM maps: {studies.map_correlation(h1, h2)[0]:.2f}; between LOTS and {n1}: "
      f"{studies.map_correlation(lm, h1)[0]:.2f}; between LOTS and {n2}: {studies.map_correlation(lm, h2)[0]:.2f}")
to_pil_image(torch.cat(list(overlay(kit.x.expand(3, -1, -1, -1), torch.cat(list(class_maps.values())))), 2))

# %% [markdown]
# The LOTS map is the same whichever class one asks about: the zero target removes the
# evidence for all classes at once. HiRes-CAM's map moves with the class only as far as
# the two classes rely on different parts of the image; for two related classes (a
# flamingo and a spoonbill, say) the evidence may lie on the same pixels.
#
# ```{solution-end}
# ```
#
# ```{exercise} Thresholding LOTS towards a CAM
# :label: ex-qual-threshold
# :nonumber:
#
# The thesis suggests removing the weak, scattered activations of LOTS maps (its section
# 6.2; chapter 2 shows `lotslib.visualize.threshold_map`). Predict: does keeping only the
# top 20% of the LOTS map make it correlate better with HiRes-CAM? Check on the first two
# photos.
# ```
#
# ```{solution-start} ex-qual-threshold
# :class: dropdown
# ```

# %% tags=["show-input"]
import pandas as pd
from lotslib import explain, studies
from lotslib.models import exercise_kit
from lotslib.visualize import threshold_map

kit = exercise_kit(2)
lots_few, hires_few = explain("lots", kit.net, kit.x, iters=kit.iters), explain("hirescam", kit.net, kit.x)
pd.DataFrame({"LOTS": studies.map_correlation(lots_few, hires_few),
              "LOTS, top 20% kept": studies.map_correlation(threshold_map(lots_few, 0.8), hires_few)}, index=kit.photos.ids)

# %% [markdown]
# Thresholding zeroes about 80% of the pixels, so the map turns into a few islands; Pearson's $r$
# rewards it only where those islands lie on HiRes-CAM's blob. Where LOTS's strongest
# values sit on something HiRes-CAM ignores, the thresholded map correlates *less*.
#
# ```{solution-end}
# ```
