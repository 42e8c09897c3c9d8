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
# # 4 LOTS against six CAM methods
#
# The thesis's main quantitative experiment (its section 5.1.2, Tables 5.2 and 5.3):
# every image is explained by Random-CAM (the baseline), Grad-CAM
# {cite}`selvaraju2017gradcam`, Grad-CAM++ {cite}`chattopadhyay2018gradcampp`,
# SmoothGrad-CAM++ {cite}`omeiza2019smoothgradcampp`, Layer-CAM {cite}`jiang2021layercam`,
# HiRes-CAM {cite}`draelos2020hirescam` (all through pytorch-grad-cam
# {cite}`gildenblat2021pytorchgradcam`, on the last convolutional layer, for the top-1
# class) and LOTS with the zero target, and each map is scored with five metrics:
#
# * **Average Drop** ↓ — the mean relative loss of confidence in the top-1 class when
#   only the explanation map $x \odot \text{map}$ is shown {cite}`chattopadhyay2018gradcampp`;
# * **Average Increase** ↑ — the share of images whose confidence *rises* on the explanation map;
# * **Coherency** ↑ — the correlation between the map of the image and the map of its
#   explanation map, rescaled to [0, 100] {cite}`poppi2021coherency`;
# * **Insertion** ↑ / **Deletion** ↓ — the area under the probability curve while the
#   pixels are restored into a blurred copy / replaced by it, most important first
#   {cite}`petsiuk2018rise`.
#
# **Protocol.** The thesis used 1000 ImageNet validation images on AlexNet, ResNet-50,
# DenseNet-121 and ConvNeXt Tiny, LOTS with at most 500 iterations, and 224
# insertion/deletion steps. The embedded profile uses the EfficientNet-Lite backbones,
# fewer images, fewer LOTS iterations (its maps are built from a shorter walk towards the
# target) and fewer insertion/deletion steps (coarser curves); its means therefore come
# with wide bootstrap intervals, and its backbones are not the thesis's, so the thesis's
# values are shown beside ours as a second table and compared through the methods' ranks.

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

import numpy as np
import pandas as pd
import torch

from lotslib import benchmark, book, plots
from lotslib.cams import METHODS, explain
from lotslib.metrics import coherency_details
from lotslib.models import load_model

book.setup(seed=seed)
params = {k: globals()[k] for k in book.PARAM_NAMES}
images = book.open_images(image_source, image_path, ground_truth, n_images)
book.run_table(params, "4", images)

# %%
df = benchmark.run(models, list(METHODS), images, params=book.benchmark_params(params),
                   cache_dir=Path(cache_dir) / "benchmark", batch_size=batch_size, device=device, progress=False)
t52 = benchmark.table_5_2(df)
thesis52 = plots.reference_wide("5.2")
same_backbones = set(models) <= set(thesis52.index.get_level_values(0))
flagged = int(df["flagged"].sum())
plots.summary_table(
    t52,
    f"Table 5.2 (regenerated): seven methods on {', '.join(models)}, {len(images)} images; mean and 95% bootstrap "
    f"interval in %, best mean per backbone and metric in bold. "
    + ("The thesis's values are beside ours. " if same_backbones else "The thesis's values (other backbones) follow in the next table. ")
    + f"{flagged} of {len(df)} rows are flagged (a constant map); they are included.",
    thesis=thesis52 if same_backbones else None,
)

# %%
if not same_backbones:
    display(plots.table(thesis52, "Thesis values of Table 5.2 (Weber 2023; 1000 ImageNet validation images), in %. "
                        "The ConvNeXt Tiny LOTS row is missing from the thesis's text.", fmt="{:.2f}",
                        best={c: plots._direction(c) for c in thesis52.columns}, best_by="model"))

# %%
plots.rank_table(
    t52, thesis52,
    "Rank of each method per metric (1 = best), averaged over the backbones: ours beside the thesis's Table 5.2. "
    "Ranks compare the methods even where the backbones differ.",
)

# %% [markdown]
# The paired test below asks, per backbone and metric, whether LOTS differs from the best
# CAM method (Random-CAM excluded) on the same images.

# %%
w = benchmark.lots_vs_best_cam(df)
w["metric"] = w["metric"].map(lambda m: benchmark.METRICS[m][0])
w["best_cam"] = w["best_cam"].map(METHODS.get)
w = w.rename(columns={"best_cam": "best CAM", "lots_mean": "LOTS", "best_mean": "best CAM's mean", "n_nonzero": "pairs ≠ 0",
                      "p_value": "p-value", "differs": "differs (p < 0.05)"})
plots.table(w.drop(columns=["lots_method", "statistic"]).set_index(["model", "metric"]),
            "LOTS against the best CAM method per backbone and metric: means in % and a two-sided Wilcoxon signed-rank test over images",
            fmt={"LOTS": "{:.2f}", "best CAM's mean": "{:.2f}", "p-value": "{:.3f}"})

# %% [markdown]
# ## Time per map (thesis Table 5.3)

# %%
t53 = benchmark.table_5_3(df)
ms = t53.xs("mean", axis=1, level="stat")
ref = benchmark.reference_tables()
ref53 = ref[ref["table"] == "5.3"].pivot_table(index="method", columns="model", values="value", aggfunc="first")
ref53.index = ref53.index.map(lambda m: METHODS.get(m, m))
ref53 = ref53.reindex(index=ms.index, columns=[c for c in ("alexnet", "resnet50", "densenet121", "convnext_tiny") if c in ref53.columns])
both = pd.concat({"this run": ms, "thesis": ref53}, axis=1)
threads = int(df["threads"].iloc[0])
plots.table(
    both,
    f"Table 5.3 (regenerated): milliseconds per map, averaged over the images, on this machine ({device}, torch threads: {threads}) "
    f"beside the thesis's values (its hardware is not stated). LOTS here runs at most {iters} iterations instead of 500, "
    f"so its time is not comparable one to one; the CAM times include the forward and backward pass.",
    fmt="{:.1f}",
)

# %% [markdown]
# ## The metrics on one image (thesis Figures A.4–A.7)

# %%
net = load_model(models[0], device=device)
ex = images.head(1)
x = ex.batch(net).to(device)
row = df[(df["model"] == net.name) & (df["method"] == "lots") & (df["image_id"] == ex.ids[0])].iloc[0]
res = book.cached_lots(net, ex, "zero", "zero", iters=iters, tau=tau, alpha=alpha, batch_size=batch_size, cache_dir=cache_dir, x=x)
from lotslib.visualize import lots_map
m = lots_map(x, res.x_adv.to(device), filter_size)
cls = int(row["top1"])
plots.show(
    plots.drop_increase_figure(x, m, net.categories[cls], row["y"], row["o"]),
    "fig-a-4",
    f"**Regenerates thesis Figure A.4 (drop/increase in confidence).** (a) {ex[0].id} with the confidence of {net.name} in its "
    f"top-1 class; (b) the LOTS activation map; (c) as a heat-map; (d) the explanation map x ⊙ map and the confidence in the "
    f"same class on it: a {'drop' if row['o'] < row['y'] else 'rise'} of {abs(row['y'] - row['o']) * 100:.1f} points "
    f"(relative drop {row['avg_drop']:.1f}%).",
)

# %%
coh = coherency_details("lots", net, x, m, [cls], iters=iters, tau=tau, alpha=alpha, filter_size=filter_size, batch_size=batch_size)
plots.show(
    plots.coherency_figure(x, m, coh.maps_again, float(coh.values[0]) / 100),
    "fig-a-5",
    f"**Regenerates thesis Figure A.5 (coherency).** (a) LOTS map of the image; (b) the explanation map; (c) the LOTS map "
    f"computed on the explanation map. Coherency is the Pearson correlation of (a) and (c), rescaled to [0, 100]: "
    f"{float(coh.values[0]):.1f}% here (benchmark row: {row['coherency']:.1f}%).",
)

# %%
sub = df[(df["model"] == net.name) & (df["image_id"] == ex.ids[0]) & df["method"].isin(list(METHODS))]
sub = sub.set_index("method").loc[[k for k in METHODS if k in set(sub["method"])]].reset_index()
cur = benchmark.load_curves(sub)
names = [METHODS[k] for k in sub["method"]]
for kind, fig_id, better in (("deletion", "A.6", "lower"), ("insertion", "A.7", "higher")):
    curves = dict(zip(names, cur[kind]))
    aucs = dict(zip(names, sub[kind] / 100))
    plots.show(
        plots.curves_figure(curves, kind, aucs=aucs),
        f"fig-{fig_id.lower().replace('.', '-')}",
        f"**Regenerates thesis Figure {fig_id} ({kind}).** Probability of the top-1 class ({plots.short_class(net.categories[cls])}) "
        f"of {net.name} on {ex[0].id} while the pixels are {'replaced by a blurred copy' if kind == 'deletion' else 'restored into a blurred copy'}, "
        f"most important first according to each method's map ({steps} steps); area under the curve in the legend, "
        f"{better} is better.",
    )

# %%
from lotslib.metrics import blur_images
order = torch.argsort(m.flatten(), descending=True)
blurred = blur_images(x)
fr = (0.0, 0.1, 0.25, 0.5, 0.75)
frames = []
for q in fr:
    mask = torch.zeros(m.numel(), dtype=torch.bool)
    mask[order[: int(q * m.numel())]] = True
    mask = mask.view(1, 1, *m.shape[-2:])
    frames.append(torch.where(mask, blurred, x)[0])
plots.show(
    plots.curve_strip_figure(frames, fr, "deletion"),
    "fig-deletion-steps",
    "**What the network sees during deletion (illustrates thesis Figure A.6).** The image with the most important pixels "
    "of the LOTS map replaced by the blurred copy, at 0, 10, 25, 50 and 75% of the pixels.",
)
