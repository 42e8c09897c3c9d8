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
# # 3 Choice of the LOTS target
#
# {term}`LOTS` needs a {term}`target <feature target>` $F_t$ in feature space. The thesis (section 4.2) considers three:
#
# * **zero** — the zero vector: logits that favour no class, so LOTS removes whatever
#   the network recognises in the image;
# * **class** — the features of another image of the same class;
# * **mean** — the mean features of the images of that class.
#
# With a class or mean target, LOTS changes the pixels that make the image *unlike* a
# typical member of its own class, which is not the same as the pixels that make it a
# member. The thesis compares the three on ResNet-50 with the five metrics of chapter 4
# (its Table 5.1) and keeps the zero target for all later experiments.
#
# **Protocol.** The metrics are those of chapter 4: {term}`Average Drop` and {term}`Average Increase`
# {cite}`chattopadhyay2018gradcampp`, {term}`Coherency` {cite}`poppi2021coherency` (LOTS is run
# again on the {term}`explanation map`) and {term}`Insertion`/{term}`Deletion` {cite}`petsiuk2018rise` with a
# blurred substrate, all for the top-1 class of the original image. The thesis took the
# class and mean targets from the ImageNet *training* set (its section 5.1.1). Here they
# come from a labelled *reference set*: `--reference` (a folder with `labels.csv`, or an
# ImageNet train/val folder with one subfolder per class) or, by default, every image of
# the profile's source. The class target is the features of a randomly chosen (seeded)
# *other* image of the class — compared by content, so the evaluated photo is never its own
# target even under another name — and the mean target is the mean over the class's other
# reference images. An image whose class has no other reference image gets no target: its
# class and mean rows are N/A, listed below with the reason and left out of every mean.
# The embedded photos are mostly one per class, so there most rows are N/A; a reference
# folder with several images per class fills them. The backbone is the profile's main
# model (ResNet-50 in the full profile, as in the thesis).

# %% tags=["parameters"]
params = {}

# %%
from lotslib import benchmark
from lotsbook import chapter, plots, results
from lotsbook.pages import targets as page

ctx = chapter.open_chapter(params, "3")
net, images = ctx.net, ctx.images

# %%
df = ctx.benchmark(["lots", "lots_class", "lots_mean"], models=[net])
t51 = benchmark.table_5_1(df)
na = page.na_rows(df)
others = int((df["method"] != "lots").sum())
plots.summary_table(
    t51,
    f"Table 5.1 (regenerated): LOTS with the zero, class and mean target on {net.name}, {len(images)} images, "
    f"mean and 95% bootstrap interval in %; the best mean per metric in bold. The thesis's ResNet-50 values are "
    f"shown where its text gives them (the class-target row survives only as its Coherency). "
    f"{len(na)} of the {others} class/mean rows are N/A (no other reference image of the class in "
    f"{ctx.reference_set().description}) and are left out of the means; n counts the rest.",
    thesis=plots.reference_wide(benchmark.TABLE_TARGETS) if net.name == "resnet50" else None,
)

# %%
if len(na):
    plots.table(na, f"The {len(na)} N/A rows of Table 5.1 and why: a class with no other reference image has "
                    f"no class or mean target (the thesis's training set always had one).")
else:
    plots.note("No row of Table 5.1 is N/A: every image's class has another reference image.")

# %%
if net.name != "resnet50":
    plots.table(plots.reference_wide(benchmark.TABLE_TARGETS),
                        "Thesis values of Table 5.1 (Weber 2023; ResNet-50, ImageNet 1k v2 weights, 1000 validation images), in %. "
                        "Missing cells were not recoverable from the thesis's text.", fmt="{:.2f}")
else:
    plots.note("The thesis's ResNet-50 values are beside ours in Table 5.1 above.")

# %%
plots.table(page.target_tests(df),
            "Paired comparison of the zero target with the class and mean targets (two-sided Wilcoxon signed-rank test over images; "
            "with this few images only large differences can reach p < 0.05)",
            fmt={"zero": "{:.2f}", "other": "{:.2f}", "p-value (Wilcoxon)": "{:.3f}", "n": "{:d}"})

# %% [markdown]
# ## One image, three targets (thesis Figure 5.1)

# %%
ex = page.first_with_targets(df[df["method"] != "lots"], images)
x = ex.batch(net).to(ctx.device)
top1, p0 = results.top1(net, x)
maps, notes = page.target_maps(net, ctx.reference_set(), ex, x, top1, ctx.lots_maps)
name = plots.short_class(net.categories[int(top1)])
plots.show(
    plots.methods_figure(x, maps, notes, first_title=f"original: {name} {100 * float(p0):.0f}%", ncols=4),
    "fig-5-1",
    f"**Regenerates thesis Figure 5.1.** (a) The image ({ex[0].id}, the first with a class and mean target); then the "
    f"LOTS heat-maps on {net.name} with the {', '.join(k.split()[0].lower() for k in maps)} target "
    f"(at most {ctx.iters} iterations, α = {ctx.alpha:.4g}, {ctx.filter_size} × {ctx.filter_size} blur"
    + ("" if len(maps) == 3 else "; no image here has a class or mean target") + "). "
    f"The thesis shows a sea lion on ResNet-50.",
)

# %% [markdown]
# ## Exercises
#
# Each solution is code that runs with this chapter when the book is built, on the first
# two photos of this run. Try the exercise first, then open the solution.
#
# ```{exercise} The distance to the zero target by hand
# :label: ex-target-zero
# :nonumber:
#
# With the zero target, LOTS's distance before its first step is a property of the photo
# alone. Which one? Compute it from the logits of the first two photos and compare it with
# the first distance of their LOTS traces (`trace.distances[:, 0]`).
# ```
#
# ```{solution-start} ex-target-zero
# :class: dropdown
# ```
#
# The distance to the zero vector is the Euclidean norm of the logits, $\lVert F(x)\rVert$.

# %% tags=["show-input"]
import torch

pair = ctx.open_images(2)
xp = pair.batch(net).to(ctx.device)
with torch.no_grad():
    norms = net(xp).norm(dim=1)
zero_run = ctx.lots(net, pair, x=xp)
plots.note("Norm of the logits and the trace's first distance: " + "; ".join(
    f"{i}: {float(n):.3f} and {float(d):.3f}" for i, n, d in zip(pair.ids, norms, zero_run.trace.distances[:, 0])) + ".")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Another photo as the target
# :label: ex-target-photo
# :nonumber:
#
# Use the logits of the second photo as the target of the first (`lotslib.targets.image_target`).
# Predict: is the first photo's distance to this target smaller or larger than to the zero
# vector, and will the adversarial image take the second photo's class? Run LOTS and check.
# ```
#
# ```{solution-start} ex-target-photo
# :class: dropdown
# ```

# %% tags=["show-input"]
from lotslib.targets import image_target

other = pair.ids[1]
to_other = ctx.lots(net, pair.head(1), image_target(net, xp[1:2], key=other), f"image:{other}", x=xp[:1])
plots.table(results.lots_run_table(xp[:1], {"zero target": ctx.lots(net, pair.head(1), x=xp[:1]),
                                             f"logits of {other}": to_other}, pair.ids[:1]),
            f"LOTS on {pair[0].id} towards two targets, {net.name}, at most {ctx.iters} iterations.")
(c_t, _), (c_a, p_a) = results.top1(net, xp[1:2]), results.top1(net, to_other.x_adv.to(ctx.device))
plots.note(f"After LOTS, {net.name} classifies the first photo as *{plots.short_class(net.categories[int(c_a)])}* "
           f"({100 * float(p_a):.0f}%); the target photo is a *{plots.short_class(net.categories[int(c_t)])}*: "
           f"{'the same' if int(c_a) == int(c_t) else 'a different'} class.")

# %% [markdown]
# Both targets are points of the same 1000-dimensional logit space, and the "distance
# before" column says which one is nearer. Reaching the other photo's logits exactly would
# give the adversarial image that photo's top-1 class (the largest logit decides it); a run
# that stops at the iteration cap can leave the image between the two.
#
# ```{solution-end}
# ```
