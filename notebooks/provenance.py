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

import pandas as pd

from lotslib import data
from lotsbook import chapter, plots, provenance, results
from lotsbook.pages import provenance as page

ctx = chapter.open_chapter(params, "provenance")
images = ctx.images

# %%
plots.table(page.build_info(ctx.profile), "Build machine, date and repository state")

# %%
runs = page.chapter_runs(Path("book"))
if len(runs):
    plots.table(runs, "Chapter executions recorded by lotsbook.build (seconds: papermill wall time; key: hash of source, parameters and lotslib code)",
                fmt={"seconds": "{:.0f}"})
else:
    plots.note("No chapter execution is recorded in book/ yet.")

# %%
plots.table(pd.DataFrame(provenance.package_versions()).set_index("package"), "Package versions")

# %%
used = list(dict.fromkeys([ctx.params["model"], *ctx.models, *ctx.compare_models]))
plots.table(pd.DataFrame(provenance.weights(used)).set_index("model"), "Weight files and their SHA-256 hashes", fmt={"MB": "{:.1f}"})

# %%
plots.table(page.image_lists(images, data.embedded("photos")), "Image lists (the list hash covers ids, labels and content digests, in order)")

# %%
plots.table(pd.DataFrame(provenance.images(images)).set_index("image"), "Images of chapters 1-5 and their content digests")

# %%
ref = Path("lotslib/resources/thesis_tables.csv")
if ref.is_file():
    plots.table(pd.DataFrame([{"file": str(ref), "sha256": provenance.sha256_file(ref)}]).set_index("file"),
                "Reference values transcribed from the thesis (Tables 5.1-5.3)")
else:
    plots.note(f"{ref} is missing: the thesis's reference values are not shown.")

# %%
bt = results.recorded("book_time.json")
if bt is not None:
    plots.table(bt, "Recorded build times of this book (experiments/book_time.py: cold = empty cache, warm = rerun right after)")
else:
    plots.note("No recorded build time: run `python experiments/book_time.py` (writes results/book_time.json).")
