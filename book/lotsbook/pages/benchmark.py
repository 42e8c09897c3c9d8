"""Chapter 4, "LOTS against six CAM methods" (``notebooks/04_benchmark.py``): the tests of
LOTS against the best CAM method, the recorded larger study, the conventions' verdicts,
Table 5.3 (time per map) and the figures of the metrics (Average Drop/Increase, Coherency,
the deletion strip).

The benchmark itself is :mod:`lotslib.benchmark`; Table 5.2's layout is
:func:`lotslib.benchmark.table_5_2`. Images ``(1,3,H,W)`` in [0,1]; maps in [0,1].
"""
from __future__ import annotations

import pandas as pd
import torch

from ..plots import panel_grid, short_class

__all__ = [
    "best_cam_tests",
    "recorded_study",
    "convention_verdict",
    "time_table",
    "timing_paths_table",
    "benchmark_row",
    "method_curves",
    "drop_increase_figure",
    "coherency_figure",
    "curve_strip_figure",
]


def best_cam_tests(df: pd.DataFrame) -> pd.DataFrame:
    """LOTS against the best CAM method per backbone and metric
    (:func:`lotslib.benchmark.lots_vs_best_cam`), with the tables' labels.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of LOTS and the CAM methods.

    Returns
    -------
    pandas.DataFrame
        Index (``model``, ``metric``: the table label); columns ``best CAM`` (its name),
        ``LOTS`` and ``best CAM's mean`` (in %), ``n``, ``pairs ≠ 0``, ``p-value`` in [0,1],
        ``differs (p < 0.05)`` and ``detectable difference`` (the smallest mean difference, in
        points, that the ``n`` pairs detect with 80 % power; :func:`lotslib.stats.paired_mde`).
    """
    from lotslib.benchmark import METHODS, METRICS, lots_vs_best_cam

    w = lots_vs_best_cam(df)
    w["metric"] = w["metric"].map(lambda m: METRICS[m].label)
    w["best_cam"] = w["best_cam"].map(METHODS.get)
    w = w.rename(columns={"best_cam": "best CAM", "lots_mean": "LOTS", "best_mean": "best CAM's mean",
                          "n_nonzero": "pairs ≠ 0", "p_value": "p-value", "differs": "differs (p < 0.05)",
                          "mde": "detectable difference"})
    return w.drop(columns=["lots_method", "statistic"]).set_index(["model", "metric"])


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
        (:func:`best_cam_tests`, with the detectable difference at 80 % power), ``n`` (images)
        and ``text``: Markdown sentences generated from those tables -- the best method per
        metric, and for each metric whether LOTS differs from the best CAM method, or else the
        smallest difference the study could have detected.
    """
    from lotslib.benchmark import METRICS, table_5_2
    from lotslib.method_registry import ALL_METHODS, get_method

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
             f"{', '.join(rows['model'].unique())} ({sched}){how}."]
    baselines = {get_method(k).name for k in ALL_METHODS if get_method(k).baseline}
    for (model, label), r in tests.iterrows():
        met = next(m for m in METRICS.values() if m.label == label)
        means = table.loc[model][(label, "mean")]
        best = met.best({k: v for k, v in means.items() if k not in baselines and v == v})
        lots_v, cam_v, cam = r["LOTS"], r["best CAM's mean"], r["best CAM"]
        lead = f"**{label}** ({model}): best method {best}; "
        if r["differs (p < 0.05)"]:
            side = "better" if (lots_v > cam_v) == met.higher_is_better else "worse"
            lines.append(lead + f"LOTS ({lots_v:.1f}) is {side} than {cam} ({cam_v:.1f}), p = {r['p-value']:.2g}.")
        else:
            lines.append(lead + f"LOTS ({lots_v:.1f}) and {cam} ({cam_v:.1f}) do not differ at p < 0.05 "
                         f"(p = {r['p-value']:.2g}); {r['n']} pairs would have detected a mean difference of "
                         f"{r['detectable difference']:.1f} points with 80 % power.")
    return {"table": table, "tests": tests, "n": n, "text": "\n\n".join(lines)}


def _lots_vs_best(df: pd.DataFrame, metrics) -> pd.DataFrame:
    from lotslib.benchmark import lots_vs_best_cam

    return lots_vs_best_cam(df, metrics=metrics).set_index(["model", "metric"])


def convention_verdict(base: pd.DataFrame, other: pd.DataFrame, metrics, base_name: str, other_name: str) -> dict:
    """Does LOTS beat the best CAM method under both conventions? Written from the numbers.

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
        ``table``: a DataFrame indexed by (model, metric label) with LOTS's and the best CAM
        method's means and whether LOTS is better, per convention; ``changed``: the number of
        (model, metric) pairs whose verdict differs; ``pairs``: their total; ``text``: the
        sentences for the page.
    """
    from lotslib.method_registry import ALL_METHODS
    from lotslib.metric_registry import METRICS

    a, b = _lots_vs_best(base, metrics), _lots_vs_best(other, metrics)
    rows, lines, changed = [], [], 0
    for (model, key), ra in a.iterrows():
        rb = b.loc[(model, key)]
        met = METRICS[key]

        def better(r):
            return r["lots_mean"] > r["best_mean"] if met.higher_is_better else r["lots_mean"] < r["best_mean"]

        va, vb = bool(better(ra)), bool(better(rb))
        changed += va != vb
        rows.append({"model": model, "metric": met.label,
                     f"LOTS ({base_name})": ra["lots_mean"], f"best CAM ({base_name})": ALL_METHODS[ra["best_cam"]],
                     f"its mean ({base_name})": ra["best_mean"], f"LOTS better ({base_name})": va,
                     f"LOTS ({other_name})": rb["lots_mean"], f"best CAM ({other_name})": ALL_METHODS[rb["best_cam"]],
                     f"its mean ({other_name})": rb["best_mean"], f"LOTS better ({other_name})": vb})
        if va != vb:
            lines.append(f"on {model}, {met.name}: LOTS is {'better' if va else 'worse'} than the best CAM method "
                         f"({ALL_METHODS[ra['best_cam']]}) with the {base_name} ({ra['lots_mean']:.1f} vs "
                         f"{ra['best_mean']:.1f}) but {'better' if vb else 'worse'} than the best CAM method "
                         f"({ALL_METHODS[rb['best_cam']]}) with the {other_name} ({rb['lots_mean']:.1f} vs "
                         f"{rb['best_mean']:.1f})")
    n = len(rows)
    if changed:
        text = (f"The LOTS-versus-best-CAM verdict changes in {changed} of {n} (backbone, metric) pairs when the "
                f"{base_name} is replaced by the {other_name}: " + "; ".join(lines) + ".")
    else:
        text = (f"The LOTS-versus-best-CAM verdict is the same in all {n} (backbone, metric) pairs under the "
                f"{base_name} and the {other_name}; the values move, the ordering of LOTS against the best CAM "
                f"method does not.")
    table = pd.DataFrame(rows).set_index(["model", "metric"])
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
    from lotslib.benchmark import METHODS, MODELS_ORDER, reference_tables, table_5_3

    ms = table_5_3(df).xs("mean", axis=1, level="stat")
    ref = reference_tables()
    ref53 = ref[ref["table"] == "5.3"].pivot_table(index="method", columns="model", values="value", aggfunc="first")
    ref53.index = ref53.index.map(lambda m: METHODS.get(m, m))
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
    from lotslib.method_registry import ALL_METHODS

    t = timing.copy()
    t["method"] = t["method"].map(lambda m: ALL_METHODS.get(m, m))
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
    names = [METHODS[k] for k in sub["method"]]
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
        on it).
    """
    from lotslib.visualize import explanation_map, overlay

    m = torch.as_tensor(m)
    if m.dim() == 2:
        m = m[None]
    panels = [
        {"image": x[0], "title": f"original: {100 * p_before:.1f}% {short_class(class_name)}"},
        {"image": m[0], "title": f"{method} activation map", "cmap": "inferno"},
        {"image": overlay(x, m)[0], "title": "heat-map"},
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
    from lotslib.visualize import explanation_map, overlay

    m_orig = torch.as_tensor(m_orig).reshape(1, *torch.as_tensor(m_orig).shape[-2:])
    m_expl = torch.as_tensor(m_expl).reshape(1, *torch.as_tensor(m_expl).shape[-2:])
    e = explanation_map(x, m_orig)
    panels = [
        {"image": overlay(x, m_orig)[0], "title": f"{method} map of the original"},
        {"image": e[0], "title": "explanation map (input)"},
        {"image": overlay(e, m_expl)[0], "title": f"{method} map of (b): coherency {100 * score:.1f}%"},
    ]
    return panel_grid(panels, 3, size=2.6, letters=True)


def curve_strip_figure(frames, fractions, kind: str):
    """The images at a few steps of deletion/insertion (what the network sees)."""
    verb = "removed" if kind == "deletion" else "inserted"
    panels = [{"image": f, "title": f"{100 * q:.0f}% {verb}"} for f, q in zip(frames, fractions)]
    return panel_grid(panels, len(panels), size=1.9)
