"""Chapter 7, "Parameter study" (``notebooks/07_parameters.py``): the iteration caps of the
iteration study and its figure, and the recorded equivalence study's frontier.
"""
from __future__ import annotations

import pandas as pd


__all__ = ["iteration_caps", "equivalence_frontier", "iteration_study_figure"]


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
