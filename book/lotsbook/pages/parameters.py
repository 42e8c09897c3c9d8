"""Chapter 7, "Parameter study" (``notebooks/07_parameters.py``): the iteration caps of the
iteration study and its figure, the four studies (iterations, plateau early stop, step width,
blur) run and shown with their captions, the recorded studies, and the exercises' outputs.
"""
from __future__ import annotations

import pandas as pd

from ..plots import note, show, table
from ..results import recorded, recorded_meta

__all__ = ["iteration_caps", "equivalence_frontier", "iteration_study_figure", "ALPHAS_255", "FILTER_SIZES", "SIGMAS",
           "show_iteration_study", "show_early_stop", "show_recorded_early_stop", "show_equivalence",
           "show_alpha_study", "show_filter_study", "show_budget", "show_kernels"]


def iteration_caps(iters: int, study_iters: int) -> list:
    """The iteration caps of chapter 7's iteration study.

    Parameters
    ----------
    iters : int
        The book's LOTS iteration cap (>= 1).
    study_iters : int
        The longest run of the study (>= 1).

    Returns
    -------
    list of int
        Ascending: 5, 10, 20, ... 320, 500 where below ``study_iters``, ``iters`` (unless it
        exceeds ``study_iters``) and ``study_iters``.
    """
    caps = sorted({c for c in (5, 10, 20, 40, 80, 160, 320, 500) if c < study_iters} | {int(iters), int(study_iters)})
    return [c for c in caps if c <= study_iters]


def equivalence_frontier(study: pd.DataFrame, meta: dict | None = None) -> dict:
    """The frontier of ``experiments/lots_equivalence.py``'s recorded candidates, and the
    sentence that states its outcome, written from the numbers.

    Parameters
    ----------
    study : pandas.DataFrame
        ``results/lots_equivalence.csv``: one row per candidate schedule (``mean_passes``,
        ``passes_ratio``, ``pearson_median``, ``pearson_p10``, ``<metric>_delta`` with
        ``_delta_low`` / ``_delta_high``, ``meets_bar``, ``picked``).
    meta : dict or None
        Its JSON sidecar (the command, the bar, the protocol's mean passes).

    Returns
    -------
    dict
        ``table``: candidates by mean passes (index ``candidate``) with the passes, the
        speed-up, the maps' median and 10th-percentile Pearson, the metrics whose paired
        interval excludes 0, and whether the candidate meets the bar; ``text``: the outcome.
    """
    from lotslib.metric_registry import METRICS

    bar = (meta or {}).get("bar", {"median": 0.95, "p10": 0.90})
    rows = []
    for _, r in study.sort_values("mean_passes").iterrows():
        moved = [m.short for m in METRICS.values()
                 if f"{m.key}_delta_low" in r and not (r[f"{m.key}_delta_low"] <= 0 <= r[f"{m.key}_delta_high"])]
        rows.append({"candidate": r["candidate"], "passes per map": r["mean_passes"],
                     "fewer passes": r["passes_ratio"], "Pearson median": r["pearson_median"],
                     "Pearson p10": r["pearson_p10"], "metrics that moved": ", ".join(moved) or "none",
                     "meets the bar": bool(r["meets_bar"])})
    table = pd.DataFrame(rows).set_index("candidate")
    picked = study[study["picked"]] if "picked" in study else study.iloc[0:0]
    if len(picked):
        p = picked.iloc[0]
        text = (f"The cheapest schedule that meets the bar (median Pearson >= {bar['median']}, 10th percentile >= "
                f"{bar['p10']}, every metric's paired 95% interval containing 0) is **{p['candidate']}**: "
                f"{p['mean_passes']:.0f} passes per map, {p['passes_ratio']:.1f}x fewer than the protocol, median "
                f"Pearson {p['pearson_median']:.3f}.")
    else:
        best = study.sort_values(["pearson_median"], ascending=False).iloc[0]
        text = (f"No candidate meets the bar (median Pearson >= {bar['median']}, 10th percentile >= {bar['p10']}, "
                f"every metric's paired 95% interval containing 0). The maps closest to the protocol's come from "
                f"**{best['candidate']}** (median Pearson {best['pearson_median']:.3f}, 10th percentile "
                f"{best['pearson_p10']:.3f}, {best['passes_ratio']:.1f}x fewer passes); every candidate with 8x fewer "
                f"passes stays at a median Pearson of at most "
                f"{study.loc[study['passes_ratio'] >= 8, 'pearson_median'].max():.3f}. The protocol's map keeps "
                f"changing until late, so the embedded profile keeps a plain iteration cap.")
    return {"table": table, "text": text}


def iteration_study_figure(df, chosen: int | None = None):
    """Three panels over the iteration cap k of an iteration study.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows of :func:`lotslib.studies.iteration_study`.
    chosen : int or None, optional
        An iteration cap to mark (default None: none is marked).

    Returns
    -------
    matplotlib.figure.Figure
        Map Pearson vs the longest run, distance to the target, Deletion/Insertion AUC.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, col, label in ((axes[0], "pearson_vs_final", "Pearson r with the final map"),
                           (axes[1], "distance", "distance to the target")):
        for _, g in df.groupby("image_id"):
            ax.plot(g["cap"], g[col], color="0.6", lw=0.9)
        mean = df.groupby("cap")[col].mean()
        ax.plot(mean.index, mean.values, color="black", lw=2, marker="o", ms=3)
        ax.set_ylabel(label)
    for col, color in (("deletion", "tab:red"), ("insertion", "tab:blue")):
        mean = df.groupby("cap")[col].mean()
        axes[2].plot(mean.index, mean.values, color=color, lw=2, marker="o", ms=3, label=col)
    axes[2].set_ylabel("AUC (%)")
    axes[2].legend(fontsize=8, frameon=False)
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("iteration cap k")
        ax.grid(alpha=0.3, which="both")
        if chosen:
            ax.axvline(chosen, color="crimson", ls="--", lw=1)
    fig.tight_layout()
    return fig


#: the step widths of the α study, besides the chapter's α (in [0,1] pixel units)
ALPHAS_255 = (0.5, 2, 4)
#: the Gaussian filter sizes and σ (None: the size's default) of the blur study
FILTER_SIZES, SIGMAS = (49, 25, 13, 7, 3, 1), (None, 3.0, 15.0)


def show_iteration_study(ctx, net, images) -> pd.DataFrame:
    """Run the iteration study (:func:`lotslib.studies.iteration_study`: one LOTS run of
    ``ctx.study_iters`` steps, zero target, with snapshots at :func:`iteration_caps`) and show
    its figure (:func:`iteration_study_figure`) and the table of its means per cap, with their
    captions.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (``iters``, ``study_iters``, ``tau``, ``alpha``, ``filter_size``, ``steps``, ``cache_dir``).
    net : lotslib.models.ModelWrapper
        The backbone.
    images : lotslib.data.ImageSource
        The study's images.

    Returns
    -------
    pandas.DataFrame
        The study's rows, one per (image, cap): ``pearson_vs_final`` in [-1,1], metrics in %.
    """
    from lotslib.studies import iteration_study

    it = iteration_study(net, images, iters=ctx.study_iters, checkpoints=iteration_caps(ctx.iters, ctx.study_iters),
                         tau=ctx.tau, alpha=ctx.alpha, filter_size=ctx.filter_size, steps=ctx.steps,
                         cache_dir=ctx.cache_dir)
    show(
        iteration_study_figure(it, chosen=int(ctx.iters)),
        "fig-iterations",
        f"**Iteration cap (no thesis figure).** Left: Pearson correlation of the LOTS map after k iterations with the "
        f"map after {ctx.study_iters} iterations ({net.name}, zero target, {len(images)} images, one line each, mean in "
        f"black). Middle: distance to the target. Right: Deletion and Insertion AUC ({ctx.steps} steps). The dashed line "
        f"marks the iteration cap the other chapters of this build use ({ctx.iters}).",
    )
    cols = ["iterations", "distance", "pearson_vs_final", "seconds", "avg_drop", "insertion", "deletion"]
    table(it.groupby("cap")[cols].mean(),
          f"Means over {len(images)} images for each iteration cap (time: measured seconds per step × steps).")
    return it


def show_early_stop(ctx, net, images) -> pd.DataFrame:
    """Run the plateau early stop against the full run on ``images`` with backbone ``net``
    (:func:`lotslib.studies.early_stop_study` with the chapter's ``patience``, ``min_delta``,
    ``study_iters``, ``tau``, ``alpha``, ``filter_size``, ``steps``: two full benchmark runs,
    all five metrics) and show its summary (:func:`lotslib.studies.early_stop_summary`) with
    its caption. Returns the study's rows (a DataFrame)."""
    from lotslib.studies import early_stop_study, early_stop_summary

    es = early_stop_study(net, images, patience=ctx.patience, min_delta=ctx.min_delta, iters=ctx.study_iters,
                          tau=ctx.tau, alpha=ctx.alpha, filter_size=ctx.filter_size, steps=ctx.steps,
                          cache_dir=ctx.cache_dir, batch_size=ctx.batch_size, threads=None)
    table(
        early_stop_summary(es),
        f"**Plateau early stop (no thesis table).** {net.name}, {len(images)} images, at most {ctx.study_iters} "
        f"iterations, patience {ctx.patience}, min_delta {ctx.min_delta}: iterations and time (full ÷ early in the last "
        f"column), the Pearson correlation of the early-stopped map with the full run's map (mean; minimum in the last "
        f"column), and each metric both ways with the paired Wilcoxon p-value.",
    )
    return es


def show_recorded_early_stop() -> None:
    """Show the summary of the recorded early-stop study (``results/early_stop_study.csv``,
    written by ``experiments/early_stop.py``) with its caption, or a note on how to record it."""
    from lotslib.studies import early_stop_summary

    rec = recorded("early_stop_study.csv")
    if rec is not None:
        table(
            early_stop_summary(rec),
            f"**Recorded run of `python experiments/early_stop.py --out results/early_stop_study.csv`** "
            f"(EfficientNet-Lite0, {len(rec)} images, 500 iterations, patience 50, min_delta 0.02, 112 "
            f"insertion/deletion steps; not re-run by this build).",
        )
    else:
        note("results/early_stop_study.csv is absent: run "
             "`python experiments/early_stop.py --out results/early_stop_study.csv`.")


def show_equivalence() -> None:
    """Show the recorded equivalence study (``results/lots_equivalence.csv``, written by
    ``experiments/lots_equivalence.py``): each schedule's passes per map, Pearson correlation
    with the protocol's maps and the metrics whose paired interval excludes 0
    (:func:`equivalence_frontier`), and the sentence naming the cheapest equivalent schedule;
    or a note on how to record it."""
    eq = recorded("lots_equivalence.csv")
    if eq is not None:
        meta = recorded_meta("lots_equivalence.json")
        frontier = equivalence_frontier(eq, meta)
        table(frontier["table"], f"Recorded run of `{meta['command']}` "
              f"(EfficientNet-Lite0, {int(eq['n'].iloc[0])} photos): each schedule's passes per map, its maps' Pearson "
              f"correlation with the protocol's, and the metrics whose paired interval excludes 0.")
        note(frontier["text"])
    else:
        note("results/lots_equivalence.csv is absent: run `python experiments/lots_equivalence.py`.")


def show_alpha_study(ctx, net, images) -> pd.DataFrame:
    """Run the step-width study on ``images`` with backbone ``net``
    (:func:`lotslib.studies.alpha_study`: LOTS with α = k/255 for k in 0.5, the chapter's α, 2
    and 4, zero target, ``ctx.iters`` iterations) and show its means per α with their caption
    (Pearson correlation in [-1,1] with the map at the chapter's α, metrics in %). Returns the
    study's rows, one per (image, α)."""
    from lotslib.studies import alpha_study

    a = ALPHAS_255
    al = alpha_study(net, images, alphas=(a[0] / 255, ctx.alpha, a[1] / 255, a[2] / 255), iters=int(ctx.iters),
                     tau=ctx.tau, filter_size=ctx.filter_size, steps=ctx.steps, reference_alpha=ctx.alpha,
                     cache_dir=ctx.cache_dir)
    cols = ["iterations", "distance", "seconds", "pearson_vs_reference", "avg_drop", "insertion", "deletion"]
    table(
        al.groupby("alpha_255")[cols].mean(),
        f"**Step width α (no thesis table).** Means over {len(images)} images for α = k/255 (rows: k), {ctx.iters} "
        f"iterations, zero target; Pearson correlation with the map at α = {ctx.alpha * 255:g}/255.",
    )
    return al


def show_filter_study(ctx, net, images) -> pd.DataFrame:
    """Run the blur study on ``images`` with backbone ``net``
    (:func:`lotslib.studies.postprocess_study`: Algorithm 2 with each filter size of
    :data:`FILTER_SIZES` and σ of :data:`SIGMAS` on one set of LOTS runs of ``ctx.iters``
    iterations) and show the metrics' means (in %) per (size, σ) with their caption. Returns
    the study's rows, one per (image, size, σ)."""
    from lotslib.studies import postprocess_study

    pp = postprocess_study(net, images, filter_sizes=FILTER_SIZES, sigmas=SIGMAS, iters=int(ctx.iters), tau=ctx.tau,
                           alpha=ctx.alpha, steps=ctx.steps, cache_dir=ctx.cache_dir)
    table(
        pp.groupby(["filter_size", "sigma"])[["avg_drop", "increase", "insertion", "deletion", "seconds"]].mean(),
        f"**Filter size and σ (no thesis table).** Metrics of the LOTS map for each Gaussian filter "
        f"(σ 'default' = 0.3·((k−1)/2 − 1) + 0.8, 7.7 for k = 49), {len(images)} images, {ctx.iters} iterations.",
    )
    return pp


def show_budget(net, one, runs: pd.DataFrame, r: float) -> None:
    """Show the exercise's two LOTS schedules with the same bound k·α side by side, and the
    Pearson r (in [-1,1]) of their maps.

    Parameters
    ----------
    net : lotslib.models.ModelWrapper
        The backbone.
    one : lotslib.data.ImageSource
        The one photo.
    runs : pandas.DataFrame
        :func:`lotsbook.results.lots_run_table` of the runs (at most ``iters`` steps of α, and
        half as many of 2α); pixel changes in 1/255.
    r : float
        The Pearson correlation of their maps.
    """
    table(runs,
          f"Two LOTS schedules with the same bound k·α on {one[0].id} ({net.name}, zero target); pixel changes in "
          f"units of 1/255.")
    note(f"Pearson r of the two maps: {r:.3f}.")


def show_kernels(s49: float, r: dict) -> None:
    """Show the sentence giving each kernel's Pearson r (in [-1,1]) with the 49 × 49,
    σ = ``s49`` map (``r``: kernel label -> r)."""
    note(f"Pearson r with the 49 × 49, σ = {s49:.1f} map: " + "; ".join(f"{name}: {v:.3f}" for name, v in r.items())
         + ".")
