"""Chapter 4, "LOTS against six CAM methods" (``notebooks/04_benchmark.py``): the tests of
LOTS against every CAM method (Holm-corrected, :mod:`lotslib.verdicts`), the recorded larger study, the conventions'
verdicts, Table 5.3 (time per map) and the figures of the metrics (Average Drop/Increase, Coherency,
the deletion strip).

The benchmark itself is :mod:`lotslib.benchmark`; Table 5.2's layout is
:func:`lotslib.benchmark.table_5_2`. Images ``(1,3,H,W)`` in [0,1]; maps in [0,1].
"""
from __future__ import annotations

import pandas as pd
import torch

from lotslib.verdicts import and_list, family_note, format_p

from ..plots import (curves_figure, direction, map_panel, note, panel_grid, rank_table, reference_wide, short_class,
                     show, summary_table, table)
from ..results import recorded, recorded_meta

__all__ = [
    "best_cam_tests",
    "recorded_study",
    "RECORDED_STUDIES",
    "recorded_headline",
    "plateau_effect",
    "recorded_conventions",
    "steps_check_text",
    "show_recorded_extras",
    "convention_verdict",
    "time_table",
    "timing_paths_table",
    "timing_gap",
    "benchmark_row",
    "method_curves",
    "drop_increase_figure",
    "coherency_figure",
    "curve_strip_figure",
    "show_table_5_2",
    "show_thesis_5_2",
    "show_ranks",
    "show_best_cam_tests",
    "tests_summary",
    "show_benchmark_summary",
    "show_recorded_study",
    "FILL_METRICS",
    "THESIS_METHODS",
    "extra_rows",
    "show_other_fill",
    "show_fill_verdict",
    "show_other_score",
    "show_table_5_3",
    "show_timing_paths",
    "show_figure_a_4",
    "show_figure_a_5",
    "coherency_maps_a_5",
    "coherency_note",
    "show_figures_a_6_a_7",
    "show_deletion_steps",
]


#: the thesis's seven methods (its Table 5.2): the only ones ranked or set in bold; the methods
#: this book adds (the Sobel edge baseline, class-logit LOTS) get their own rows outside the ranking
THESIS_METHODS = ("random", "gradcam", "gradcampp", "smoothgradcampp", "layercam", "hirescam", "lots")


def extra_rows(wide: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Table 5.2's layout with the methods beyond the thesis's moved below the seven of each backbone.

    Parameters
    ----------
    wide : pandas.DataFrame
        Index (model, method label), as :func:`lotslib.benchmark.table_5_2` returns.

    Returns
    -------
    wide : pandas.DataFrame
        The same rows, per backbone the thesis's methods first (in their order), then the others.
    extra : list of str
        The labels of the other methods (for ``summary_table(..., unranked=extra)``).
    """
    from lotslib.method_registry import method_name

    ours = {method_name(k) for k in THESIS_METHODS}
    labels = wide.index.get_level_values(-1)
    extra = [r for r in dict.fromkeys(labels) if r not in ours]
    order = sorted(range(len(wide)), key=lambda i: (list(dict.fromkeys(wide.index.get_level_values(0))).index(
        wide.index[i][0]), labels[i] in extra, i))
    return wide.iloc[order], extra


def _each_cam(df: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """LOTS against every non-baseline CAM method, per backbone and metric, Holm-corrected across the whole table.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of LOTS and the CAM methods.
    metrics : Sequence of str or None
        Metric keys (default None: every registered one).

    Returns
    -------
    pandas.DataFrame
        One row per (``model``, ``metric`` key, ``cam`` key): ``lots_mean`` and ``cam_mean``
        (in %, over the finite pairs), ``n``, ``mean_diff`` (LOTS minus the CAM method, in
        points), ``p_value``, ``p_holm``, ``verdict`` (:func:`lotslib.verdicts.holm_verdicts`)
        and ``mde`` (:func:`lotslib.stats.paired_mde`, 80 % power).
    """
    from lotslib.benchmark import MODELS_ORDER
    from lotslib.method_registry import CAM_METHODS, get_method
    from lotslib.metric_registry import METRICS
    from lotslib.stats import paired_mde, paired_wilcoxon
    from lotslib.verdicts import holm_verdicts

    out = []
    models = [m for m in MODELS_ORDER if m in set(df["model"])] + sorted(set(df["model"]) - set(MODELS_ORDER))
    for model in models:
        dm = df[df["model"] == model]
        cams = [m for m in CAM_METHODS if not get_method(m).baseline and m in set(dm["method"])]
        if "lots" not in set(dm["method"]) or not cams:
            continue
        for key in (tuple(METRICS) if metrics is None else metrics):
            met = METRICS[key]
            wide = dm.pivot_table(index="image_id", columns="method", values=met.col, aggfunc="first",
                                  dropna=False).reindex(columns=["lots", *cams]) * met.scale
            for cam in cams:  # one family for the whole table: holm_verdicts below
                ok = wide["lots"].notna() & wide[cam].notna()
                t = paired_wilcoxon(wide["lots"], wide[cam])
                out.append({"model": model, "metric": key, "cam": cam, "lots_mean": wide["lots"][ok].mean(),
                            "cam_mean": wide[cam][ok].mean(), "n": t["n"], "mean_diff": t["mean_diff"],
                            "p_value": t["p_value"], "higher_is_better": met.higher_is_better,
                            "mde": paired_mde(wide["lots"][ok] - wide[cam][ok])})
    cols = ["model", "metric", "cam", "lots_mean", "cam_mean", "n", "mean_diff", "p_value", "higher_is_better", "mde"]
    return holm_verdicts(pd.DataFrame(out, columns=cols))


def best_cam_tests(df: pd.DataFrame) -> pd.DataFrame:
    """LOTS against every CAM method (not only the best one, which would be chosen after seeing the
    results) per backbone and metric, with the tables' labels.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of LOTS and the CAM methods.

    Returns
    -------
    pandas.DataFrame
        Index (``model``, ``metric``: the table label, ``CAM method``: its name); columns ``LOTS``
        and ``CAM's mean`` (in %), ``n``, ``p-value`` (uncorrected, two-sided Wilcoxon),
        ``p (Holm)`` (Holm-corrected across the table's comparisons with enough images),
        ``verdict`` (:func:`lotslib.verdicts.verdict_word`) and ``detectable difference`` (the
        smallest mean difference, in points, that the ``n`` pairs detect with 80 % power;
        :func:`lotslib.stats.paired_mde`).
    """
    from lotslib.method_registry import method_name
    from lotslib.metric_registry import METRICS

    w = _each_cam(df)
    w["metric"] = w["metric"].map(lambda m: METRICS[m].label)
    w["cam"] = w["cam"].map(method_name)
    w = w.rename(columns={"cam": "CAM method", "lots_mean": "LOTS", "cam_mean": "CAM's mean", "p_value": "p-value",
                          "p_holm": "p (Holm)", "mde": "detectable difference"})
    return w.drop(columns=["mean_diff", "higher_is_better"]).set_index(["model", "metric", "CAM method"])


def _clauses(group: pd.DataFrame) -> list[str]:
    """The comparisons of one (backbone, metric) of :func:`best_cam_tests` as clauses of a sentence:
    one per significant difference, one for all the others, one for those with too few images."""
    from lotslib.verdicts import BETTER, NO_DIFFERENCE, WORSE, format_p, too_few

    g = group.reset_index(level="CAM method").rename(columns={"CAM method": "cam", "CAM's mean": "cam_mean"})
    sig = g[g["verdict"].isin([BETTER, WORSE])]
    out = [f"LOTS ({a:.1f}) is {'better' if v == BETTER else 'worse'} than {c} ({m:.1f}), {format_p(p)}"
           for a, v, c, m, p in zip(sig["LOTS"], sig["verdict"], sig["cam"], sig["cam_mean"], sig["p (Holm)"])]
    tie = g[g["verdict"] == NO_DIFFERENCE]
    if len(tie):
        lo, hi = (f"{v:.1f}" for v in (tie["detectable difference"].min(), tie["detectable difference"].max()))
        listed = ", ".join(f"{c} ({m:.1f}, {format_p(p)})"
                           for c, m, p in zip(tie["cam"], tie["cam_mean"], tie["p (Holm)"]))
        out.append(f"LOTS ({g['LOTS'].iloc[0]:.1f}) and {listed} do not differ significantly; {tie['n'].min()} pairs "
                   f"would have detected a mean difference of {lo if lo == hi else lo + '–' + hi} "
                   f"points with 80 % power")
    few = g[~g["verdict"].isin([BETTER, WORSE, NO_DIFFERENCE])]
    if len(few):
        out.append(f"{', '.join(few['cam'])}: {too_few(few['n'].min())}, no verdict")
    return out


def recorded_study(rows: pd.DataFrame, meta: dict) -> dict:
    """The recorded larger benchmark (``experiments/sample_study.py``): its table, tests and verdicts.

    Parameters
    ----------
    rows : pandas.DataFrame
        The recorded benchmark rows (``results/sample_study.csv``).
    meta : dict
        Its JSON sidecar (command, schedule, parameters, wall time).

    Returns
    -------
    dict
        ``table`` (Table 5.2's layout, :func:`lotslib.benchmark.table_5_2`), ``tests``
        (:func:`best_cam_tests`: LOTS against every CAM method, Holm-corrected), ``n`` (images)
        and ``text``: Markdown sentences generated from those tables -- the best method per
        metric (none from fewer than 5 images), and for each metric and CAM method whether LOTS
        differs from it, or else the smallest difference the study could have detected.
    """
    from lotslib.benchmark import METRICS, table_5_2
    from lotslib.method_registry import ALL_METHODS, get_method
    from lotslib.verdicts import too_few

    table = table_5_2(rows)
    tests = best_cam_tests(rows)
    n = int(rows["image_id"].nunique())
    lots = dict(meta.get("params", {}).get("lots", {}))
    sched = (f"LOTS at α = {lots.get('alpha', float('nan')) * 255:.3g}/255, at most {lots.get('iters')} iterations, "
             f"τ = {lots.get('tau')}" + (f", plateau stop (patience {lots['patience']}, {lots['min_delta']:.0%})"
                                        if lots.get("patience") else ""))
    wall = meta.get("wall_s")
    how = (f" in {wall / 60:.0f} min on {meta.get('procs')} process(es) × {meta.get('threads')} thread(s)"
           if wall else "")
    lines = [f"The recorded study ran {n} images ({meta.get('images', 'a labelled folder')}) on "
             f"{', '.join(rows['model'].unique())} ({sched}){how}. LOTS is compared with every CAM method (paired "
             f"Wilcoxon tests; {family_note(tests['n'])})."]
    baselines = {get_method(k).name for k in ALL_METHODS if get_method(k).baseline or k not in THESIS_METHODS}
    for (model, label), group in tests.groupby(level=["model", "metric"], sort=False):
        met = next(m for m in METRICS.values() if m.label == label)
        means = table.loc[model][(label, "mean")]
        few = too_few(table.loc[model][(label, "n")].min())
        best = met.best({k: v for k, v in means.items() if k not in baselines and v == v})
        lead = f"**{label}** ({model}): " + (f"{few}, no best method; " if few else
                                             f"best method {best}; " if best else "")
        lines.append(lead + "; ".join(_clauses(group)) + ".")
    return {"table": table, "tests": tests, "n": n, "text": "\n\n".join(lines)}


def convention_verdict(base: pd.DataFrame, other: pd.DataFrame, metrics, base_name: str, other_name: str) -> dict:
    """Does the verdict of LOTS against each CAM method survive the other convention? Written from the numbers.

    Under each convention LOTS is tested against every CAM method (paired Wilcoxon, Holm-corrected
    across that convention's comparisons, no verdict from fewer than 5 images); a verdict changes
    only by :func:`lotslib.verdicts.verdict_changed` (significant under one and not the other,
    or significant with opposite signs): a tie under both is no change.

    Parameters
    ----------
    base, other : pandas.DataFrame
        Benchmark rows under the default convention and rescored under the other one
        (:func:`lotslib.benchmark.rescore`).
    metrics : Sequence of str
        The metric keys that depend on the convention.
    base_name, other_name : str
        The conventions' names for the sentences (e.g. "black fill", "mean-colour fill").

    Returns
    -------
    dict
        ``table``: a DataFrame indexed by (model, metric label, CAM method) with LOTS's and the
        CAM method's means, the Holm-corrected p-value and the verdict per convention, and
        ``verdict changes`` (yes/no); ``changed``: the number of comparisons whose verdict
        changes; ``pairs``: their total; ``text``: the sentences for the page.
    """
    from lotslib.method_registry import method_name
    from lotslib.metric_registry import METRICS
    from lotslib.verdicts import MIN_PAIRS, TOO_FEW, format_p, verdict_changed, yes_no

    a, b = (_each_cam(d, metrics).set_index(["model", "metric", "cam"]) for d in (base, other))
    rows, lines, counts = [], [], {}
    for (model, key, cam), ra in a.iterrows():
        rb = b.loc[(model, key, cam)]
        met, name = METRICS[key], method_name(cam)
        change = verdict_changed(ra["verdict"], rb["verdict"])
        counts[ra["verdict"]] = counts.get(ra["verdict"], 0) + 1
        row = {"model": model, "metric": met.label, "CAM method": name}
        for conv, r in ((base_name, ra), (other_name, rb)):
            row.update({f"LOTS ({conv})": r["lots_mean"], f"CAM's mean ({conv})": r["cam_mean"],
                        f"p (Holm) ({conv})": r["p_holm"], f"verdict ({conv})": r["verdict"]})
        rows.append({**row, "n": int(min(ra["n"], rb["n"])), "verdict changes": yes_no(change)})
        if change:
            lines.append(f"on {model}, {met.name}, against {name}: {ra['verdict']} with the {base_name} "
                         f"({ra['lots_mean']:.1f} vs {ra['cam_mean']:.1f}, {format_p(ra['p_holm'])}) but "
                         f"{rb['verdict']} with the {other_name} ({rb['lots_mean']:.1f} vs {rb['cam_mean']:.1f}, "
                         f"{format_p(rb['p_holm'])})")
    n, changed = len(rows), len(lines)
    how = ("(paired Wilcoxon, Holm-corrected across each convention's comparisons; a change needs a significant "
           "difference under one convention and not the other, or opposite significant signs)")
    if changed:
        text = (f"The verdict of LOTS against a CAM method changes in {changed} of {n} (backbone, metric, CAM method) "
                f"comparisons when the {base_name} is replaced by the {other_name} {how}: " + "; ".join(lines) + ".")
    elif n and counts.get(TOO_FEW, 0) == n:
        text = (f"With fewer than {MIN_PAIRS} images (n = {min(r['n'] for r in rows)}) no verdict of LOTS against a "
                f"CAM method is drawn under the {base_name} or the {other_name}, so none can change: the values move, "
                f"nothing is concluded from them.")
    else:
        tally = ", ".join(f"{v} {k}" for k, v in counts.items())
        text = (f"The verdict of LOTS against each CAM method is the same in all {n} (backbone, metric, CAM method) "
                f"comparisons under the {base_name} and the {other_name} {how}; under the {base_name}: {tally}.")
    table = pd.DataFrame(rows).set_index(["model", "metric", "CAM method"])
    return {"table": table, "changed": int(changed), "pairs": n, "text": text}


def time_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 5.3: the mean milliseconds per map of this run beside the thesis's values.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`).

    Returns
    -------
    pandas.DataFrame
        Index ``method`` (names); columns (``this run`` | ``thesis``, model): ms >= 0, NaN
        where the thesis has no value.
    """
    from lotslib.benchmark import MODELS_ORDER, TABLE_TIMING, reference_tables, table_5_3
    from lotslib.method_registry import method_name

    ms = table_5_3(df).xs("mean", axis=1, level="stat")
    ref = reference_tables()
    ref53 = ref[ref["table"] == TABLE_TIMING].pivot_table(index="method", columns="model", values="value",
                                                          aggfunc="first")
    ref53.index = ref53.index.map(method_name)
    ref53 = ref53.reindex(index=ms.index, columns=[c for c in MODELS_ORDER if c in ref53.columns])
    return pd.concat({"this run": ms, "thesis": ref53}, axis=1)


def timing_paths_table(timing: pd.DataFrame) -> pd.DataFrame:
    """Table 5.3 on both CAM paths, from :func:`lotslib.benchmark.cam_path_timing` rows.

    Parameters
    ----------
    timing : pandas.DataFrame
        Rows ``model, method, path, fast, mean, ...`` of one or more models.

    Returns
    -------
    pandas.DataFrame
        Index ``method`` (display names); columns (model, path) with the mean ms per map and
        (model, ``speed-up``): the stock path's time divided by the graph cut's.
    """
    from lotslib.method_registry import method_name

    t = timing.copy()
    t["method"] = t["method"].map(method_name)
    wide = t.pivot_table(index="method", columns=["model", "path"], values="mean", aggfunc="first", sort=False)
    for model in dict.fromkeys(t["model"]):
        cut = t[(t["model"] == model) & t["fast"]].set_index("method")["mean"]
        stock = t[(t["model"] == model) & ~t["fast"]].set_index("method")["mean"]
        wide[(model, "speed-up")] = (stock / cut).reindex(wide.index)
    order = [c for m in dict.fromkeys(t["model"]) for c in wide.columns if c[0] == m]
    return wide[order]


def benchmark_row(df: pd.DataFrame, model: str, method: str, image_id: str) -> pd.Series:
    """The benchmark row of one (model, method, image).

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`).
    model, method, image_id : str
        The model name, the method key and the image id of the row.

    Returns
    -------
    pandas.Series
        The first matching row: ``top1`` (class index), ``y``, ``o`` (probabilities in
        [0,1]), ``avg_drop``, ``coherency``, ... (in %; the columns of :mod:`lotslib.benchmark`).
    """
    return df[(df["model"] == model) & (df["method"] == method) & (df["image_id"] == image_id)].iloc[0]


def method_curves(df: pd.DataFrame, model: str, image_id: str) -> dict:
    """The insertion and deletion curves of every Table 5.2 method on one image.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`); the curves are read from its cache.
    model, image_id : str
        The backbone and the image.

    Returns
    -------
    dict
        ``{"deletion" | "insertion": (curves, aucs)}``: ``curves`` ``{method name: (steps+1,)
        probabilities in [0,1]}`` and ``aucs`` ``{method name: AUC in [0,1]}``, in the
        table's method order.
    """
    from lotslib.benchmark import METHODS, load_curves

    sub = df[(df["model"] == model) & (df["image_id"] == image_id) & df["method"].isin(list(METHODS))]
    sub = sub.set_index("method").loc[[k for k in METHODS if k in set(sub["method"])]].reset_index()
    cur = load_curves(sub)
    names = [METHODS[k].name for k in sub["method"]]
    return {kind: (dict(zip(names, cur[kind])), dict(zip(names, sub[kind] / 100)))
            for kind in ("deletion", "insertion")}


def drop_increase_figure(x, m, class_name: str, p_before: float, p_after: float, method: str = "LOTS"):
    """Thesis Figure A.4: the image, its map and its explanation map.

    Parameters
    ----------
    x, m : torch.Tensor
        The image ``(1,3,H,W)`` and its activation map ``(1,H,W)`` or ``(H,W)``, in [0,1].
    class_name : str
        The explained class.
    p_before : float
        The confidence on the original image, in [0,1].
    p_after : float
        The confidence on the explanation map, in [0,1].
    method : str, optional
        The method's name (default ``"LOTS"``).

    Returns
    -------
    matplotlib.figure.Figure
        Original (confidence), activation map, heat-map, explanation map x ⊙ map (confidence
        on it); a colour bar for the map (inferno) and one for the heat-map (jet).
    """
    from lotslib.visualize import explanation_map

    m = torch.as_tensor(m)
    if m.dim() == 2:
        m = m[None]
    panels = [
        {"image": x[0], "title": f"original: {100 * p_before:.1f}% {short_class(class_name)}"},
        {"image": m[0], "title": f"{method} activation map", "cmap": "inferno"},
        map_panel(x, m, "heat-map"),
        {"image": explanation_map(x, m)[0], "title": f"explanation map: {100 * p_after:.1f}%"},
    ]
    return panel_grid(panels, 4, size=2.4, letters=True)


def coherency_figure(x, m_orig, m_expl, score: float, method: str = "LOTS"):
    """Thesis Figure A.5: the map of the original and the map of the explanation map.

    Parameters
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` float in [0,1].
    m_orig : torch.Tensor
        The map of the original image, ``(1,H,W)`` or ``(H,W)`` in [0,1].
    m_expl : torch.Tensor
        The map of the explanation map, ``(1,H,W)`` or ``(H,W)`` in [0,1].
    score : float
        The Coherency in %.
    method : str, optional
        The method's name (default ``"LOTS"``).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels.
    """
    from lotslib.visualize import explanation_map

    m_orig = torch.as_tensor(m_orig).reshape(1, *torch.as_tensor(m_orig).shape[-2:])
    m_expl = torch.as_tensor(m_expl).reshape(1, *torch.as_tensor(m_expl).shape[-2:])
    e = explanation_map(x, m_orig)
    panels = [
        map_panel(x, m_orig, f"{method} map of the original"),
        {"image": e[0], "title": "explanation map (input)"},
        map_panel(e, m_expl, f"{method} map of (b): coherency {100 * score:.1f}%"),
    ]
    return panel_grid(panels, 3, size=2.6, letters=True)


def curve_strip_figure(frames, fractions, kind: str):
    """The images at a few steps of deletion/insertion (what the network sees)."""
    verb = "removed" if kind == "deletion" else "inserted"
    panels = [{"image": f, "title": f"{100 * q:.0f}% {verb}"} for f, q in zip(frames, fractions)]
    return panel_grid(panels, len(panels), size=1.9)


# ------------------------------------------------------------------ the page's tables and figures, with their captions
def show_table_5_2(ctx, df: pd.DataFrame):
    """Show Table 5.2 regenerated from ``df``, beside the thesis's values when the backbones are the same.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (its images and models name the table).
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of Table 5.2's methods.

    Returns
    -------
    t52, thesis52 : pandas.DataFrame
        Table 5.2 of this run (:func:`lotslib.benchmark.table_5_2`) and the thesis's
        (:func:`lotsbook.plots.reference_wide`), for :func:`show_thesis_5_2` and the rank table.
    """
    from lotslib import benchmark

    t52, thesis52 = benchmark.table_5_2(df), reference_wide(benchmark.TABLE_METHODS)
    t52, extra = extra_rows(t52)
    same = set(ctx.models) <= set(thesis52.index.get_level_values(0))
    flagged = int(df["flagged"].sum())
    summary_table(
        t52,
        f"Table 5.2 (regenerated): the thesis's {len(THESIS_METHODS)} methods"
        + (f" and, below them, {len(extra)} this book adds" if extra else "")
        + f" on {', '.join(ctx.models)}, {len(ctx.images)} "
        f"images; mean and 95% bootstrap interval in %, best mean of the thesis's methods per backbone and metric in "
        f"bold. "
        + ("The thesis's values are beside ours. " if same else
           "The thesis's values (other backbones) follow in the next table. ")
        + f"{flagged} of {len(df)} rows are flagged (a constant map); they are included.",
        thesis=thesis52 if same else None,
        unranked=extra,
    )
    return t52, thesis52


def show_thesis_5_2(models, thesis52: pd.DataFrame) -> None:
    """Show the thesis's Table 5.2 on its own when ``models`` are not its backbones, else a note.

    Parameters
    ----------
    models : sequence of str
        This run's backbones.
    thesis52 : pandas.DataFrame
        :func:`lotsbook.plots.reference_wide` of Table 5.2.
    """
    if not set(models) <= set(thesis52.index.get_level_values(0)):
        table(thesis52, "Thesis values of Table 5.2 (Weber 2023; 1000 ImageNet validation images), in %. "
                        "The ConvNeXt Tiny LOTS row is missing from the thesis's text.", fmt="{:.2f}",
              best={c: direction(c) for c in thesis52.columns}, best_by="model")
    else:
        note("The thesis's values are beside ours in Table 5.2 above (same backbones).")


def show_ranks(t52: pd.DataFrame, thesis52: pd.DataFrame) -> None:
    """Show each method's mean rank per metric beside the thesis's (:func:`lotsbook.plots.rank_table`)."""
    from lotslib.method_registry import method_name

    rank_table(
        t52, thesis52,
        f"Rank of each of the thesis's {len(THESIS_METHODS)} methods per metric (1 = best), averaged over the "
        "backbones: ours beside the thesis's Table 5.2. Ranks compare the methods even where the backbones differ.",
        ranked=[method_name(k) for k in THESIS_METHODS],
    )


#: how the columns of :func:`best_cam_tests` are printed (p-values as :func:`lotslib.verdicts.format_p` does)
_TEST_FMT = {"LOTS": "{:.2f}", "CAM's mean": "{:.2f}", "p-value": lambda p: format_p(p, cell=True),
             "p (Holm)": lambda p: format_p(p, cell=True), "detectable difference": "{:.1f}"}


def show_best_cam_tests(df: pd.DataFrame) -> None:
    """Show :func:`best_cam_tests` of ``df`` with its caption."""
    tests = best_cam_tests(df)
    table(tests,
          "LOTS against every CAM method per backbone and metric: means in % and a two-sided Wilcoxon signed-rank "
          f"test over images ({family_note(tests['n'])}), with the smallest mean difference in points that these pairs "
          "detect with 80% power", fmt=_TEST_FMT)


def tests_summary(tests: pd.DataFrame, against: str = "CAM methods", subject: str = "LOTS") -> list[str]:
    """What a table of paired tests shows, one sentence per group of its first index level:
    n, and per metric how many comparisons came out each way.

    Parameters
    ----------
    tests : pandas.DataFrame
        Index (group, ``metric``, ...) with columns ``n`` and ``verdict`` (the verdict words of
        :mod:`lotslib.verdicts`, "LOTS" possibly replaced by ``subject``): :func:`best_cam_tests`,
        or :func:`lotsbook.pages.targets.target_tests` (group = comparison, one row per metric).
    against : str, optional
        What the subject is compared with, for the sentence (default "CAM methods").
    subject : str, optional
        The compared method as the verdicts name it (default "LOTS").

    Returns
    -------
    list of str
        Per group: below :data:`lotslib.verdicts.MIN_PAIRS` pairs, "too few images" and no verdict;
        else the metrics where some comparison is significant (how many of how many, which way)
        and those where none is.
    """
    from lotslib.verdicts import NO_DIFFERENCE, too_few

    out = []
    for group, g in tests.groupby(level=0, sort=False):
        n = int(g["n"].min())
        few = too_few(n)
        if few:
            out.append(f"{group}: {few}, so no verdict against the {against}; the table gives the means for reading "
                       f"only.")
            continue
        sig, none = [], []
        for metric, gm in g.groupby(level=1, sort=False):
            counts = gm["verdict"].value_counts()
            ways = [f"{w.replace(subject + ' ', '')} in {c} of {len(gm)}"
                    for w, c in counts.items() if w != NO_DIFFERENCE]
            (sig.append(f"{metric}: {subject} " + ", ".join(ways)) if ways else none.append(str(metric)))
        text = f"{group}, n = {n} images: " + ("; ".join(sig) if sig else "no significant difference on any metric")
        if sig and none:
            text += f"; no significant difference on {', '.join(none)}"
        out.append(text + ".")
    return out


def show_benchmark_summary(df: pd.DataFrame) -> None:
    """Show the chapter's "What this shows": :func:`tests_summary` of :func:`best_cam_tests` of the
    benchmark rows ``df`` (the tests table's own numbers) and, per backbone, how many times as long
    a LOTS map takes as the slowest CAM map (:func:`time_table`)."""
    from lotslib.method_registry import method_name

    lines = tests_summary(best_cam_tests(df))
    ms = time_table(df)["this run"]
    lots, cams = method_name("lots"), [method_name(m) for m in THESIS_METHODS if m not in ("lots", "random")]
    for model in ms.columns:
        slow = ms.loc[[c for c in cams if c in ms.index], model].idxmax()
        if lots in ms.index and ms.loc[slow, model] > 0:
            lines.append(f"Time ({model}, Table 5.3): a LOTS map takes {ms.loc[lots, model] / ms.loc[slow, model]:.0f} "
                         f"times as long as one of {slow}, the slowest CAM method here.")
    note("Per backbone, from the tests table above (paired Wilcoxon, Holm-corrected): " + " ".join(lines))


#: the recorded studies, headline first: the thesis protocol, then the plateau stop
RECORDED_STUDIES = ("sample_study_protocol", "sample_study")


def recorded_headline() -> tuple:
    """The recorded study chapter 4 leads with: ``(stem, rows, meta)`` of the first of
    :data:`RECORDED_STUDIES` in ``results/``, or ``(None, None, None)``."""
    for stem in RECORDED_STUDIES:
        rows = recorded(f"{stem}.csv")
        if rows is not None:
            return stem, rows, recorded_meta(f"{stem}.json")
    return None, None, None


def show_recorded_study() -> None:
    """Show the recorded larger study (:func:`recorded_study` of :func:`recorded_headline`): its
    table, its tests and their sentences, or how to record it when none is in ``results/``."""
    stem, study, meta = recorded_headline()
    if study is None:
        note("No recorded study in results/: run `python experiments/sample_study.py --schedule protocol "
             "--out results/sample_study_protocol.csv` to record it.")
        return
    rec = recorded_study(study, meta)
    shown, extra = extra_rows(rec["table"])
    summary_table(shown, f"Recorded study (`{meta['command']}`): Table 5.2's layout on {rec['n']} "
                                "ImageNet training images (seen in training: accuracy on them is optimistic); "
                                "mean and 95% bootstrap interval in %, best mean of the thesis's methods in bold.",
                  unranked=extra)
    table(rec["tests"], "Recorded study: LOTS against every CAM method per metric (two-sided Wilcoxon "
                        f"signed-rank test over images; {family_note(rec['tests']['n'])}), with the smallest mean "
                        "difference in points that these pairs detect with 80% power (paired, from the spread of "
                        "the differences).", fmt=_TEST_FMT)
    note(rec["text"])


def plateau_effect(protocol: pd.DataFrame, plateau: pd.DataFrame) -> dict:
    """What the plateau stop changes, from two recorded studies on the same images.

    Parameters
    ----------
    protocol, plateau : pandas.DataFrame
        Benchmark rows of the same images under the protocol and the plateau stop.

    Returns
    -------
    dict
        ``table``: per metric, LOTS's paired difference (plateau minus protocol) in table units
        with its 95% bootstrap interval, the Wilcoxon p-value and n; ``verdicts``
        (:func:`convention_verdict` of the two row sets: whether any verdict of LOTS against a
        CAM changes); ``text``.
    """
    from lotslib.metric_registry import METRICS
    from lotslib.stats import bootstrap_ci, paired_wilcoxon
    from lotslib.verdicts import format_p

    a = protocol[protocol["method"] == "lots"].set_index("image_id")
    b = plateau[plateau["method"] == "lots"].set_index("image_id").reindex(a.index)
    rows, moved = [], []
    for m in METRICS.values():
        d = (b[m.col] - a[m.col]).to_numpy(float) * m.scale
        lo, hi = bootstrap_ci(d)
        t = paired_wilcoxon(b[m.col].to_numpy(float), a[m.col].to_numpy(float))
        diff, interval = float(t["mean_diff"]) * m.scale, f"[{lo:.1f}, {hi:.1f}]"
        rows.append({"metric": m.label, "n": t["n"], "plateau − protocol": diff, "95% interval": interval,
                     "p": format_p(t["p_value"], cell=True)})
        if not lo <= 0 <= hi:
            moved.append(f"{m.label} by {diff:+.1f} points {interval}")
    tab = pd.DataFrame(rows).set_index("metric")
    both = protocol["image_id"].isin(set(plateau["image_id"]))
    verdicts = convention_verdict(protocol[both], plateau[plateau["image_id"].isin(set(protocol["image_id"]))],
                                  [m.key for m in METRICS.values()], "protocol", "plateau stop")
    text = ((f"On these {int(tab['n'].max())} paired images the plateau stop moves LOTS's " + "; ".join(moved) + ". ")
            if moved else "The plateau stop moves none of LOTS's metrics beyond its 95% interval. ")
    return {"table": tab, "verdicts": verdicts, "text": text + verdicts["text"]}


def recorded_conventions(rows: pd.DataFrame) -> list:
    """The recorded study's verdicts under the other fill and the other score, from the columns
    the study recorded in the same pass (``avg_drop[fill=mean]``, ``insertion[score=max]``...).

    Parameters
    ----------
    rows : pandas.DataFrame
        The recorded study's rows.

    Returns
    -------
    list of dict
        One :func:`convention_verdict` per convention whose columns the rows hold.
    """
    out = []
    for name, cols, metrics in (("fill", {"avg_drop": "avg_drop[fill=mean]", "increase": "increase[fill=mean]"},
                                 ["avg_drop", "avg_increase"]),
                                ("score", {"insertion": "insertion[score=max]", "deletion": "deletion[score=max]"},
                                 ["insertion", "deletion"])):
        if not all(c in rows for c in cols.values()):
            continue
        alt = rows.copy()
        for base, col in cols.items():
            alt[base] = rows[col]
        first, second = ("fill='black'", "fill='mean'") if name == "fill" else ("score='original'", "score='max'")
        out.append(convention_verdict(rows, alt, metrics, first, second))
    return out


def show_recorded_extras() -> None:
    """Show what the recorded protocol study adds: the plateau stop's effect (paired with the
    plateau study), the verdicts under the other fill and score on its images, and its check of
    224 against its insertion/deletion steps; each only where recorded."""
    protocol, plateau = recorded("sample_study_protocol.csv"), recorded("sample_study.csv")
    if protocol is None:
        note("The protocol study is not recorded (results/sample_study_protocol.csv): the plateau stop's effect and "
             "the conventions on the recorded images are shown once it is.")
        return
    if plateau is not None:
        eff = plateau_effect(protocol, plateau)
        table(eff["table"], "The plateau stop's effect on LOTS in the recorded studies: the paired difference, plateau "
                            "stop minus protocol, per metric in points (95% bootstrap interval; two-sided Wilcoxon "
                            "p-value), on the images both studies ran.")
        note(eff["text"])
    for conv in recorded_conventions(protocol):
        note(conv["text"])
    steps = recorded("sample_study_protocol_steps.csv")
    if steps is not None:
        note(steps_check_text(steps))


def steps_check_text(steps: pd.DataFrame) -> str:
    """The sentence on the recorded steps check: how far the thesis's 224 insertion/deletion
    steps move the AUCs against the study's coarser curve, per image and on average.

    Parameters
    ----------
    steps : pandas.DataFrame
        ``results/sample_study_protocol_steps.csv``: ``method, image_id, insertion, deletion,
        steps`` for both step counts.

    Returns
    -------
    str
    """
    coarse, fine = (steps[steps["steps"] == s].set_index(["method", "image_id"])
                    for s in (steps["steps"].min(), 224))
    d = (fine[["insertion", "deletion"]] - coarse[["insertion", "deletion"]].reindex(fine.index))
    per = d.abs().max()
    mean = d.groupby(level="method").mean().abs().max()
    return (f"Steps check: on {d.index.get_level_values('image_id').nunique()} images and "
            f"{d.index.get_level_values('method').nunique()} methods, 224 insertion/deletion steps instead of "
            f"{int(steps['steps'].min())} move an image's AUC by at most {per['insertion']:.1f} (Insertion) and "
            f"{per['deletion']:.1f} points (Deletion), and a method's mean by at most {mean['insertion']:.1f} and "
            f"{mean['deletion']:.1f} points.")


#: the metrics that depend on the fill convention
FILL_METRICS = ["avg_drop", "avg_increase", "coherency"]


def show_other_fill(ctx, df: pd.DataFrame) -> dict:
    """Rescore the fill-dependent metrics with the other fill and show them in Table 5.2's layout.

    Average Drop and Average Increase are re-scored on the stored maps (forward passes only).
    Coherency explains the masked image again, which for LOTS is a third run at the
    protocol's budget per image; it is re-scored only where the profile's ``fill_coherency``
    is set (the full profile and ``--tiny``), and the caption says so otherwise.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (``fill``, ``fill_coherency``, ``iters``, ``images``, ``device``).
    df : pandas.DataFrame
        Benchmark rows under ``ctx.fill``.

    Returns
    -------
    dict
        :func:`convention_verdict` of the two fills (``table``, ``text``, ...).
    """
    from lotslib import benchmark
    from lotslib.metric_registry import METRICS

    other = "mean" if ctx.fill == "black" else "black"
    metrics = FILL_METRICS if ctx.fill_coherency else [m for m in FILL_METRICS if m != "coherency"]
    alt = benchmark.rescore(df, ctx.images, metrics, {"fill": other}, device=ctx.device)
    alt_table, extra = extra_rows(benchmark.table_5_2(alt, metrics=metrics))
    skipped = "" if ctx.fill_coherency else (
        f" Coherency is not re-scored in this profile: it would explain every masked image again, a third "
        f"{ctx.iters}-iteration LOTS run per image (about 500 s of the embedded build); set `fill_coherency` "
        f"(the full profile does) to add it.")
    summary_table(
        alt_table,
        f"Table 5.2's {and_list(METRICS[m].name for m in metrics)} with fill='{other}' (masked pixels "
        f"{'set to the model mean colour: the normalized tensor times the map' if other == 'mean' else 'black'}) "
        f"instead of fill='{ctx.fill}'; same maps, same {len(ctx.images)} images.{skipped}",
        unranked=extra,
    )
    return convention_verdict(df, alt, metrics, f"{ctx.fill} fill", f"{other} fill")


def show_fill_verdict(verdict: dict) -> None:
    """Show :func:`show_other_fill`'s verdict: its sentences, then its table."""
    from IPython.display import Markdown, display

    display(Markdown(verdict["text"]))
    t = verdict["table"]
    table(t, "LOTS against every CAM method under both fills (means in %; verdicts in the metric's "
          "direction from paired Wilcoxon tests, Holm-corrected across each fill's comparisons; no verdict from "
          "fewer than 5 images; a verdict changes only when the difference is significant under one fill and not "
          "the other, or significant with opposite signs).",
          fmt={c: (lambda p: format_p(p, cell=True)) if c.startswith("p (Holm)") else "{:.2f}"
               for c in t.columns if pd.api.types.is_float_dtype(t[c])})


def show_other_score(ctx, df: pd.DataFrame) -> dict:
    """Rescore Insertion and Deletion with the other ``score`` convention and show them in Table 5.2's layout.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (``score``, ``steps``, ``images``, ``device``).
    df : pandas.DataFrame
        Benchmark rows under ``ctx.score``.

    Returns
    -------
    dict
        :func:`convention_verdict` of the two conventions.
    """
    from lotslib import benchmark

    other = "max" if ctx.score == "original" else "original"
    alt = benchmark.rescore(df, ctx.images, ["insertion", "deletion"], {"score": other}, device=ctx.device)
    alt_table, extra = extra_rows(benchmark.table_5_2(alt, metrics=["insertion", "deletion"]))
    summary_table(
        alt_table,
        f"Insertion and Deletion with score='{other}' "
        f"({'the highest class probability at each step' if other == 'max' else 'the original top-1 class'}) "
        f"instead of score='{ctx.score}'; same maps, same {len(ctx.images)} images, {ctx.steps} steps.",
        unranked=extra,
    )
    return convention_verdict(df, alt, ["insertion", "deletion"], f"score='{ctx.score}'", f"score='{other}'")


def show_table_5_3(ctx, df: pd.DataFrame) -> None:
    """Show Table 5.3 (:func:`time_table`) with its caption: the machine, the threads, the iteration
    cap and what was timed."""
    table(
        time_table(df),
        f"Table 5.3 (regenerated): milliseconds per map, averaged over the images, on this machine ({ctx.device}, "
        f"torch threads: {int(df['threads'].iloc[0])}) beside the thesis's values (its hardware is not stated). LOTS "
        f"here runs at most {ctx.iters} iterations"
        + (" as in the thesis" if ctx.iters == 500 else " instead of 500, so its time is not comparable one to one")
        + "; the CAM times include the forward and backward pass of the map for the image's top-1 class (found "
        "before the clock starts), timed by the benchmark itself, one image at a time between the metrics of each "
        "batch."
        + (f" The book ran {ctx.jobs} chapters at a time, so other work shared the machine while these times were "
           f"taken (`python -m lotsbook --jobs 1` times the CAMs alone)." if ctx.jobs > 1 else "")
        + (" In the book's build, LOTS's rows come from chapter 3, whose benchmark runs as one process per core, "
           "side by side, so its time per map includes that sharing." if ctx.jobs > 1 else ""),
        fmt="{:.1f}",
    )


def timing_gap(paths: pd.DataFrame, t53: pd.DataFrame, method: str = "Grad-CAM") -> dict:
    """How far the graph-cut times of :func:`timing_paths_table` lie from Table 5.3's CAM rows
    (:func:`time_table`): the same maps, timed in two passes.

    Parameters
    ----------
    paths : pandas.DataFrame
        :func:`timing_paths_table` (columns (model, path)), ms per map.
    t53 : pandas.DataFrame
        :func:`time_table` (columns (``this run``, model)), ms per map.
    method : str, optional
        The method named in the sentence (default "Grad-CAM").

    Returns
    -------
    dict
        ``model``, ``here`` and ``table`` (``method``'s ms in the two tables), ``ratio`` (the
        median over the CAM methods but SmoothGrad-CAM++ of this table's time ÷ Table 5.3's; >= 0)
        and ``text``: the sentence (empty when the tables share no model or ``method``).
    """
    from lotslib.benchmark.timing import PATHS

    cut = next(p for p, fast in PATHS.items() if fast)
    models = [m for m in dict.fromkeys(c[0] for c in paths.columns) if ("this run", m) in t53.columns]
    if not models or method not in paths.index or method not in t53.index:
        return {"text": ""}
    model = models[0]
    here, ref = paths[(model, cut)], t53[("this run", model)].reindex(paths.index)
    ratio = float((here / ref).drop(index=["SmoothGrad-CAM++"], errors="ignore").median())
    a, b = float(here[method]), float(ref[method])
    text = (f"The graph-cut column times the same maps as Table 5.3's CAM rows (top-1 class given, forward pass "
            f"included), in a second pass after the benchmark: {method} {a:.1f} ms here and {b:.1f} ms there "
            f"({model}); over the CAM methods this pass reads {ratio:.2f} times Table 5.3 (median). Two passes at "
            f"different moments on a shared machine differ by that much; the ratio of the two paths, taken in the "
            f"same pass, is the comparable number.")
    return {"model": model, "here": a, "table": b, "ratio": ratio, "text": text}


def show_timing_paths(ctx, df: pd.DataFrame | None = None) -> None:
    """Show Table 5.3's CAM methods timed on both paths (:func:`timing_paths_table`); with the
    benchmark rows ``df``, the caption compares its graph-cut times with Table 5.3's (:func:`timing_gap`)."""
    from lotslib.method_registry import CAM_METHODS

    paths = timing_paths_table(ctx.cam_timing(CAM_METHODS))
    gap = timing_gap(paths, time_table(df))["text"] if df is not None else ""
    table(
        paths,
        f"Table 5.3, CAM methods on both paths: milliseconds per map (forward pass included, for the image's top-1 "
        f"class found before the clock starts, after a warm-up, {len(ctx.images)} images, {ctx.device}) with "
        f"lotslib's graph cut and with stock pytorch-grad-cam's full backward pass — the set-up the thesis timed — "
        f"and the speed-up (stock ÷ graph cut). " + gap
        + (f" The book ran {ctx.jobs} chapters at a time, so another chapter may have run beside either pass."
           if ctx.jobs > 1 else ""),
        fmt="{:.2f}",
    )


def show_figure_a_4(net, ex, x: torch.Tensor, m: torch.Tensor, row: pd.Series) -> None:
    """Show thesis Figure A.4 (drop/increase in confidence) of one image with its caption.

    Parameters
    ----------
    net : lotslib.models.ModelWrapper
        The backbone.
    ex : lotslib.data.ImageSource
        The one image.
    x, m : torch.Tensor
        Its pixels ``(1,3,H,W)`` and its LOTS map ``(1,H,W)``, in [0,1].
    row : pandas.Series
        Its benchmark row (:func:`benchmark_row`).
    """
    show(
        drop_increase_figure(x, m, net.categories[int(row["top1"])], row["y"], row["o"]),
        "fig-a-4",
        f"**Regenerates thesis Figure A.4 (drop/increase in confidence).** (a) {ex[0].id} with the confidence of "
        f"{net.name} in its top-1 class; (b) the LOTS activation map; (c) as a heat-map; (d) the explanation map "
        f"x ⊙ map and the confidence in the same class on it: a {'drop' if row['o'] < row['y'] else 'rise'} of "
        f"{abs(row['y'] - row['o']) * 100:.1f} points (relative drop {row['avg_drop']:.1f}%).",
    )


def coherency_maps_a_5(ctx, net, x: torch.Tensor, row: pd.Series) -> dict:
    """Figure A.5's numbers, from the benchmark's own run: its LOTS map of the image
    (:func:`lotslib.benchmark.load_maps`) and the second LOTS run on that map's explanation map,
    read from the LOTS store where the benchmark's coherency left it (:func:`lotslib.lots_store.stored_lots`;
    run again, on this image alone, only when the store lacks it).

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (its benchmark and LOTS store under ``cache_dir``, ``fill``, the
        benchmark's LOTS parameters, :func:`lotsbook.chapter.benchmark_params`).
    net : lotslib.models.ModelWrapper
        The backbone.
    x : torch.Tensor
        The image ``(1,3,H,W)`` in [0,1].
    row : pandas.Series
        Its LOTS benchmark row (:func:`benchmark_row`).

    Returns
    -------
    dict
        ``map`` and ``again``: ``(1,H,W)`` maps in [0,1] (the benchmark's map, and LOTS's map of
        its explanation map); ``value``: their Coherency in [0, 100]; ``read``: True when the
        second run is the benchmark's own (read from the store), False when it was run again here.
    """
    from pathlib import Path

    from lotslib.benchmark import load_maps
    from lotslib.lots_store import RUN_KEYS, stored_lots
    from lotslib.metrics import masked_image, pearson_coherency
    from lotslib.params import as_params_dict
    from lotslib.visualize import lots_map

    from ..chapter import benchmark_params

    lp = as_params_dict(benchmark_params(ctx.config)["lots"])
    m = torch.from_numpy(load_maps(row.to_frame().T, Path(ctx.cache_dir) / "benchmark")).to(x.device)
    xe = masked_image(net, x, m, ctx.fill)
    kw = {k: lp[k] for k in RUN_KEYS}
    res = stored_lots(net, xe, "zero", store_dir=Path(ctx.cache_dir) / "lots", via="figure A.5",
                      batch_size=lp["batch_size"], **kw)
    again = lots_map(xe, res.x_adv.to(x.device), lp["filter_size"], lp["sigma"],
                     unclamped=lp["step_space"] == "normalized").cpu()
    value = float(pearson_coherency(m.cpu(), again)[0][0])
    return {"map": m, "again": again, "value": value, "read": bool(res.trace.params["cached"])}


def coherency_note(value: float, bench: float, read: bool, batch_size: int) -> str:
    """The end of Figure A.5's caption: the figure's Coherency beside the benchmark row's, and
    why they differ when they do (both in [0, 100]; ``read``: the second LOTS run came from the
    store, :func:`coherency_maps_a_5`; ``batch_size``: the benchmark's LOTS batch)."""
    if f"{value:.1f}" == f"{bench:.1f}":
        return (f"{value:.1f}% here, the benchmark row's value: the figure shows the benchmark's own map and its "
                f"second LOTS run" + (", read from the LOTS store." if read else "."))
    why = ("the benchmark ran its second LOTS run on a batch of up to {b} explanation maps, and this one was not in "
           "the LOTS store, so it ran again here on this image alone; on a CPU the batch changes the last bits of "
           "each step's sums, and the normalised steps carry that into the map" if not read else
           "the second LOTS run is the benchmark's own, so the difference is the rounding of the row")
    return (f"{value:.1f}% here against {bench:.1f}% in the benchmark row ({value - bench:+.1f} points): "
            + why.format(b=batch_size) + ".")


def show_figure_a_5(ctx, net, x: torch.Tensor, row: pd.Series) -> None:
    """Show thesis Figure A.5 (coherency) of one image: the benchmark's LOTS map, its explanation
    map and LOTS's map of that (:func:`coherency_maps_a_5`), with the Coherency in the caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (LOTS's parameters, the caches).
    net, x, row
        As :func:`show_figure_a_4`.
    """
    coh = coherency_maps_a_5(ctx, net, x, row)
    show(
        coherency_figure(x, coh["map"], coh["again"], coh["value"] / 100),
        "fig-a-5",
        "**Regenerates thesis Figure A.5 (coherency).** (a) LOTS map of the image (the benchmark's); (b) the "
        "explanation map; (c) the LOTS map computed on the explanation map. Coherency is the Pearson correlation of "
        "(a) and (c), rescaled to [0, 100]: "
        + coherency_note(coh["value"], float(row["coherency"]), coh["read"], ctx.batch_size),
    )


def show_figures_a_6_a_7(ctx, df: pd.DataFrame, net, ex, row: pd.Series) -> None:
    """Show thesis Figures A.6 (deletion) and A.7 (insertion): every method's curve on one image.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter's context (``steps``).
    df : pandas.DataFrame
        Benchmark rows (the curves are read from its cache, :func:`method_curves`).
    net, ex, row
        As :func:`show_figure_a_4`.
    """
    curves = method_curves(df, net.name, ex.ids[0])
    name = short_class(net.categories[int(row["top1"])])
    for kind, fig_id, better in (("deletion", "A.6", "lower"), ("insertion", "A.7", "higher")):
        how = "replaced by a blurred copy" if kind == "deletion" else "restored into a blurred copy"
        show(
            curves_figure(curves[kind][0], kind, aucs=curves[kind][1]),
            f"fig-{fig_id.lower().replace('.', '-')}",
            f"**Regenerates thesis Figure {fig_id} ({kind}).** Probability of the top-1 class ({name}) "
            f"of {net.name} on {ex[0].id} while the pixels are {how}, "
            f"most important first according to each method's map ({ctx.steps} steps); area under the curve in the "
            f"legend, {better} is better.",
        )


def show_deletion_steps(x: torch.Tensor, m: torch.Tensor, fractions=(0.0, 0.1, 0.25, 0.5, 0.75)) -> None:
    """Show what the network sees during deletion: the image at a few ``fractions`` of deleted pixels."""
    from lotslib import metrics

    show(
        curve_strip_figure(metrics.deletion_frames(x, m, fractions), fractions, "deletion"),
        "fig-deletion-steps",
        "**What the network sees during deletion (illustrates thesis Figure A.6).** The image with the most important "
        "pixels of the LOTS map replaced by the blurred copy, at 0, 10, 25, 50 and 75% of the pixels.",
    )
