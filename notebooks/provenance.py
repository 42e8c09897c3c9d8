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
# # Provenance
#
# What this build of the book ran on: the parameters, the chapters and when they were
# executed, the package versions, the weight files with their SHA-256 hashes, the image
# lists with their content digests, and the machine. The page is regenerated at every
# build.

# %% tags=["parameters"]
params = {}

# %%
from pathlib import Path

from lotslib import data
from lotsbook import chapter
from lotsbook.pages import provenance as page

ctx = chapter.open_chapter(params, "provenance")

# %% [markdown]
# ## The build
#
# The machine and the date of this build, the profile it ran, and the state of the
# repository: the git commit (marked when the tree had uncommitted changes) and the
# fingerprint of the lotslib code, which is part of every chapter's execution key.

# %%
page.show_build(ctx.profile)

# %% [markdown]
# ## The chapters
#
# Each chapter's last execution: when it ran, how long papermill took, and the key of its
# source, parameters and lotslib code. A chapter whose key is unchanged is not executed again.

# %%
page.show_chapter_runs(Path("book"))

# %% [markdown]
# ## How the LOTS runs were computed
#
# A 500-step LOTS walk amplifies float rounding: the same photo's walk ends elsewhere when it
# is computed in a batch with other photos, or on another number of threads, and the metrics
# follow. The book therefore computes every walk alone on one thread, whichever chapter asks
# first; the LOTS store records how each of its runs was computed.

# %%
page.show_lots_walks(ctx.cache_dir)

# %% [markdown]
# ## Packages and weights
#
# The versions of the packages the book imports, and for every backbone the book used its
# weight file, size and SHA-256 hash: the same hash means the same weights.

# %%
page.show_packages()

# %%
page.show_weights(list(dict.fromkeys([ctx.params["model"], *ctx.models, *ctx.compare_models])))

# %% [markdown]
# ## Images and reference values
#
# The image lists with a hash over their ids, labels and content digests, then every image
# of chapters 1-5 with its own digest, and the hash of the thesis's values that the tables
# are compared with.

# %%
page.show_images(ctx.images, data.embedded("photos"))

# %%
page.show_reference()

# %% [markdown]
# ## Build times
#
# How long building this book took when it was last measured, with an empty cache and again
# right after.

# %%
page.show_build_times()
