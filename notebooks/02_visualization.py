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
# # 2 From perturbation to activation map
#
# To compare LOTS with CAM methods the thesis turns the perturbation into an activation
# map (its Algorithm 2, section 4.3): convert the original and the adversarial image to
# grayscale, take the absolute difference, min-max normalise it, blur it with a Gaussian
# filter (49 × 49 pixels by default) and min-max normalise again. This chapter shows the
# steps (thesis Figure 4.2), the effect of the filter size (thesis Figure 5.6) and the
# thresholding the thesis proposes in its discussion (section 6.2) against scattered,
# noisy activations.
#
# **Protocol.** One image, the zero target and the LOTS run of chapter 1 (read from the
# cache). The thesis shows Figure 5.6 on DenseNet-121; this chapter uses the first
# backbone of the comparison pair (`compare_models[0]`; EfficientNet-Lite0 in the
# embedded profile, DenseNet-121 in the full one) and the number of LOTS iterations in
# the table below.

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
import pandas as pd
import torch

from lotslib import book, plots
from lotslib.models import load_model
from lotslib.visualize import lots_map, threshold_map

book.setup(seed=seed)
params = {k: globals()[k] for k in book.PARAM_NAMES}
images = book.open_images(image_source, image_path, ground_truth, n_images)
net = load_model(compare_models[0], device=device)
example = images.head(1)
book.run_table(params, "2", example)

# %%
x = example.batch(net).to(device)
res = book.cached_lots(net, example, "zero", "zero", iters=iters, tau=tau, alpha=alpha,
                       batch_size=batch_size, cache_dir=cache_dir, x=x)
xa = res.x_adv.to(device)
with torch.no_grad():
    p = net(x).softmax(1)[0]
top = int(p.argmax())
what = f"{example[0].id} (predicted {plots.short_class(net.categories[top])}, {100 * float(p[top]):.1f}%)"
plots.show(
    plots.figure_4_2(x, xa, filter_size),
    "fig-4-2",
    f"**Regenerates thesis Figure 4.2 (a)–(h).** The LOTS visualization procedure on {what}, {net.name}: "
    f"(a) original; (b) adversarial image from LOTS (zero target, {int(res.trace.iterations[0])} iterations of at most {iters}, "
    f"τ = {tau:g}, α = {alpha:.4g}); (c), (d) both in grayscale; (e) their absolute difference, "
    f"min-max normalised; (f) after a {filter_size} × {filter_size} Gaussian blur and a second min-max normalisation: the activation map; "
    f"(g) explanation map, the original multiplied by the map; (h) the map as a heat-map over the original.",
)

# %% [markdown]
# ## Filter size and localisation
#
# The blur decides how local the map is: a large filter gives CAM-like blobs, a small
# one keeps the pixel-level structure of the perturbation (and its noise).

# %%
sizes = (49, 25, 13, 7, 3, 1)
plots.show(
    plots.filter_size_figure(x, xa, sizes),
    "fig-5-6",
    f"**Regenerates thesis Figure 5.6.** The LOTS activation map of the same image as a heat-map for Gaussian "
    f"filter sizes {', '.join(map(str, sizes))} (panels b–g; 1 means no blur) and, in (h), the unblurred map itself. "
    f"The thesis shows this on DenseNet-121; here {net.name}.",
)

# %%
maps = {s: lots_map(x, xa, s)[0] for s in sizes}
def concentration(m, share=0.5):
    """Smallest fraction of the pixels that holds `share` of the map's total mass."""
    v = m.flatten().sort(descending=True).values
    c = v.cumsum(0) / v.sum().clamp_min(1e-12)
    return float((c < share).float().mean() + 1 / len(v))
conc = pd.DataFrame({
    "filter size": list(sizes),
    "pixels holding 50% of the map (%)": [100 * concentration(maps[s]) for s in sizes],
    "pixels above 0.5 (%)": [100 * float((maps[s] > 0.5).float().mean()) for s in sizes],
}).set_index("filter size")
plots.table(conc, "How concentrated the LOTS map is for each filter size (no thesis table; a numeric reading of Figure 5.6).")

# %% [markdown]
# ## Thresholding the map (thesis section 6.2)
#
# The thesis observes scattered activations around the main focus of LOTS maps and
# suggests removing activations below a threshold as a post-processing step. Here the
# threshold is the per-image quantile $q$ of the map: values below it are set to zero
# and the rest is min-max normalised again (`lotslib.visualize.threshold_map`).

# %%
m = lots_map(x, xa, filter_size)
qs = (0.0, 0.5, 0.8, 0.9)
plots.show(
    plots.threshold_figure(x, m, qs),
    "fig-threshold",
    f"**Thresholding proposed in thesis section 6.2 (no thesis figure).** Top row: the LOTS heat-map "
    f"({filter_size} × {filter_size} filter) without threshold and keeping only the activations above the "
    f"50%, 80% and 90% quantile of the map; bottom row: the corresponding explanation maps (image × map).",
)

# %%
with torch.no_grad():
    p_orig = net(x).softmax(1)[0, top]
    rows = []
    for q in qs:
        mq = m if q == 0 else threshold_map(m, q)
        pe = net(x * mq[:, None]).softmax(1)[0, top]
        rows.append({"quantile q": f"{q:.1f}", "pixels kept (%)": 100 * float((mq > 0).float().mean()),
                     "confidence on x ⊙ map (%)": 100 * float(pe),
                     "drop (%)": 100 * max(0.0, float(p_orig - pe)) / float(p_orig)})
plots.table(pd.DataFrame(rows).set_index("quantile q"),
            f"Confidence of {net.name} in its top-1 class ({plots.short_class(net.categories[top])}, "
            f"{100 * float(p_orig):.1f}% on the original) on the explanation maps of the thresholded LOTS maps "
            f"(one image; the drop is the thesis's Average Drop for this image).",
            fmt={"pixels kept (%)": "{:.1f}", "confidence on x ⊙ map (%)": "{:.1f}", "drop (%)": "{:.1f}"})
