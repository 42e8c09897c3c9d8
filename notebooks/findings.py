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
# # Findings: what became of the thesis's claims about LOTS
#
# The thesis makes a handful of claims about {term}`LOTS` as an explanation method. This
# page lists them, in the book's words and with the section or table that makes them, and
# says what became of each one when the experiments are run again: **reproduced**, **not
# reproduced**, **mixed**, or **not testable here**. Every number on this page, and every
# verdict, is generated from the per-image results when the page is built; the prose only
# says how they are read.
#
# The claims are:
#
# * the **zero target** beats the mean and class targets on the five metrics (section 5.1.1,
#   Table 5.1; chapter 3 of this book);
# * on the five metrics of Table 5.2 (section 5.1.2; chapter 4): LOTS has a lower
#   {term}`Average Drop` than the CAM methods (said of ResNet-50), a lower {term}`Average Increase`,
#   a higher {term}`Coherency` (said of AlexNet), a lower {term}`Insertion` and a higher
#   {term}`Deletion` — the last two explained in the thesis by LOTS keeping every feature rather
#   than the top-1 class's;
# * LOTS is by far the **slowest** method (Table 5.3);
# * LOTS shows objects of **classes the network never saw** (section 5.2.2, Figure 5.7; chapter 6);
# * LOTS's maps are **finer** than CAM maps, with many small activations and features of
#   several classes (section 5.2.1, Figures 5.3–5.5, section 6.3; chapter 5).
#
# The column "the thesis's own numbers" counts, in the thesis's own table, in how many
# comparisons LOTS lies on the side the claim says. Several claims are made of one backbone and
# the same table contradicts them on the others; the verdicts below test the claim as a general
# statement about LOTS against **each** CAM method, on the backbones this book runs.
#
# The verdicts follow the book's rules. LOTS is compared with *every* CAM method (Random-CAM,
# the baseline, aside), never with one chosen afterwards because its mean looked best. All the
# comparisons of all the claims on one data set form one family, Holm-corrected together, so
# testing many claims does not manufacture a success. And no verdict is drawn from too few
# paired images. The last claims are about what the maps look like or about images of unseen
# classes; a table of per-image scores cannot answer them, and the page says so instead of
# guessing.

# %% tags=["parameters"]
params = {}

# %%
import pandas as pd

from lotslib import benchmark
from lotsbook import chapter
from lotsbook.pages import findings as page

ctx = chapter.open_chapter(params, "findings")

# %%
page.rules_note()

# %% [markdown]
# ## On the recorded study
#
# The recorded study of chapter 4 ran the thesis's methods on an EfficientNet-Lite backbone
# over ImageNet **training** images, a sample spread over the classes (the rows and their
# provenance are in `results/`; the caption names the images). The network was trained on these images, so its
# accuracy and confidence on them are optimistic, and the thesis used validation images
# instead; the comparison of LOTS with the CAM methods on the same images is still paired and
# fair. It is read from disk, not recomputed, so these verdicts do not change with this
# build's settings. The study has no class or mean target rows, so the target claim is not
# testable on it.

# %%
recorded = page.show_recorded_findings()

# %% [markdown]
# ## On this build
#
# The same claims on this build's own rows: chapter 4's Table 5.2 (the same methods, read from
# chapter 4's cache) and chapter 3's Table 5.1 rows (the zero, class and mean targets on the
# main backbone, read from chapter 3's cache). These rest on the build's few images; with the
# embedded photos most class and mean targets are missing, and a claim whose comparisons all
# have too few images is not testable here.

# %%
rows = pd.concat([ctx.benchmark(benchmark.METHODS), ctx.benchmark(["lots", "lots_class", "lots_mean"], models=[ctx.net])])
live = page.show_build_findings(ctx, rows)

# %% [markdown]
# ## Reading the verdicts
#
# A claim that is *not reproduced* is not shown false: a tie means the images at hand could
# not tell LOTS from the CAM methods at the corrected level, and the interval says how large a
# difference is still compatible with them. The backbones differ from the thesis's
# (EfficientNet-Lite instead of AlexNet, ResNet-50, DenseNet-121 and ConvNeXt Tiny), LOTS may
# run a shorter schedule than the protocol (each study's parameters are in its run table or its
# `results/` sidecar), and by default Insertion and Deletion track the original top-1 class
# rather than the highest class at each step (chapter 4 shows both conventions); any of these
# can move a verdict. Where a claim is reproduced, it is reproduced on these backbones and images, not on
# the thesis's.
