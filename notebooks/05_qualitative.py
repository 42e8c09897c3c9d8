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
# The metrics of chapter 4 reward maps that keep the evidence for *one* class. LOTS with
# the zero target shows everything the network reacts to, so the thesis complements the
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
import numpy as np
import torch

from lotslib import book, plots
from lotslib.cams import CAM_METHODS, METHODS, explain
from lotslib.models import load_model
from lotslib.visualize import lots_map

book.setup(seed=seed)
params = {k: globals()[k] for k in book.PARAM_NAMES}
images = book.open_images(image_source, image_path, ground_truth, n_images)
everything = book.open_images(image_source, image_path, ground_truth, None)
book.run_table(params, "5", images)

nets = {}
def get(name):
    if name not in nets:
        nets[name] = load_model(name, device=device)
    return nets[name]

def lots_maps(net, src, x=None):
    x = src.batch(net).to(device) if x is None else x
    r = book.cached_lots(net, src, "zero", "zero", iters=iters, tau=tau, alpha=alpha, batch_size=batch_size, cache_dir=cache_dir, x=x)
    return lots_map(x, r.x_adv.to(device), filter_size)

def top1(net, x):
    with torch.no_grad():
        p = net(x).softmax(1)
    return p.argmax(1), p.max(1).values

# %% [markdown]
# ## All methods on one image (thesis Figures 5.2 and A.1–A.3)

# %%
pick = next((i for lab in (130, 129) for i, l in enumerate(everything.labels) if l == lab), 0)
one = everything[pick : pick + 1]
thesis_fig = {0: ("5.2", "AlexNet"), 1: ("A.1", "ResNet-50"), 2: ("A.2", "DenseNet-121"), 3: ("A.3", "ConvNeXt Tiny")}
for k, name in enumerate(models):
    net = get(name)
    x = one.batch(net).to(device)
    c, p = top1(net, x)
    maps = {METHODS[mk]: explain(mk, net, x, targets=c, batch_size=batch_size)[0] for mk in CAM_METHODS}
    maps["LOTS"] = lots_maps(net, one, x)[0]
    fig_no, thesis_net = thesis_fig.get(k, (f"A.{k}", "another backbone"))
    plots.show(
        plots.methods_figure(x, maps, first_title=f"{plots.short_class(net.categories[int(c)])} {100 * float(p):.1f}%"),
        f"fig-{fig_no.lower().replace('.', '-')}",
        f"**Regenerates thesis Figure {fig_no}** (there: {thesis_net}, a flamingo). {net.name} on {one[0].id}: (a) the image "
        f"with its top-1 class and confidence; (b)–(g) the six CAM methods' heat-maps for that class (Random-CAM is the "
        f"baseline); (h) LOTS, zero target, at most {iters} iterations, {filter_size} × {filter_size} blur.",
    )

# %% [markdown]
# ## HiRes-CAM and LOTS on a grid of images (thesis Figures 5.3 and 5.4)
#
# HiRes-CAM was the strongest CAM method in the thesis's Table 5.2 on ResNet-50 and
# DenseNet-121. The images are drawn at random (fixed seed) from the chapter's images;
# the titles are the top-1 classes, which need not be the true labels.

# %%
rng = np.random.default_rng(seed)
def draw(n):
    n = min(n, len(images))
    return sorted(rng.permutation(len(images))[:n].tolist())

for fig_no, name, n, thesis_n, thesis_net in (("5.3", model, n_grid, 15, "ResNet-50"), ("5.4", compare_models[0], n_grid_large, 35, "DenseNet-121")):
    net = get(name)
    idx = draw(n)
    src = images.select([images.ids[i] for i in idx])
    x = src.batch(net).to(device)
    c, p = top1(net, x)
    titles = [plots.short_class(net.categories[int(k)], 16) for k in c]
    hires = explain("hirescam", net, x, targets=c, batch_size=batch_size)
    lm = lots_maps(net, src, x)
    plots.show(
        plots.paired_grid(x, hires, lm, titles, titles, f"HiRes-CAM ({net.name})", f"LOTS, zero target ({net.name})", ncols=5),
        f"fig-{fig_no.replace('.', '-')}",
        f"**Regenerates thesis Figure {fig_no}** (there: {thesis_n} images on {thesis_net}). {len(src)} images drawn at random "
        f"(seed {seed}) from the {len(images)} images of this run, on {net.name}: top half HiRes-CAM for the top-1 class, "
        f"bottom half LOTS with the zero target; same images, same order, titles are the top-1 classes.",
    )

# %% [markdown]
# ## LOTS on two backbones (thesis Figure 5.5)

# %%
a, b = get(compare_models[0]), get(compare_models[1])
idx = draw(n_grid_large)
src = images.select([images.ids[i] for i in idx])
xa, xb = src.batch(a).to(device), src.batch(b).to(device)
ca, _ = top1(a, xa)
cb, _ = top1(b, xb)
ma, mb = lots_maps(a, src, xa), lots_maps(b, src, xb)
if xa.shape != xb.shape:  # different input sizes: show both at the first model's size
    mb = torch.nn.functional.interpolate(mb[:, None], size=xa.shape[-2:], mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)
    xb_show = xa
else:
    xb_show = xb
same = float((ca == cb).float().mean()) * 100
plots.show(
    plots.paired_grid(xa, ma, mb, [plots.short_class(a.categories[int(k)], 16) for k in ca],
                      [plots.short_class(b.categories[int(k)], 16) for k in cb],
                      f"LOTS on {a.name}", f"LOTS on {b.name}", ncols=5, x_b=xb_show),
    "fig-5-5",
    f"**Regenerates thesis Figure 5.5** (there: 35 images, DenseNet-121 against ConvNeXt Tiny). The same {len(src)} images "
    f"with LOTS (zero target) on {a.name} (top) and {b.name} (bottom); titles are each model's top-1 class — they agree "
    f"on {same:.0f}% of the images." + (f" {b.name}'s maps were resized to {a.name}'s input size." if xa.shape != xb.shape else ""),
)
