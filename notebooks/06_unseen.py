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
# Can LOTS explain what a network sees in an object it was never trained to name? The
# thesis (section 5.2.2, Figure 5.7) tries an object with no ImageNet class and compares
# the CAM methods, which must explain *some* ImageNet class, with LOTS using two targets:
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
from lotslib.cams import CAM_METHODS, METHODS, explain
from lotslib.data import embedded
from lotslib.models import load_model
from lotslib.targets import image_target
from lotslib.visualize import lots_map

book.setup(seed=seed)
params = {k: globals()[k] for k in book.PARAM_NAMES}
photos = embedded("photos")
cases = [
    ("motorcycle_left", "motorcycle_right", "motorcycle, left view", "right view (target)"),
    ("astronaut", "grace_hopper", "person (astronaut)", "another person (target)"),
]
used = photos.select([c[0] for c in cases] + [c[1] for c in cases])
net = load_model(compare_models[-1], device=device)
book.run_table(params, "6", used)

# %% [markdown]
# ## What the network predicts

# %%
rows = []
xs = {}
for pid in used.ids:
    src = photos.select([pid])
    xs[pid] = src.batch(net).to(device)
    with torch.no_grad():
        p = net(xs[pid]).softmax(1)[0]
    v, k = p.topk(5)
    rows.append({"photo": pid, **{f"top-{j + 1}": f"{plots.short_class(net.categories[int(c)])} ({100 * float(q):.1f}%)" for j, (q, c) in enumerate(zip(v, k))}})
plots.table(pd.DataFrame(rows).set_index("photo"),
            f"Top-5 ImageNet classes of {net.name} for the photos of this chapter: none of them has a class of its own")

# %% [markdown]
# ## LOTS with an extracted target against the CAMs (thesis Figure 5.7)

# %%
dist_rows = []
for k, (pid, tid, title, ttitle) in enumerate(cases):
    src = photos.select([pid])
    x, xt = xs[pid], xs[tid]
    ft = image_target(net, xt, key=tid)
    r_img = book.cached_lots(net, src, ft, f"image:{tid}", iters=iters, tau=tau, alpha=alpha, batch_size=batch_size, cache_dir=cache_dir, x=x)
    r_zero = book.cached_lots(net, src, "zero", "zero", iters=iters, tau=tau, alpha=alpha, batch_size=batch_size, cache_dir=cache_dir, x=x)
    with torch.no_grad():
        c = net(x).argmax(1)
    maps = {"LOTS, extracted target": lots_map(x, r_img.x_adv.to(device), filter_size)[0],
            "LOTS, zero target": lots_map(x, r_zero.x_adv.to(device), filter_size)[0]}
    for mk in CAM_METHODS:
        if mk != "random":
            maps[METHODS[mk]] = explain(mk, net, x, targets=c, batch_size=batch_size)[0]
    for lab, r in (("extracted", r_img), ("zero", r_zero)):
        d = r.trace.distances[0]
        dist_rows.append({"photo": pid, "target": lab, "distance before": float(d[0]), "distance after": float(r.trace.final_distance[0]),
                          "iterations": int(r.trace.iterations[0]), "reached τ": "yes" if bool(r.trace.converged[0]) else "no"})
    cname = plots.short_class(net.categories[int(c)])
    plots.show(
        plots.figure_5_7(x, xt, maps, title, ttitle),
        f"fig-5-7-{k + 1}",
        f"**Regenerates thesis Figure 5.7** (there: black olives on ConvNeXt Tiny) for a {title.split(',')[0].split(' (')[0]}. "
        f"{net.name}: (a) the photo ({pid}); (b) the photo whose features are the extracted target ({tid}); (c) LOTS with "
        f"the extracted target; (d) LOTS with the zero target; (e)–(i) Grad-CAM, Grad-CAM++, SmoothGrad-CAM++, Layer-CAM "
        f"and HiRes-CAM for the network's top-1 class, *{cname}*, the nearest of ImageNet's 1000 classes.",
    )

# %%
plots.table(pd.DataFrame(dist_rows).set_index(["photo", "target"]),
            f"Distance of the logits to each LOTS target before and after the attack ({net.name}, at most {iters} iterations, τ = {tau:g})",
            fmt={"distance before": "{:.2f}", "distance after": "{:.2f}", "iterations": "{:d}", "reached τ": "{}"})

# %% [markdown]
# As in the thesis, one or two examples cannot show that LOTS localises unseen objects
# better than CAMs: there is no ground truth for where the evidence lies, and a
# systematic test would need annotated images of objects outside ImageNet's classes.
