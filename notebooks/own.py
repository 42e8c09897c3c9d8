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
from lotsbook import chapter, plots, results, single_image
from lotsbook.pages import own as page

ctx = chapter.open_chapter(params, "own", table=False)
source = single_image.open_image(ctx.params.get("image"))
net = ctx.net
display(page.run_table(ctx.params, source))
plots.note(
    f"**Image:** `{source[0].name}` ({source.description}), {source[0].image.shape[2]} × {source[0].image.shape[1]} "
    f"pixels, shown to {net.name} as a {net.input_size} × {net.input_size} centre crop."
    + ("" if ctx.params.get("image") else
       " This is the default photo; run `python -m lotsbook --chapters own --image YOUR_PHOTO` to see yours.")
)

# %% [markdown]
# ## Every method on the image (as thesis Figure 5.2)
#
# Every method of Table 5.2 in the registry's order: the CAM methods explain the network's
# top-1 class; LOTS with the zero target needs no class and shows everything the network
# reacts to (chapter 2 explains how the map is made).

# %%
run = chapter.benchmark_params(ctx.params)
rep = page.explain_image(net, source.batch(net).to(ctx.device), lots=run["lots"], metrics=run["metrics"],
                                 seed=ctx.seed)
top1 = plots.short_class(net.categories[rep.target])
plots.show(
    plots.methods_figure(rep.x, rep.maps, first_title=f"{top1} {100 * rep.probability:.1f}%"),
    "fig-own-maps",
    f"**All methods on {source[0].name}, as in thesis Figure 5.2.** {net.name}: (a) the image with its top-1 class "
    f"*{top1}* ({100 * rep.probability:.1f}%); then each method's heat-map: {rep.legend()}. The CAM methods explain "
    f"the top-1 class; LOTS uses the zero target, at most {ctx.iters} iterations, {ctx.filter_size} × "
    f"{ctx.filter_size} blur."
    + (f" All-zero maps (a constant map): {', '.join(rep.degenerate)}." if rep.degenerate else ""),
)

# %% [markdown]
# ## Predictions before and after LOTS (as thesis Figure 4.1)

# %%
pred = results.predictions(net, rep.x, rep.lots, source)
plots.table(
    pred.table,
    f"Predictions of {net.name} on {source[0].name} before and after LOTS (zero target, at most {ctx.iters} "
    f"iterations): the confidence in the original top-1 class went from {pred.confidence_before:.1f}% to "
    f"{pred.confidence_after:.1f}%.",
    fmt={"p(original top-1) after %": "{:.2f}", "final distance": "{:.2f}"},
)
plots.show(
    plots.figure_4_1(rep.x, rep.lots.x_adv, pred.titles_before, pred.titles_after),
    "fig-own-lots",
    f"**The LOTS perturbation of {source[0].name}, as in thesis Figure 4.1.** Left: the image with its top-1 class; "
    f"middle: adversarial − original, ×10, shifted by 128; right: the adversarial image with its top-1 class "
    f"({net.name}, zero target, {int(rep.lots.trace.iterations[0])} iterations, stop: {rep.lots.trace.stop_reason[0]}).",
)

# %% [markdown]
# ## The metrics for this image (as thesis Table 5.2)
#
# Chapter 4 defines the metrics and averages them over many images; here each is the value
# of this one image, so Average Increase is either 0 or 100 and no difference is tested for
# significance.

# %%
plots.table(
    rep.metrics,
    f"The metrics of every method on {source[0].name} ({net.name}, top-1 class {top1}; {ctx.steps} insertion/deletion "
    f"steps, fill={ctx.fill}, score={ctx.score}); the best value of each metric is bold. Time per map includes the "
    f"first call's set-up.",
    fmt="{:.1f}",
    best={c: plots.direction(c) for c in rep.metrics.columns if plots.direction(c)},
)
plots.note("\n".join(f"* {s}" for s in page.metric_verdicts(rep)))

# %%
for kind in ("insertion", "deletion"):
    plots.show(
        plots.curves_figure(rep.curves[kind], kind),
        f"fig-own-{kind}",
        f"**{kind.capitalize()} curves of {source[0].name}, as in thesis Figure A.{7 if kind == 'insertion' else 6}.** "
        f"Probability of the top-1 class *{top1}* ({net.name}) as pixels are "
        f"{'restored from a blurred copy' if kind == 'insertion' else 'replaced by a blurred copy'} in the order of "
        f"each method's map, {ctx.steps} steps.",
    )

# %% [markdown]
# One image is an anecdote: which method wins changes from image to image. Chapter 4 runs
# the same methods and metrics over the profile's images and tests the differences.
