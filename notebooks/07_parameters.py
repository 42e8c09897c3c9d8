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
# # 7 Parameter study: iterations, early stop, step width, blur
#
# The thesis fixes LOTS at 500 iterations, τ = 0.1, α = 1/255 and a 49 × 49 blur
# (section 5.1) and lists tuning these as future work (sections 6.2 and 7). It also
# reports LOTS as by far the slowest method (25–63 s per map, its Table 5.3). This chapter
# measures what each parameter buys:
#
# * **Iteration cap.** One LOTS run with snapshots gives the map after every shorter cap;
#   we compare each with the map after the full run (Pearson correlation) and track the
#   metrics. This is what backs the reduced iteration cap of the embedded profile.
# * **Plateau early stop** (`patience`, `min_delta` of `lotslib.lots.lots`, off by default):
#   a sample stops when its distance to the target improved by less than the relative
#   `min_delta` over the last `patience` iterations.
# * **Step width α** and **Gaussian filter** (size and σ) of Algorithm 2.
#
# **Protocol.** The zero target, the chapter's first backbone, the first `study_images`
# images. Insertion/Deletion use the chapter's `steps` (the thesis: 224) and Coherency is
# left out of the iteration, α and blur studies because it re-runs LOTS for every setting.

# %% tags=["parameters"]
params = {}

# %%
from lotslib import chapter, plots, reports, studies

ctx = chapter.open_chapter(params, "7", n_images="study_images", table=False)
net, images = ctx.net, ctx.images
display(ctx.run_table(notes={k: ctx.params[k] for k in ("study_iters", "patience", "min_delta")}))

# %% [markdown]
# ## How many iterations does the map need?

# %%
it = studies.iteration_study(net, images, iters=ctx.study_iters, checkpoints=reports.iteration_caps(ctx.iters, ctx.study_iters),
                             tau=ctx.tau, alpha=ctx.alpha, filter_size=ctx.filter_size, steps=ctx.steps, cache_dir=ctx.cache_dir)
plots.show(
    plots.iteration_study_figure(it, chosen=int(ctx.iters)),
    "fig-iterations",
    f"**Iteration cap (no thesis figure).** Left: Pearson correlation of the LOTS map after k iterations with the "
    f"map after {ctx.study_iters} iterations ({net.name}, zero target, {len(images)} images, one line each, mean in black). "
    f"Middle: distance to the target. Right: Deletion and Insertion AUC ({ctx.steps} steps). The dashed line marks the "
    f"iteration cap the other chapters of this build use ({ctx.iters}).",
)
summary = it.groupby("cap")[["iterations", "distance", "pearson_vs_final", "seconds", "avg_drop", "insertion", "deletion"]].mean()
plots.table(summary, f"Means over {len(images)} images for each iteration cap (time: measured seconds per step × steps).")

# %% [markdown]
# ## Plateau early stop
#
# Both runs below are full benchmark runs (`lotslib.benchmark.run`), so all five metrics,
# Coherency included, are measured both ways on the same images.

# %%
es = studies.early_stop_study(net, images, patience=ctx.patience, min_delta=ctx.min_delta, iters=ctx.study_iters, tau=ctx.tau,
                              alpha=ctx.alpha, filter_size=ctx.filter_size, steps=ctx.steps, cache_dir=ctx.cache_dir,
                              batch_size=ctx.batch_size, threads=None)
plots.table(
    studies.early_stop_summary(es),
    f"**Plateau early stop (no thesis table).** {net.name}, {len(images)} images, at most {ctx.study_iters} iterations, "
    f"patience {ctx.patience}, min_delta {ctx.min_delta}: iterations and time (full ÷ early in the last column), the Pearson "
    f"correlation of the early-stopped map with the full run's map (mean; minimum in the last column), and each metric "
    f"both ways with the paired Wilcoxon p-value.",
)

# %% [markdown]
# The same study at the thesis's 500 iterations on 20 real photos is recorded by
# `benchmarks/early_stop.py` (its output is `data/early_stop_study.csv`); when that file
# is present it is summarised here, with the command that produced it.

# %%
rec = reports.recorded("early_stop_study.csv")
if rec is not None:
    plots.table(
        studies.early_stop_summary(rec),
        f"**Recorded run of `python benchmarks/early_stop.py --out data/early_stop_study.csv`** (EfficientNet-Lite0, "
        f"{len(rec)} images, 500 iterations, patience 50, min_delta 0.02, 112 insertion/deletion steps; not re-run by "
        f"this build).",
    )
else:
    plots.note("data/early_stop_study.csv is absent: run `python benchmarks/early_stop.py --out data/early_stop_study.csv`.")

# %% [markdown]
# ## A cheaper schedule with the protocol's maps?
#
# `benchmarks/lots_equivalence.py` runs the thesis protocol (α = 1/255, 500 iterations,
# τ = 0.1) and cheaper candidates — fewer iterations with a larger α, a geometrically
# decaying α, the plateau stop, and combinations — on 20 embedded photos with all five
# metrics, and asks which one reproduces the protocol's maps (median Pearson ≥ 0.95, 10th
# percentile ≥ 0.90) and metrics (every paired 95% interval of the difference contains 0)
# with the fewest forward+backward passes. Its recorded output is summarised here.

# %%
eq = reports.recorded("lots_equivalence.csv")
if eq is not None:
    frontier = reports.equivalence_frontier(eq, reports.recorded_meta("lots_equivalence.json"))
    plots.table(frontier["table"], f"Recorded run of `{reports.recorded_meta('lots_equivalence.json')['command']}` "
                f"(EfficientNet-Lite0, {int(eq['n'].iloc[0])} photos): each schedule's passes per map, its maps' Pearson "
                f"correlation with the protocol's, and the metrics whose paired interval excludes 0.")
    plots.note(frontier["text"])
else:
    plots.note("data/lots_equivalence.csv is absent: run `python benchmarks/lots_equivalence.py`.")

# %% [markdown]
# ## Step width α

# %%
al = studies.alpha_study(net, images, alphas=(0.5 / 255, ctx.alpha, 2 / 255, 4 / 255), iters=int(ctx.iters), tau=ctx.tau,
                         filter_size=ctx.filter_size, steps=ctx.steps, reference_alpha=ctx.alpha, cache_dir=ctx.cache_dir)
plots.table(
    al.groupby("alpha_255")[["iterations", "distance", "seconds", "pearson_vs_reference", "avg_drop", "insertion", "deletion"]].mean(),
    f"**Step width α (no thesis table).** Means over {len(images)} images for α = k/255 (rows: k), {ctx.iters} iterations, "
    f"zero target; Pearson correlation with the map at α = {ctx.alpha * 255:g}/255.",
)

# %% [markdown]
# ## Gaussian filter of Algorithm 2

# %%
pp = studies.postprocess_study(net, images, filter_sizes=(49, 25, 13, 7, 3, 1), sigmas=(None, 3.0, 15.0),
                               iters=int(ctx.iters), tau=ctx.tau, alpha=ctx.alpha, steps=ctx.steps, cache_dir=ctx.cache_dir)
plots.table(
    pp.groupby(["filter_size", "sigma"])[["avg_drop", "increase", "insertion", "deletion", "seconds"]].mean(),
    f"**Filter size and σ (no thesis table).** Metrics of the LOTS map for each Gaussian filter "
    f"(σ 'default' = 0.3·((k−1)/2 − 1) + 0.8, 7.7 for k = 49), {len(images)} images, {ctx.iters} iterations.",
)
