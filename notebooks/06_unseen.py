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
params = {}

# %%
from lotslib import chapter, data, plots, reports
from lotslib.targets import image_target

ctx = chapter.open_chapter(params, "6", table=False)
photos = data.embedded("photos")
cases = [
    ("motorcycle_left", "motorcycle_right", "motorcycle, left view", "right view (target)"),
    ("astronaut", "grace_hopper", "person (astronaut)", "another person (target)"),
]
used = photos.select([c[0] for c in cases] + [c[1] for c in cases])
net = ctx.model(ctx.compare_models[-1])
display(ctx.run_table(used))

# %% [markdown]
# ## What the network predicts

# %%
xs = {pid: photos.select([pid]).batch(net).to(ctx.device) for pid in used.ids}
plots.table(reports.top_k_table(net, xs, 5),
            f"Top-5 ImageNet classes of {net.name} for the photos of this chapter: none of them has a class of its own")

# %% [markdown]
# ## LOTS with an extracted target against the CAMs (thesis Figure 5.7)

# %%
runs = {}
for k, (pid, tid, title, ttitle) in enumerate(cases):
    src, x = photos.select([pid]), xs[pid]
    runs[pid] = {"extracted": ctx.lots(net, src, image_target(net, xs[tid], key=tid), f"image:{tid}", x=x),
                 "zero": ctx.lots(net, src, x=x)}
    maps, c = reports.extracted_target_maps(net, x, runs[pid], ctx.filter_size, ctx.batch_size)
    plots.show(
        plots.figure_5_7(x, xs[tid], maps, title, ttitle),
        f"fig-5-7-{k + 1}",
        f"**Regenerates thesis Figure 5.7** (there: black olives on ConvNeXt Tiny) for a {title.split(',')[0].split(' (')[0]}. "
        f"{net.name}: (a) the photo ({pid}); (b) the photo whose features are the extracted target ({tid}); (c) LOTS with "
        f"the extracted target; (d) LOTS with the zero target; (e)–(i) Grad-CAM, Grad-CAM++, SmoothGrad-CAM++, Layer-CAM "
        f"and HiRes-CAM for the network's top-1 class, *{plots.short_class(net.categories[int(c)])}*, the nearest of ImageNet's 1000 classes.",
    )

# %%
plots.table(reports.distance_table(runs),
            f"Distance of the logits to each LOTS target before and after the attack ({net.name}, at most {ctx.iters} iterations, τ = {ctx.tau:g})",
            fmt={"distance before": "{:.2f}", "distance after": "{:.2f}", "iterations": "{:d}", "reached τ": "{}"})

# %% [markdown]
# As in the thesis, one or two examples cannot show that LOTS localises unseen objects
# better than CAMs: there is no ground truth for where the evidence lies, and a
# systematic test would need annotated images of objects outside ImageNet's classes.
