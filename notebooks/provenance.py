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
profile = "embedded"
model = "efficientnet_lite0"
models = ["efficientnet_lite0", "efficientnet_lite2"]
compare_models = ["efficientnet_lite0", "efficientnet_lite2"]
image_source = "embedded"
image_path = None
ground_truth = None
n_images = 10
n_grid = 6
n_grid_large = 10
iters = 40
tau = 0.1
alpha = 1 / 255
filter_size = 49
steps = 16
batch_size = 4
device = "cpu"
cache_dir = ".cache/book"
seed = 0

# %%
from pathlib import Path

import pandas as pd

from lotslib import book, plots, provenance
from lotslib.data import embedded

book.setup(seed=seed)
params = {k: globals()[k] for k in book.PARAM_NAMES}
images = book.open_images(image_source, image_path, ground_truth, n_images)
book.run_table(params, "provenance", images)

# %%
git = provenance.git_state()
info = pd.DataFrame(provenance.hardware() + [
    {"item": "profile", "value": profile},
    {"item": "git commit", "value": (git.get("commit", "not a git checkout") + (" (uncommitted changes)" if git.get("dirty") else ""))},
    {"item": "lotslib code fingerprint", "value": book._code_fingerprint()},
]).set_index("item")
plots.table(info, "Build machine, date and repository state")

# %%
runs = pd.DataFrame([r for r in provenance.chapter_runs(Path("book")) if r["chapter"] != "provenance"])
if len(runs):
    display(plots.table(runs.set_index("chapter"), "Chapter executions recorded by lotslib.book (seconds: papermill wall time; key: hash of source, parameters and lotslib code)",
                fmt={"seconds": "{:.0f}"}))

# %%
plots.table(pd.DataFrame(provenance.package_versions()).set_index("package"), "Package versions")

# %%
used = list(dict.fromkeys([model, *models, *compare_models]))
plots.table(pd.DataFrame(provenance.weights(used)).set_index("model"), "Weight files and their SHA-256 hashes", fmt={"MB": "{:.1f}"})

# %%
photos = embedded("photos")
lists = pd.DataFrame([
    {"list": "chapters 1-5", "source": images.description, "images": len(images), "list hash": images.fingerprint()},
    {"list": "chapter 6 (photos)", "source": photos.description, "images": len(photos), "list hash": photos.fingerprint()},
]).set_index("list")
plots.table(lists, "Image lists (the list hash covers ids, labels and content digests, in order)")

# %%
plots.table(pd.DataFrame(provenance.images(images)).set_index("image"), "Images of chapters 1-5 and their content digests")

# %%
ref = Path("data/thesis_tables.csv")
if ref.is_file():
    display(plots.table(pd.DataFrame([{"file": str(ref), "sha256": provenance.sha256_file(ref)}]).set_index("file"),
                "Reference values transcribed from the thesis (Tables 5.1-5.3)"))

# %%
timing = Path(book.ROOT) / "data" / "book_time.json"
if timing.is_file():
    bt = provenance.book_time(timing)
    plots.table(pd.DataFrame(bt).set_index("item"),
                "Recorded build times of this book (benchmarks/book_time.py: cold = empty cache, warm = rerun right after)")
else:
    print("No recorded build time: run `python benchmarks/book_time.py` (writes data/book_time.json).")
