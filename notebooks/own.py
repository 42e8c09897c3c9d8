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
# # Try your own image
#
# This page runs everything the book compares on **one** image: the LOTS map (zero target,
# thesis Algorithms 1 and 2), the six CAM methods for the network's top-1 class and every
# other method with a Table 5.2 row (baselines, LOTS variants), the predictions before and
# after LOTS, and the metrics of the thesis's Table 5.2 {cite}`weber2023` (with any
# registered beside them), each for that one image. By default it shows a photo shipped
# with scikit-image; it takes any photo of yours.
#
# **Your photo in this page.** Execute the page on it, then rebuild the book:
#
# ```bash
# python -m lotsbook --chapters own --image photo.jpg                       # the profile's model
# python -m lotsbook --chapters own --image photo.jpg --model efficientnet_lite2
# python -m lotsbook --chapters own --image photo.jpg --model torchvision:resnet18 --no-build
# ```
#
# The page uses the profile's LOTS and metric settings (`--iters`, `--steps`, `--fill`, ...
# apply as for every chapter). A path that does not exist, a folder, a file that is not an
# image and an unknown model are refused with the reason before anything runs. In Jupyter,
# set `params = {"image": "photo.jpg"}` in the parameters cell below.
#
# **Many photos, without the book.** The `lots` command line writes the maps of any
# registered method for image files and folders, and an HTML page of them side by side:
#
# ```bash
# lots explain photo.jpg my_folder/ --method lots --method gradcam --method hirescam --out maps/ --report
# lots explain photo.jpg --model torchvision:resnet18 --weights ckpt.pth --cam-layer layer4
# lots models
# ```
#
# For each image and method it writes the map (`.npy`, in [0, 1]), its overlay on the model's
# crop and on the whole photo (`.png`, `_full.png`), and prints the top-1 class;
# `lots explain --help` lists every option.

# %% tags=["parameters"]
params = {}

# %%
from lotsbook import chapter, single_image
from lotsbook.pages import own as page

ctx = chapter.open_chapter(params, "own", table=False)
source = single_image.open_image(ctx.params.get("image"))
page.show_image(ctx, source)

# %% [markdown]
# ## Every method on the image (as thesis Figure 5.2)
#
# Every method of Table 5.2 in the registry's order: the CAM methods explain the network's
# top-1 class; LOTS with the zero target needs no class and shows everything the network
# reacts to (chapter 2 explains how the map is made).

# %%
run = chapter.benchmark_params(ctx.params)
rep = page.explain_image(ctx.net, source.batch(ctx.net).to(ctx.device), lots=run["lots"], metrics=run["metrics"],
                         seed=ctx.seed)
page.show_maps(ctx, source, rep)

# %% [markdown]
# ## Predictions before and after LOTS (as thesis Figure 4.1)

# %%
page.show_lots(ctx, source, rep)

# %% [markdown]
# ## The metrics for this image (as thesis Table 5.2)
#
# Chapter 4 defines the metrics and averages them over many images; here each is the value
# of this one image, so Average Increase is either 0 or 100 and no difference is tested for
# significance.

# %%
page.show_metrics(ctx, source, rep)

# %%
page.show_curves(ctx, source, rep)

# %% [markdown]
# One image is an anecdote: which method wins changes from image to image. Chapter 4 runs
# the same methods and metrics over the profile's images and tests the differences.
