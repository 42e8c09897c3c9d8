"""The benchmark's summaries: Tables 5.1-5.3 of the thesis (Weber 2023) with bootstrap
intervals, and the paired test of LOTS against the best CAM method.

Rows come from the registry (a method's ``tables`` say which tables it has a row in and
under which label); columns and score directions from the metric objects of
:mod:`lotslib.metric_registry`.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from ..method_registry import (ALL_METHODS, CAM_METHODS, TABLE_METHODS, TABLE_TARGETS, get_method, method_keys,
                               method_name)
from ..metric_registry import METRICS
from ..stats import mean_ci, paired_mde, paired_wilcoxon

__all__ = ["summarize", "table_5_1", "table_5_2", "table_5_3", "lots_vs_best_cam", "format_table", "table_rows",
           "MODELS_ORDER"]

#: the thesis's backbones, in its tables' order (other models follow, sorted)
MODELS_ORDER = ("alexnet", "resnet50", "densenet121", "convnext_tiny")


def table_rows(table: str) -> dict[str, str]:
    """``{method key: row label}`` of a thesis table, from the registry.

    Parameters
    ----------
    table : str
        ``"5.1"`` or ``"5.2"``.

    Returns
    -------
    dict
        Method key -> row label.
    """
    return {k: get_method(k).tables[table] for k in method_keys(table)}


def _order(values: Iterable[str], order: Sequence[str]) -> list[str]:
    vals = list(dict.fromkeys(values))
    return [v for v in order if v in vals] + sorted(v for v in vals if v not in order)


def summarize(df: pd.DataFrame, metrics: Sequence[str] | None = None, exclude_flagged: bool = False,
              **ci) -> pd.DataFrame:
    """Long summary: one row per (model, method, metric).

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    metrics : Sequence of str or None, optional
        Keys of :data:`lotslib.metric_registry.METRICS` and/or ``"ms_per_map"`` (default None:
        every registered metric and the time).
    exclude_flagged : bool, optional
        Leave out flagged rows (default False: flagged rows count).
    **ci
        ``n_boot``, ``level``, ``seed`` of :func:`lotslib.stats.mean_ci`.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``method``, ``metric``, ``mean``, ``ci_low``, ``ci_high`` (95 %
        percentile bootstrap, fixed seed; :func:`lotslib.stats.mean_ci`) and ``n``.
    """
    if metrics is None:
        metrics = tuple(METRICS) + ("ms_per_map",)
    if exclude_flagged:
        df = df[~df["flagged"]]
    out = []
    for model in _order(df["model"], list(MODELS_ORDER) + sorted(df["model"].unique())):
        dm = df[df["model"] == model]
        for method in _order(dm["method"], list(ALL_METHODS)):
            d = dm[dm["method"] == method]
            for metric in metrics:
                col, scale = (METRICS[metric].col, METRICS[metric].scale) if metric in METRICS else (metric, 1.0)
                out.append({"model": model, "method": method, "metric": metric,
                            **mean_ci(d[col].to_numpy(), scale=scale, **ci)})
    return pd.DataFrame(out, columns=["model", "method", "metric", "mean", "ci_low", "ci_high", "n"])


_STATS = ["mean", "ci_low", "ci_high", "n"]


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _wide(summary: pd.DataFrame, row_label: dict, metrics: Sequence[str]) -> pd.DataFrame:
    if summary.empty:
        return pd.DataFrame()
    s = summary[summary["metric"].isin(metrics)].copy()
    s["row"] = s["method"].map(lambda m: row_label.get(m, m))
    s["label"] = s["metric"].map(_label)
    t = s.pivot_table(index=["model", "row"], columns="label", values=_STATS, aggfunc="first", sort=False)
    t = t.swaplevel(0, 1, axis=1)
    labels = [_label(m) for m in metrics]
    t = t.reindex(columns=pd.MultiIndex.from_product([labels, _STATS]))
    rows = list(dict.fromkeys(zip(s["model"], s["row"])))
    t = t.reindex(pd.MultiIndex.from_tuples(rows, names=["model", "method"]))
    for lab in labels:
        t[(lab, "n")] = t[(lab, "n")].astype(int)
    t.columns.names = ["metric", "stat"]
    return t


def table_5_1(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Table 5.1's layout: LOTS with the zero / class / mean target x the five metrics.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    **kw
        ``exclude_flagged`` and the bootstrap options of :func:`summarize`.

    Returns
    -------
    pandas.DataFrame
        Rows ``Zero F_t``, ``Class F_t``, ``Mean F_t`` per model; every metric has the
        columns ``mean``, ``ci_low``, ``ci_high``, ``n``.

    Notes
    -----
    Uses the rows of methods ``lots``, ``lots_class``, ``lots_mean`` (the thesis ran it on
    ResNet-50).
    """
    rows = table_rows(TABLE_TARGETS)
    d = df[df["method"].isin(rows)]
    t = _wide(summarize(d, tuple(METRICS), **kw), rows, tuple(METRICS))
    if not t.empty:
        t.index = t.index.set_names(["model", "target"])
    return t


def table_5_2(df: pd.DataFrame, metrics: Sequence[str] | None = None, **kw) -> pd.DataFrame:
    """Table 5.2's layout: (model, method) rows x the metrics.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    metrics : Sequence of str or None, optional
        Metric keys (default None: every registered one).
    **kw
        ``exclude_flagged`` and the bootstrap options of :func:`summarize`.

    Returns
    -------
    pandas.DataFrame
        (model, method) rows in the thesis's order (Random-CAM first, LOTS last); every
        metric has the columns ``mean``, ``ci_low``, ``ci_high``, ``n``.

    Notes
    -----
    Uses the rows of the methods with a Table 5.2 row in the registry
    (:data:`lotslib.method_registry.METHODS`; LOTS = zero target).
    """
    rows = table_rows(TABLE_METHODS)
    metrics = tuple(METRICS) if metrics is None else tuple(metrics)
    d = df[df["method"].isin(rows)]
    return _wide(summarize(d, metrics, **kw), rows, metrics)


def table_5_3(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Table 5.3's layout: methods (rows) x models (columns) of milliseconds per map.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    **kw
        As in :func:`table_5_1`.

    Returns
    -------
    pandas.DataFrame
        Each model with ``mean``, ``ci_low``, ``ci_high``, ``n`` (the bootstrap runs over the
        per-image values, i.e. the batch averages); empty if there are no rows.
    """
    d = df[df["method"].isin(table_rows(TABLE_METHODS))]
    s = summarize(d, ("ms_per_map",), **kw)
    if s.empty:
        return pd.DataFrame()
    s["method_name"] = s["method"].map(method_name)
    t = s.pivot_table(index="method_name", columns="model", values=_STATS, aggfunc="first", sort=False)
    t = t.swaplevel(0, 1, axis=1)
    models = list(dict.fromkeys(s["model"]))
    t = t.reindex(columns=pd.MultiIndex.from_product([models, _STATS]))
    t = t.reindex(list(dict.fromkeys(s["method_name"])))
    for m in models:
        t[(m, "n")] = t[(m, "n")].fillna(0).astype(int)
    t.index.name = "method"
    t.columns.names = ["model", "stat"]
    return t


def lots_vs_best_cam(df: pd.DataFrame, lots_method: str = "lots", metrics: Sequence[str] | None = None,
                     alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank test over images: LOTS against the best CAM method.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    lots_method : str, optional
        The LOTS method key (default ``"lots"``).
    metrics : Sequence of str or None, optional
        Metric keys (default None: every registered one).
    alpha : float, optional
        Significance level in (0, 1) (default 0.05).

    Returns
    -------
    pandas.DataFrame
        Columns: ``model, metric, lots_method, best_cam, lots_mean, best_mean, n, n_nonzero,
        statistic, p_value, differs`` (``p_value < alpha``) and ``mde``: the smallest mean
        difference (in the table's unit) these pairs detect with 80 % power
        (:func:`lotslib.stats.paired_mde`, from the spread of the paired differences).

    Notes
    -----
    The best CAM method is chosen by mean, in the metric's direction (Random-CAM excluded),
    for every model and metric.
    """
    metrics = tuple(METRICS) if metrics is None else tuple(metrics)
    out = []
    for model in _order(df["model"], list(MODELS_ORDER) + sorted(df["model"].unique())):
        dm = df[df["model"] == model]
        lots_rows = dm[dm["method"] == lots_method]
        cams = [m for m in CAM_METHODS if not get_method(m).baseline and m in set(dm["method"])]
        if lots_rows.empty or not cams:
            continue
        for metric in metrics:
            met = METRICS[metric]
            col, scale = met.col, met.scale
            means = {m: dm.loc[dm["method"] == m, col].mean() * scale for m in cams}
            best = met.best(means)
            pair = lots_rows[["image_id", col]].merge(dm.loc[dm["method"] == best, ["image_id", col]], on="image_id",
                                                      suffixes=("_lots", "_cam"))
            t = paired_wilcoxon(pair[f"{col}_lots"], pair[f"{col}_cam"])
            out.append(
                {
                    "model": model,
                    "metric": metric,
                    "lots_method": lots_method,
                    "best_cam": best,
                    "lots_mean": float(pair[f"{col}_lots"].mean() * scale),
                    "best_mean": float(pair[f"{col}_cam"].mean() * scale),
                    "n": t["n"],
                    "n_nonzero": t["n_nonzero"],
                    "statistic": t["statistic"],
                    "p_value": t["p_value"],
                    "differs": bool(t["p_value"] < alpha),
                    "mde": paired_mde((pair[f"{col}_lots"] - pair[f"{col}_cam"]) * scale, alpha=alpha),
                }
            )
    return pd.DataFrame(out)


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Strings ``"mean [ci_low, ci_high] (n)"`` for a thesis table.

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`table_5_1` / :func:`table_5_2` / :func:`table_5_3`.
    digits : int, optional
        Decimals (default 2).

    Returns
    -------
    pandas.DataFrame
        One column per metric or model; empty for an empty table.
    """
    if table.empty:
        return pd.DataFrame()
    tops = list(dict.fromkeys(table.columns.get_level_values(0)))
    out = pd.DataFrame(index=table.index)
    for top in tops:
        m, lo, hi, n = (table[(top, s)] for s in _STATS)
        out[top] = [f"{a:.{digits}f} [{b:.{digits}f}, {c:.{digits}f}] (n={int(k)})" if k else ""
                    for a, b, c, k in zip(m, lo, hi, n.fillna(0))]
    return out
