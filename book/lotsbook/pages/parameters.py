"""Chapter 7, "Parameter study" (``notebooks/07_parameters.py``): LOTS's budget curve (the
protocol's stored runs read at every budget, against each CAM), the studies (plateau early
stop, step width, blur) run and shown with their captions, the recorded studies, and the
exercises' outputs.
"""
from __future__ import annotations

import pandas as pd

from ..plots import note, show, table
from ..results import recorded, recorded_meta

__all__ = ["equivalence_frontier", "iteration_study_figure", "ALPHAS_255", "FILTER_SIZES", "SIGMAS",
           "READABLE", "readable", "budget_figure", "budget_summary", "show_budget_curve", "budget_verdict_table",
           "show_recorded_budget_curve", "step_space_table", "show_step_spaces", "show_early_stop",
           "show_recorded_early_stop", "show_equivalence",
           "show_alpha_study", "show_filter_study", "budget_shape", "alpha_shape",
           "filter_shape", "show_parameter_summary"]


def equivalence_frontier(decided: pd.DataFrame) -> dict:
    """The frontier of ``experiments/lots_equivalence.py``'s candidates under two one-sided
    tests, and the sentence that states its outcome, written from the numbers.

    Parameters
    ----------
    decided : pandas.DataFrame
        :func:`lotslib.studies.equivalence_table` (per-image rows) or
        :func:`lotslib.studies.equivalence_from_summary` (the recorded summary;
        ``approximate`` True): per candidate ``mean_passes``, ``passes_ratio``,
        ``pearson_median``, ``pearson_p10``, ``<metric>_equivalent``, ``<metric>_margin``,
        ``maps_close``, ``meets_bar``, ``on_frontier``, ``picked``.

    Returns
    -------
    dict
        ``table``: candidates by mean passes (index ``candidate``) with the passes, the
        speed-up, the maps' median and 10th-percentile Pearson, the metrics shown equivalent
        (their 90% interval inside the margin), whether the candidate meets the bar and lies on
        the frontier; ``text``: the outcome.
    """
    from lotslib.metric_registry import METRICS
    from lotslib.studies import PEARSON_BAR

    keys = [m for m in METRICS.values() if f"{m.key}_equivalent" in decided]
    margins = sorted({float(decided[f"{m.key}_margin"].iloc[0]) for m in keys})
    margin = " / ".join(f"±{v:g}" for v in margins)
    rows = []
    for _, r in decided.sort_values("mean_passes").iterrows():
        eq = [m.short for m in keys if bool(r[f"{m.key}_equivalent"])]
        rows.append({"candidate": r["candidate"], "passes per map": r["mean_passes"],
                     "fewer passes": r["passes_ratio"], "Pearson median": r["pearson_median"],
                     "Pearson p10": r["pearson_p10"],
                     "metrics shown equivalent": f"{len(eq)} of {len(keys)}" + (f" ({', '.join(eq)})" if eq else ""),
                     "meets the bar": "yes" if bool(r["meets_bar"]) else "no",
                     "on the frontier": "yes" if bool(r["on_frontier"]) else "no"})
    table = pd.DataFrame(rows).set_index("candidate")
    bar = (f"maps: median Pearson >= {PEARSON_BAR['median']}, 10th percentile >= {PEARSON_BAR['p10']}; metrics: two "
           f"one-sided tests at 5% each, every metric's 90% interval of the difference inside {margin} points")
    approx = (" These decisions are approximate: they are derived from the recorded summary's 95% intervals, not from "
              "per-image rows." if bool(decided.get("approximate", pd.Series([False])).iloc[0]) else "")
    picked = decided[decided["picked"]]
    if len(picked):
        p = picked.iloc[0]
        text = (f"The cheapest schedule that meets the bar ({bar}) is **{p['candidate']}**: {p['mean_passes']:.0f} "
                f"passes per map, {p['passes_ratio']:.1f}x fewer than the protocol, median Pearson "
                f"{p['pearson_median']:.3f}.")
    else:
        close = decided[decided["maps_close"]]
        top = int(decided["n_equivalent"].max())
        best = decided[decided["n_equivalent"] == top]
        names = "; ".join(f"{r['candidate']}, {r['passes_ratio']:.1f}x fewer passes" for _, r in best.iterrows())
        text = (f"No candidate meets the bar ({bar}). {len(close)} of {len(decided)} candidates reach the maps' bar; "
                f"the most metrics any candidate shows equivalent is {top} of {len(keys)} ({names}). The book "
                f"therefore runs the protocol itself for its tables.")
    return {"table": table, "text": text + approx}


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
        Map Pearson vs the longest run, distance to the target, Deletion/Insertion AUC (its
        legend under the axes).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.4))
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
    axes[2].legend(fontsize=8, frameon=False, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.25))
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


def budget_figure(curve: pd.DataFrame, others: pd.DataFrame, metrics, chosen: int | None = None):
    """LOTS's mean per budget (with its 95% bootstrap interval) beside each other method's mean, one panel per metric.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`lotslib.studies.iteration_study` rows (``cap``, the metrics' per-image columns).
    others : pandas.DataFrame
        The other methods' benchmark rows on the same images (``method_name``, the metrics).
    metrics : Sequence of str
        Metric keys.
    chosen : int or None, optional
        A budget to mark (the figures' budget).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per metric, two a row, the legend to the right of the panels.
    """
    import matplotlib.pyplot as plt

    from lotslib.metric_registry import METRICS
    from lotslib.stats import mean_ci

    ncols = min(2, len(metrics))  # two panels a row: with the legend beside them, as wide as the page
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows + 0.3), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax in axes.flat[len(metrics):]:
        ax.set_axis_off()
    for ax, m in zip(axes.flat, metrics):
        met = METRICS[m]
        caps = sorted(curve["cap"].unique())
        stats = [mean_ci(curve.loc[curve["cap"] == c, met.col], scale=met.scale) for c in caps]
        ax.fill_between(caps, [s["ci_low"] for s in stats], [s["ci_high"] for s in stats], color="black", alpha=0.15)
        ax.plot(caps, [s["mean"] for s in stats], color="black", lw=2, marker="o", ms=3, label="LOTS")
        for i, (name, g) in enumerate(others.groupby("method_name", sort=False)):
            ax.axhline(g[met.col].mean() * met.scale, color=colors(i % 10), ls="--", lw=1, label=name)
        if chosen:
            ax.axvline(chosen, color="crimson", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("LOTS iterations")
        ax.set_title(met.label, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def budget_summary(verdicts: pd.DataFrame, flips: pd.DataFrame, n_min: int) -> dict:
    """The budget curve's table and the sentences that state its outcome, written from the numbers.

    Parameters
    ----------
    verdicts : pandas.DataFrame
        :func:`lotslib.studies.budget_verdicts`'s rows.
    flips : pandas.DataFrame
        :func:`lotslib.studies.budget_flips` of them.
    n_min : int
        The fewest paired images of any comparison.

    Returns
    -------
    dict
        ``table``: one row per budget, per metric LOTS's mean and its record against the
        methods ("better / worse / no difference" counts, or "too few images"); ``text``.
    """
    from lotslib.method_registry import method_name
    from lotslib.metric_registry import METRICS
    from lotslib.verdicts import BETTER, NO_DIFFERENCE, WORSE, too_few

    rows = {}
    for (cap, m), g in verdicts.groupby(["cap", "metric"]):
        few = too_few(g["n"].min())
        counts = g["verdict"].value_counts()
        record = few or (f"{counts.get(BETTER, 0)} better / {counts.get(WORSE, 0)} worse / "
                         f"{counts.get(NO_DIFFERENCE, 0)} no difference")
        rows.setdefault(int(cap), {})[f"{METRICS[m].label}: LOTS"] = round(float(g["lots_mean"].iloc[0]), 1)
        rows[int(cap)][f"{METRICS[m].label}: against {len(g)} CAMs"] = record
    tab = pd.DataFrame.from_dict(rows, orient="index")
    tab.index.name = "LOTS iterations"
    few = too_few(n_min)
    if few:
        text = f"No verdict is drawn: {few}, fewer than 5 paired photos."
    elif flips.empty:
        text = ("No verdict of LOTS against any CAM changes between consecutive budgets on these metrics: the budget "
                "moves LOTS's means, but not across a significant difference.")
    else:
        by = []
        for (metric, method), g in flips.groupby(["metric", "method"], sort=False):
            steps = "; ".join(f"{r.from_cap} → {r.to_cap} iterations: {r.before} → {r.after}" for r in g.itertuples())
            by.append(f"{METRICS[metric].label} against {method_name(method)} ({steps})")
        text = (f"LOTS's verdict changes with the budget in {len(flips)} place(s): " + "; ".join(by) + ".")
    return {"table": tab, "text": text}


def show_budget_curve(ctx, net, photos, cams: pd.DataFrame, lots_rows: pd.DataFrame) -> pd.DataFrame:
    """Read the protocol's LOTS runs at every budget of :data:`lotslib.params.BUDGETS`
    (:func:`lotslib.studies.iteration_study`: the store's runs and snapshots, zero target)
    and show LOTS's budget curve against each CAM: the map's convergence figure, the
    metrics' figure, the table of verdicts per budget and the sentence on where they change.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (``iters``, ``figure_iters``, ``tau``, ``alpha``, ``filter_size``, ``steps``).
    net : lotslib.models.ModelWrapper
        The backbone.
    photos : lotslib.data.ImageSource
        The photos of Table 5.2.
    cams : pandas.DataFrame
        Table 5.2's CAM rows on ``photos`` (benchmark rows).
    lots_rows : pandas.DataFrame
        Table 5.2's LOTS rows, to check the curve's last point against.

    Returns
    -------
    pandas.DataFrame
        The curve's rows (:func:`lotslib.studies.iteration_study`).
    """
    from lotslib.params import BUDGETS
    from lotslib.studies import BUDGET_METRICS, iteration_study

    curve = iteration_study(net, photos, iters=ctx.iters, checkpoints=BUDGETS, tau=ctx.tau, alpha=ctx.alpha,
                            filter_size=ctx.filter_size, steps=ctx.steps, cache_dir=ctx.cache_dir,
                            batch_size=ctx.batch_size)
    n = curve["image_id"].nunique()
    show(iteration_study_figure(curve, chosen=int(ctx.figure_iters)), "fig-iterations",
         f"**LOTS's budget (no thesis figure).** The protocol's runs ({net.name}, zero target, {n} photos, α = "
         f"{ctx.alpha * 255:g}/255, at most {ctx.iters} iterations) read at each budget from their snapshots. Left: "
         f"Pearson correlation of the map after k iterations with the map after {ctx.iters} (one line per photo, mean "
         f"in black). Middle: distance to the target. Right: Deletion and Insertion AUC ({ctx.steps} steps). The "
         f"dotted line marks the budget the figures of this build show ({ctx.figure_iters}).")
    show(budget_figure(curve, cams, BUDGET_METRICS, chosen=int(ctx.figure_iters)), "fig-budget-curve",
         f"**LOTS's budget curve against the CAMs (no thesis figure).** LOTS's mean over {n} photos at each budget "
         f"(black, shaded: 95% bootstrap interval) and each CAM's mean in Table 5.2 (dashed). Coherency is left out: "
         f"it needs a second LOTS run at every budget.")
    budget_verdict_table(curve, cams, lots_rows, ctx.iters, f"Table 5.2 ({n} photos)")
    return curve


def budget_verdict_table(curve: pd.DataFrame, cams: pd.DataFrame, lots_rows: pd.DataFrame, iters: int,
                         what: str) -> dict:
    """Show the budget curve's verdicts against each CAM (:func:`budget_summary`) and the check that
    its last point is the benchmark's LOTS row; returns the summary.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`lotslib.studies.iteration_study` rows.
    cams, lots_rows : pandas.DataFrame
        The CAM rows and the LOTS rows of the benchmark the curve's runs come from.
    iters : int
        The runs' budget (the curve's last point).
    what : str
        The benchmark in words, for the caption.
    """
    from lotslib.metric_registry import METRICS
    from lotslib.studies import BUDGET_METRICS, budget_flips, budget_verdicts

    verdicts = budget_verdicts(curve, cams)
    flips = budget_flips(verdicts)
    summ = budget_summary(verdicts, flips, int(verdicts["n"].min()) if len(verdicts) else 0)
    table(summ["table"], f"LOTS at each budget against each of the {cams['method'].nunique()} CAMs of {what}: "
          f"paired Wilcoxon tests, Holm-corrected across the CAMs of each budget and metric; metrics in %.")
    note(summ["text"])
    last = curve[curve["cap"] == iters].set_index("image_id")
    ref = lots_rows.set_index("image_id").reindex(last.index)
    cols = [METRICS[m].col for m in BUDGET_METRICS]
    gap = max(float((last[c] - ref[c]).abs().max()) for c in cols)
    note(f"Check: the curve's last point is the benchmark's LOTS row, read from the same runs (largest difference "
         f"over {len(last)} images and {len(BUDGET_METRICS)} metrics: {gap:.2g} points).")
    return summ


def show_recorded_budget_curve() -> None:
    """Show LOTS's budget curve on the recorded protocol study
    (``results/sample_study_protocol_budget.csv``, from the snapshots its runs stored) against
    that study's CAM rows, or how to record it."""
    from lotslib.method_registry import CAM_METHODS
    from lotslib.studies import BUDGET_METRICS

    curve, rows = recorded("sample_study_protocol_budget.csv"), recorded("sample_study_protocol.csv")
    if curve is None or rows is None:
        note("The recorded study's budget curve is absent: run `python experiments/sample_study.py --schedule "
             "protocol --budgets 10 40 160 500 --out results/sample_study_protocol.csv`.")
        return
    meta = recorded_meta("sample_study_protocol.json")
    cams = rows[rows["method"].isin(list(CAM_METHODS))]
    n = curve["image_id"].nunique()
    show(budget_figure(curve, cams, BUDGET_METRICS), "fig-budget-curve-recorded",
         f"**LOTS's budget curve on the recorded study (no thesis figure).** `{meta['command']}`: LOTS's mean over "
         f"{n} ImageNet training images at each budget (black, shaded: 95% bootstrap interval), read from the "
         f"snapshots of its protocol runs, and each CAM's mean in that study (dashed).")
    budget_verdict_table(curve, cams, rows[rows["method"] == "lots"], int(curve["cap"].max()),
                         f"the recorded study ({n} images)")


def step_space_table(curve: pd.DataFrame, metrics) -> pd.DataFrame:
    """Means per budget of a budget curve recorded in both step spaces, side by side.

    Parameters
    ----------
    curve : pandas.DataFrame
        ``results/budget_curve.csv``: :func:`lotslib.studies.iteration_study` rows with a
        ``step_space`` column.
    metrics : Sequence of str
        Metric keys of :data:`lotslib.metric_registry.METRICS`.

    Returns
    -------
    pandas.DataFrame
        Index: the budget; columns ``(step space, quantity)``: the mean distance to the
        target and each metric's mean in table units.
    """
    from lotslib.metric_registry import METRICS

    parts = {}
    for space, g in curve.groupby("step_space", sort=False):
        by = g.groupby("cap")
        cols = {"distance": by["distance"].mean()}
        for m in metrics:
            cols[METRICS[m].label] = by[METRICS[m].col].mean() * METRICS[m].scale
        parts[space] = pd.DataFrame(cols)
    out = pd.concat(parts, axis=1)
    out.index.name = "LOTS iterations"
    return out


def show_step_spaces(cams: pd.DataFrame) -> None:
    """Show the recorded budget curve of both step spaces (``results/budget_curve.csv``, written
    by ``experiments/budget_curve.py``): the means per budget side by side, and per space the
    verdicts' changes against the CAMs of this build's Table 5.2 (``cams``, when the photos
    match); or a note on how to record it."""
    from lotslib.studies import BUDGET_METRICS, budget_flips, budget_verdicts

    rec = recorded("budget_curve.csv")
    if rec is None:
        note("results/budget_curve.csv is absent: run `python experiments/budget_curve.py`.")
        return
    meta = recorded_meta("budget_curve.json")
    table(step_space_table(rec, BUDGET_METRICS),
          f"**Both step spaces (recorded, no thesis table).** `{meta['command']}`: {meta['model']}, "
          f"{meta['n_images']} embedded photos, zero target, α = 1/255, at most {meta['params']['iters']} iterations, "
          f"{meta['params']['steps']} insertion/deletion steps; 'pixel': pixels in [0,1], clamped; 'normalized': the "
          f"model's normalized input, no clamp. Wall time of the recorded command (LOTS runs its cache already held "
          f"were read, not run): "
          + ", ".join(f"{k} {v:.0f} s" for k, v in meta["wall_s"].items()) + ".")
    last = rec[rec["cap"] == rec["cap"].max()].groupby("step_space")["distance"].mean()
    text = [f"After {int(rec['cap'].max())} iterations the mean distance to the target is "
            + " and ".join(f"{v:.2f} in {k} space" for k, v in last.items()) + "."]
    shared = set(rec["image_id"]) & set(cams["image_id"])
    if len(shared) == rec["image_id"].nunique():
        for space, g in rec.groupby("step_space", sort=False):
            f = budget_flips(budget_verdicts(g, cams[cams["image_id"].isin(shared)]))
            text.append(f"In {space} space, {len(f)} verdict(s) against a CAM change between consecutive budgets.")
    else:
        text.append("Its photos are not those of this build's Table 5.2, so no verdict against the CAMs is drawn.")
    note(" ".join(text))


#: the studies' columns as a reader reads them (metrics in %, times in ms)
READABLE = {"iterations": "iterations", "distance": "distance to target", "seconds": "ms per map",
            "pearson_vs_reference": "Pearson r with the chapter's α", "pearson_vs_final": "Pearson r with the last map",
            "avg_drop": "Avg Drop (%)", "increase": "Avg Increase (%)", "insertion": "Insertion (%)",
            "deletion": "Deletion (%)", "alpha_255": "α (× 1/255)", "filter_size": "filter size", "sigma": "σ"}


def readable(means: pd.DataFrame) -> pd.DataFrame:
    """A study's table of means for the page: Average Increase as a percentage (it is a share
    of images), seconds as milliseconds, and every column and index named in words
    (:data:`READABLE`).

    Parameters
    ----------
    means : pandas.DataFrame
        Means of a study's columns (``increase`` in [0,1], ``seconds`` in s).

    Returns
    -------
    pandas.DataFrame
    """
    out = means.copy()
    if "increase" in out:
        out["increase"] = out["increase"] * 100
    if "seconds" in out:
        out["seconds"] = out["seconds"] * 1000
    out.index = out.index.set_names([READABLE.get(n, n) for n in out.index.names])
    return out.rename(columns=READABLE)


def show_early_stop(ctx, net, images) -> pd.DataFrame | None:
    """Run the plateau early stop against the full run on ``images`` with backbone ``net``
    (:func:`lotslib.studies.early_stop_study` with the chapter's ``patience``, ``min_delta``,
    ``study_iters``, ``tau``, ``alpha``, ``filter_size``, ``steps``: two full benchmark runs,
    all five metrics) and show its summary (:func:`lotslib.studies.early_stop_summary`) with
    its caption. Returns the study's rows (a DataFrame), or None where the profile's
    ``plateau_study`` is off: then a note says the recorded studies answer it instead."""
    from lotslib.studies import early_stop_study, early_stop_summary

    if not ctx.plateau_study:
        note(f"The plateau stop is not run live in the {ctx.profile} profile: two more LOTS runs of "
             f"{ctx.study_iters} iterations on {ctx.study_images} photos could not conclude anything from so few "
             f"images, and they would lengthen the build. Its effect is measured on recorded studies instead: "
             f"below, and paired with the protocol on 100 images in chapter 4. Set `plateau_study` (the full "
             f"profile does) to run it here.")
        return None
    es = early_stop_study(net, images, patience=ctx.patience, min_delta=ctx.min_delta, iters=ctx.study_iters,
                          tau=ctx.tau, alpha=ctx.alpha, filter_size=ctx.filter_size, steps=ctx.steps,
                          cache_dir=ctx.cache_dir, batch_size=ctx.batch_size, threads=None)
    table(
        early_stop_summary(es),
        f"**Plateau early stop (no thesis table).** {net.name}, {len(images)} images, at most {ctx.study_iters} "
        f"iterations, patience {ctx.patience}, min_delta {ctx.min_delta}: iterations and time (full ÷ early in the "
        f"last column), the Pearson correlation of the early-stopped map with the full run's map (mean; minimum in "
        f"the last column), and each metric both ways with the paired Wilcoxon p-value.",
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
    """Show the recorded equivalence study (written by ``experiments/lots_equivalence.py``):
    each schedule's passes per map, its maps' Pearson correlation with the protocol's and the
    metrics shown equivalent by two one-sided tests (:func:`equivalence_frontier`), from the
    per-image rows (``results/lots_equivalence_images.csv``) where recorded, else from the
    summary (``results/lots_equivalence.csv``, approximate); or a note on how to record it."""
    from lotslib.studies import equivalence_from_summary, equivalence_table

    eq = recorded("lots_equivalence.csv")
    if eq is None:
        note("results/lots_equivalence.csv is absent: run `python experiments/lots_equivalence.py`.")
        return
    meta = recorded_meta("lots_equivalence.json")
    per_image = recorded("lots_equivalence_images.csv")
    decided = equivalence_table(per_image) if per_image is not None else equivalence_from_summary(eq)
    frontier = equivalence_frontier(decided)
    table(frontier["table"], f"Recorded run of `{meta['command']}` (EfficientNet-Lite0, {int(eq['n'].iloc[0])} "
          f"photos): each schedule's passes per map, its maps' Pearson correlation with the protocol's, and the "
          f"metrics shown equivalent to the protocol's by two one-sided tests (margins set before looking, "
          f"`lotslib.studies.EQUIVALENCE_MARGINS`).")
    note(frontier["text"])


def show_alpha_study(ctx, net, images) -> pd.DataFrame:
    """Run the step-width study on ``images`` with backbone ``net``
    (:func:`lotslib.studies.alpha_study`: LOTS with α = k/255 for k in 0.5, the chapter's α, 2
    and 4, zero target, ``ctx.figure_iters`` iterations) and show its means per α with their caption
    (Pearson correlation in [-1,1] with the map at the chapter's α, metrics in %). Returns the
    study's rows, one per (image, α)."""
    from lotslib.studies import alpha_study

    a = ALPHAS_255
    al = alpha_study(net, images, alphas=(a[0] / 255, ctx.alpha, a[1] / 255, a[2] / 255), iters=int(ctx.figure_iters),
                     tau=ctx.tau, filter_size=ctx.filter_size, steps=ctx.steps, reference_alpha=ctx.alpha,
                     cache_dir=ctx.cache_dir, batch_size=ctx.batch_size)
    cols = ["iterations", "distance", "seconds", "pearson_vs_reference", "avg_drop", "insertion", "deletion"]
    table(
        readable(al.groupby("alpha_255")[cols].mean()),
        f"**Step width α (no thesis table).** Means over {len(images)} images for α = k/255 (rows: k), "
        f"{ctx.figure_iters} iterations, zero target; Pearson correlation with the map at α = {ctx.alpha * 255:g}/255.",
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
                           alpha=ctx.alpha, steps=ctx.steps, cache_dir=ctx.cache_dir, batch_size=ctx.batch_size)
    table(
        readable(pp.groupby(["filter_size", "sigma"])[["avg_drop", "increase", "insertion", "deletion",
                                                        "seconds"]].mean()),
        f"**Filter size and σ (no thesis table).** Metrics of the LOTS map for each Gaussian filter "
        f"(σ 'default' = 0.3·((k−1)/2 − 1) + 0.8, 7.7 for k = 49), {len(images)} images, "
        f"the protocol's runs ({ctx.iters} iterations).",
    )
    return pp


# ------------------------------------------------------------------ "What this shows": the chapter's sentences
def _span(means: pd.Series, unit: str = "%", fmt: str = "{:.1f}", label=str) -> str:
    """``"from 22.0% (160) to 33.0% (20)"``: the lowest and highest of ``means`` with their index
    labels, or ``"22.0% at every setting"`` when they are equal at the printed precision."""
    lo, hi = means.idxmin(), means.idxmax()
    if fmt.format(means[lo]) == fmt.format(means[hi]):
        return f"{fmt.format(means[lo])}{unit} at every setting"
    return f"from {fmt.format(means[lo])}{unit} ({label(lo)}) to {fmt.format(means[hi])}{unit} ({label(hi)})"


def budget_shape(curve: pd.DataFrame, cams: pd.DataFrame) -> str:
    """What LOTS's budget curve shows, written from its numbers.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`lotslib.studies.iteration_study` rows (``image_id``, ``cap``, the metrics' columns).
    cams : pandas.DataFrame
        The CAMs' benchmark rows on the same photos (``method``, ``image_id``, the metrics).

    Returns
    -------
    str
        n; per metric of :data:`lotslib.studies.BUDGET_METRICS` the lowest and highest mean over
        the budgets (with their budgets) and the spread in points; how many verdicts against a CAM
        change between consecutive budgets and the record at the largest budget
        (:func:`lotslib.studies.budget_verdicts`), or "too few images" below
        :data:`lotslib.verdicts.MIN_PAIRS` photos.
    """
    from lotslib.metric_registry import METRICS
    from lotslib.studies import BUDGET_METRICS, budget_flips, budget_verdicts
    from lotslib.verdicts import BETTER, NO_DIFFERENCE, WORSE, too_few

    n, caps = curve["image_id"].nunique(), sorted(curve["cap"].unique())
    spans = []
    for m in BUDGET_METRICS:
        means = curve.groupby("cap")[METRICS[m].col].mean() * METRICS[m].scale
        span = _span(means, label=lambda c: f"{c} iterations")
        spans.append(f"{METRICS[m].short} {span}" + ("" if "every" in span else
                                                     f", a spread of {means.max() - means.min():.1f} points"))
    text = (f"Budget (n = {n} photos, the protocol's runs read at {caps[0]} to {caps[-1]} iterations): LOTS's mean "
            + "; ".join(spans) + ".")
    few = too_few(n)
    if few:
        return text + f" No verdict against the CAMs: {few}."
    verdicts = budget_verdicts(curve, cams)
    flips = budget_flips(verdicts)
    last = verdicts[verdicts["cap"] == caps[-1]]
    record = "; ".join(f"{METRICS[m].short}: {int((g['verdict'] == BETTER).sum())} better, "
                       f"{int((g['verdict'] == WORSE).sum())} worse, "
                       f"{int((g['verdict'] == NO_DIFFERENCE).sum())} no significant difference"
                       for m, g in last.groupby("metric", sort=False))
    moved = sorted({METRICS[m].short for m in flips["metric"]}) if len(flips) else []
    text += (f" At {caps[-1]} iterations, against the {cams['method'].nunique()} CAMs (paired Wilcoxon, "
             f"Holm-corrected): {record}.")
    if moved:
        text += (f" {len(flips)} verdict(s) change between consecutive budgets ({', '.join(moved)}): a comparison of "
                 f"LOTS with a CAM on {' and '.join(moved)} depends on the budget it is read at.")
    else:
        text += " No verdict changes between consecutive budgets: the budget moves LOTS's means, not its verdicts."
    return text


def alpha_shape(al: pd.DataFrame, alpha: float) -> str:
    """What the step-width study shows, written from its numbers.

    Parameters
    ----------
    al : pandas.DataFrame
        :func:`lotslib.studies.alpha_study` rows (``image_id``, ``alpha_255``, ``iterations``,
        ``distance``, ``pearson_vs_reference``, ``avg_drop`` in %).
    alpha : float
        The chapter's α (pixel units), the reference.

    Returns
    -------
    str
        n; whether the mean distance after the budget falls as α grows (with the means at both
        ends), the lowest mean Pearson r with the chapter's map and the range of the mean Average
        Drop; Holm-corrected paired tests of each α's Average Drop against the chapter's α from
        :data:`lotslib.verdicts.MIN_PAIRS` photos on, else "too few images".
    """
    from lotslib.verdicts import NO_DIFFERENCE, compare_each, format_p, too_few

    n = al["image_id"].nunique()
    by = al.groupby("alpha_255")
    dist, r, drop = by["distance"].mean(), by["pearson_vs_reference"].mean(), by["avg_drop"].mean()
    ks = list(dist.index)
    falls = bool((dist.diff().dropna() < 0).all())
    name = "{:g}/255".format
    text = (f"Step width (n = {n} photos, {int(al['iterations'].max())} iterations): the mean distance to the target "
            f"{'falls as α grows' if falls else 'does not fall steadily as α grows'}, from {dist[ks[0]]:.2f} at "
            f"α = {name(ks[0])} to {dist[ks[-1]]:.2f} at {name(ks[-1])}; the map's mean Pearson r with the map at "
            f"α = {name(alpha * 255)} is lowest at {name(r.idxmin())} (r = {r.min():.2f}); the mean Average Drop "
            f"is {_span(drop, label=lambda k: name(k))}.")
    few = too_few(n)
    if few:
        return text + f" Which α gives the better Average Drop is not tested: {few}."
    wide = al.pivot_table(index="image_id", columns="alpha_255", values="avg_drop")
    ref = min(wide.columns, key=lambda k: abs(k - alpha * 255))
    tests = compare_each(wide[ref].to_numpy(), {k: wide[k].to_numpy() for k in wide.columns if k != ref}, False)
    parts = [f"{name(k)}: " + ("no significant difference" if t.verdict == NO_DIFFERENCE else
                               f"significant ({format_p(t.p_holm)})") for k, t in tests.iterrows()]
    return text + f" Average Drop against α = {name(ref)} (paired Wilcoxon, Holm-corrected): " + "; ".join(parts) + "."


def filter_shape(pp: pd.DataFrame, cams: pd.DataFrame, filter_size: int) -> str:
    """What the blur study shows, written from its numbers.

    Parameters
    ----------
    pp : pandas.DataFrame
        :func:`lotslib.studies.postprocess_study` rows (``image_id``, ``filter_size``, ``sigma``
        ("default" or a number as text), ``avg_drop`` in %).
    cams : pandas.DataFrame
        The CAMs' benchmark rows (``method``, ``method_name``, ``image_id``, ``avg_drop``); only
        the study's photos are read.
    filter_size : int
        The protocol's filter size (its default σ is the reference setting).

    Returns
    -------
    str
        n; the mean Average Drop at the protocol's setting, the lowest and highest over the
        settings; the setting with the lowest mean against every CAM on the same photos
        (:func:`lotslib.verdicts.compare_each`, with the warning that the best of many settings
        was chosen after looking) from :data:`lotslib.verdicts.MIN_PAIRS` photos on, else "too
        few images" and no comparison.
    """
    from lotslib.verdicts import compare_each, too_few

    n = pp["image_id"].nunique()
    drop = pp.groupby(["filter_size", "sigma"])["avg_drop"].mean()

    def name(key):
        return f"{key[0]} × {key[0]}, σ {key[1]}"

    text = (f"Blur (n = {n} photos, {len(drop)} settings of filter size and σ): the mean Average Drop of the LOTS map "
            f"is {drop.get((filter_size, 'default'), float('nan')):.1f}% at the protocol's {filter_size} × "
            f"{filter_size}, σ default, and {_span(drop, label=name)} over the settings, so the blur "
            f"alone moves it by {drop.max() - drop.min():.1f} points.")
    best = drop.idxmin()
    few = too_few(n)
    if few:
        return text + (f" Whether the lowest ({name(best)}) beats the CAMs is not tested: {few}; and the best of "
                       f"{len(drop)} settings, picked after looking, would favour LOTS even with more photos.")
    ids = pp["image_id"].unique()
    lots = pp[(pp["filter_size"] == best[0]) & (pp["sigma"] == best[1])].set_index("image_id")["avg_drop"].reindex(ids)
    sub = cams[cams["image_id"].isin(ids)]
    others = {nm: g.set_index("image_id")["avg_drop"].reindex(ids).to_numpy() for nm, g in sub.groupby("method_name")}
    tests = compare_each(lots.to_numpy(), others, False)
    counts = tests["verdict"].value_counts()
    return text + (f" At its lowest ({name(best)}) against the {len(others)} CAMs on the same photos (paired Wilcoxon, "
                   f"Holm-corrected): " + ", ".join(f"{v}: {c}" for v, c in counts.items())
                   + f". The setting is the best of {len(drop)} picked after looking, so these tests favour LOTS.")


def show_parameter_summary(curve: pd.DataFrame, cams: pd.DataFrame, al: pd.DataFrame, pp: pd.DataFrame, ctx) -> None:
    """Show the chapter's "What this shows": :func:`budget_shape`, :func:`alpha_shape` and
    :func:`filter_shape` of its studies (``ctx``: the chapter's ``alpha`` and ``filter_size``)."""
    for text in (budget_shape(curve, cams), alpha_shape(al, ctx.alpha), filter_shape(pp, cams, ctx.filter_size)):
        note(text)
