"""Parameter studies beyond the thesis (its sections 6.2 and 7 list them as future work).

* :func:`iteration_study` -- LOTS's budget curve: how the map and the metrics change with the
  iteration cap. One stored run with snapshots gives the maps of every shorter cap
  (:mod:`lotslib.lots_store`), so the curve costs no LOTS step beyond the protocol's run.
* :func:`early_stop_study` -- the plateau early stop (``patience``, ``min_delta``) against the
  full protocol: iterations saved, map Pearson correlation, every registered metric both ways.
* :func:`alpha_study` -- the step width alpha against iterations, time, distance and metrics.
* :func:`postprocess_study` -- Gaussian filter size and sigma of Algorithm 2 against the metrics.
* :func:`equivalence_table` -- which cheaper LOTS schedule gives the protocol's maps and metrics
  (``experiments/lots_equivalence.py``'s per-image rows): Pearson bar and a two one-sided
  tests equivalence decision per metric (:func:`lotslib.stats.tost`), the frontier of
  passes, Pearson and equivalence; :func:`equivalence_from_summary` approximates the same
  decisions from a summary that holds only each candidate's 95 % interval.

Every study returns a tidy DataFrame (one row per image and setting) and caches it under a
key of all its parameters, the model weights and the image list (:mod:`lotslib.cache`).
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
import torch

from .benchmark import load_maps, run
from .cache import cache_key, cached_frame
from .paths import cache_root
from .lots_store import cached_lots
from .errors import InputRangeError, ParameterError
from .metric_registry import METRICS
from .metrics import confidence_change, insertion_deletion
from .metrics import pearson
from .models import weights_fingerprint
from .params import BUDGETS, LotsParams, MetricParams
from .visualize import ZeroPerturbationWarning, lots_map

__all__ = [
    "map_correlation",
    "top_overlap",
    "iteration_study",
    "BUDGET_METRICS",
    "budget_verdicts",
    "budget_flips",
    "early_stop_study",
    "early_stop_summary",
    "alpha_study",
    "postprocess_study",
    "EQUIVALENCE_MARGINS",
    "EQUIVALENCE_ALPHA",
    "PEARSON_BAR",
    "equivalence_table",
    "equivalence_from_summary",
]

#: Equivalence margins of the LOTS schedule study, in table points (percentage points; Average
#: Increase: points of the share of images). A cheaper schedule may stand in for the thesis
#: protocol when no metric's mean moves by 2 points or more. Chosen from the thesis's own
#: tables, not from the study: 2 points is about the median gap between two CAM methods on the
#: same network in Table 5.2 (Average Drop 1.7, Average Increase 2.6, Coherency 2.3, Insertion
#: 1.7) and below the LOTS vs LOTS-mean gaps Table 5.1 interprets (Coherency 9.4, Deletion 2.2),
#: so a schedule within it changes no conclusion the thesis draws from LOTS's own rows. Two
#: caveats, stated rather than tuned away: Deletion's median gap between CAM methods is only
#: 0.7 points, so for Deletion the margin is loose (an equivalent schedule could still swap
#: LOTS with a close CAM method); and on 20 images one image whose confidence flips moves
#: Average Increase by 5 points, so Average Increase is shown equivalent only when no image
#: flips at all.
EQUIVALENCE_MARGINS = {"avg_drop": 2.0, "avg_increase": 2.0, "coherency": 2.0, "insertion": 2.0, "deletion": 2.0}

#: level of each one-sided test of :func:`lotslib.stats.tost` (a 90 % interval inside the margin)
EQUIVALENCE_ALPHA = 0.05

#: the maps' bar: median and 10th-percentile Pearson correlation with the protocol's maps
PEARSON_BAR = {"median": 0.95, "p10": 0.90}


def map_correlation(a, b) -> np.ndarray:
    """Per-sample Pearson correlation ``(N,)`` of two ``(N,H,W)`` map stacks.

    Computed by :func:`lotslib.metrics.pearson`: 1.0 where both are equal constants, 0.0
    where a map is constant otherwise.

    Parameters
    ----------
    a : torch.Tensor or numpy.ndarray
        ``(N,H,W)`` maps.
    b : torch.Tensor or numpy.ndarray
        ``(N,H,W)`` maps, paired with ``a``.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` correlations in [-1, 1].

    Raises
    ------
    lotslib.errors.InputRangeError
        ``a`` and ``b`` differ in shape.
    """
    return pearson(a, b)[0]


def top_overlap(a, b, fraction: float = 0.1) -> np.ndarray:
    """Per-sample overlap ``(N,)`` of the strongest regions of two ``(N,H,W)`` map stacks.

    For each pair, ``A`` and ``B`` are the ``k = max(1, round(fraction * H * W))`` pixels with
    the highest values of each map (ties broken by position), and the overlap is their
    intersection over union, ``|A ∩ B| / |A ∪ B| = |A ∩ B| / (2k − |A ∩ B|)``: 1 when both maps
    put their top ``fraction`` on the same pixels, 0 when on disjoint ones. Two independent
    random maps overlap by about ``fraction / (2 − fraction)`` on average (0.053 for 10%).

    Parameters
    ----------
    a, b : torch.Tensor or numpy.ndarray
        ``(N,H,W)`` maps (any real values), paired.
    fraction : float, optional
        The share of the pixels kept per map, in (0, 1] (default 0.1: the top 10%).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` intersections over union in [0, 1].

    Raises
    ------
    lotslib.errors.InputRangeError
        ``a`` and ``b`` differ in shape or are not 3-D.
    lotslib.errors.ParameterError
        ``fraction`` outside (0, 1].
    """
    a, b = (torch.as_tensor(m).detach().float().cpu() for m in (a, b))
    if a.shape != b.shape or a.dim() != 3:
        raise InputRangeError(f"maps of shapes {tuple(a.shape)} and {tuple(b.shape)}: expected two (N,H,W) stacks "
                              f"of the same shape.")
    if not 0 < fraction <= 1:
        raise ParameterError(f"fraction={fraction!r}: must lie in (0, 1], e.g. 0.1 for the top 10%.")
    n, pixels = a.shape[0], a.shape[1] * a.shape[2]
    k = max(1, round(fraction * pixels))
    masks = []
    for m in (a, b):
        mask = torch.zeros(n, pixels, dtype=torch.bool)
        mask.scatter_(1, m.reshape(n, pixels).topk(k, dim=1).indices, True)
        masks.append(mask)
    inter = (masks[0] & masks[1]).sum(1).double()
    return (inter / (2 * k - inter)).numpy()


def _maps(x, x_adv, filter_size=LotsParams.filter_size, sigma=None, unclamped=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroPerturbationWarning)
        return lots_map(x, x_adv, filter_size, sigma, unclamped=unclamped)


def _metrics(model, x, maps, classes, steps, batch_size=8) -> dict[str, np.ndarray]:
    conf = confidence_change(model, x, maps, classes, batch_size=batch_size)
    insdel = insertion_deletion(model, x, maps, classes, steps=steps, batch_size=batch_size)
    return {
        "avg_drop": conf.drop, "increase": conf.increase, "insertion": insdel.insertion, "deletion": insdel.deletion
    }


def _top1(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


def _key(model, images, **params) -> str:
    return cache_key(model=model.name, weights=weights_fingerprint(model), images=images.fingerprint(), **params)


def _check_steps(steps, x):
    if not isinstance(steps, int) or steps < 1 or steps > x.shape[-1] * x.shape[-2]:
        raise ParameterError(
            f"steps={steps!r}: must be an integer in 1..{x.shape[-1] * x.shape[-2]} (pixels per image)."
        )


def iteration_study(model, images, iters: int = LotsParams.iters, checkpoints=BUDGETS,
                    tau: float = LotsParams.tau, alpha: float = LotsParams.alpha,
                    filter_size: int = LotsParams.filter_size, steps: int = 56, cache_dir=None,
                    step_space: str = LotsParams.step_space, batch_size: int | None = None) -> pd.DataFrame:
    """LOTS's budget curve: the zero-target run of ``iters`` steps read at each cap of ``checkpoints``.

    The run comes from the LOTS store ``cache_dir/lots`` (:func:`lotslib.lots_store.cached_lots`):
    where a chapter or the benchmark already ran the same (model, image, parameters), it is
    read, and its snapshots (at :data:`lotslib.params.BUDGETS`) answer the shorter caps; a cap
    that is not a snapshot budget is run on its own. The table is cached under a key of
    every parameter, the model weights and the image list.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The attacked model.
    images : lotslib.data.ImageSource
        The images (preprocessed for ``model``).
    iters : int
        The full iteration cap. Default 500 (the thesis).
    checkpoints : Iterable of int
        The shorter caps to compare (``iters`` is always added). Default 10, 20, 40, 80,
        160, 320, 500.
    tau : float
        LOTS stopping distance. Default 0.1.
    alpha : float
        LOTS step width. Default 1/255.
    filter_size : int
        Gaussian blur of Algorithm 2. Default 49.
    steps : int
        Insertion/deletion steps, in 1..H*W. Default 56.
    cache_dir : str, pathlib.Path or None
        The cache folder; None (the default) = :func:`lotslib.paths.cache_root`.
    step_space : str
        ``"pixel"`` (the default) or ``"normalized"`` (see :mod:`lotslib.attack`).
    batch_size : int or None
        LOTS chunk size for runs not in the store (does not change a result's key).

    Returns
    -------
    pandas.DataFrame
        One row per image and cap: ``image_id, cap, iterations, distance,
        pearson_vs_final, seconds, avg_drop, increase, insertion, deletion`` --
        ``pearson_vs_final`` compares the map at that cap with the map after all ``iters``
        steps; ``seconds`` is the full run's measured time per step times the steps taken up
        to that cap; ``avg_drop, increase`` in percent, ``insertion, deletion`` AUCs in percent.

    Raises
    ------
    lotslib.errors.ParameterError
        ``steps`` is not in 1..H*W, or a bad LOTS parameter (on a cache miss).
    """
    checkpoints = sorted({int(k) for k in checkpoints if int(k) <= iters} | {iters})
    cache_dir = cache_root() if cache_dir is None else cache_dir

    def run_at(k, x):
        return cached_lots(model, images, iters=k, tau=tau, alpha=alpha, cache_dir=cache_dir, x=x,
                           batch_size=batch_size, step_space=step_space)

    def compute():
        x = images.batch(model)
        _check_steps(steps, x)
        cls = _top1(model, x)
        res = run_at(iters, x)  # first: its snapshots answer the shorter caps
        per_step = res.trace.seconds / max(1, int(res.trace.iterations.sum()))
        free = step_space == "normalized"  # an unclamped walk may leave [0,1]
        final = _maps(x, res.x_adv.to(x.device), filter_size, unclamped=free)
        rows = []
        for k in checkpoints:
            rk = res if k == iters else run_at(k, x)
            m = _maps(x, rk.x_adv.to(x.device), filter_size, unclamped=free)
            met = _metrics(model, x, m, cls, steps)
            r = map_correlation(m, final)
            for i, iid in enumerate(images.ids):
                done = int(rk.trace.iterations[i])
                rows.append(dict(image_id=iid, cap=k, iterations=done, distance=float(rk.trace.final_distance[i]),
                                 pearson_vs_final=float(r[i]), seconds=done * per_step,
                                 **{n: float(v[i]) for n, v in met.items()}))
        return pd.DataFrame(rows)

    key = _key(model, images, study="iterations", iters=iters, checkpoints=checkpoints, tau=tau, alpha=alpha,
               filter_size=filter_size, steps=steps, step_space=step_space)
    return cached_frame(cache_dir, "study-iterations", key, compute)


#: the metrics of the budget curve (keys of :data:`lotslib.metric_registry.METRICS`): each is one
#: pass over the stored snapshots (Coherency needs a second LOTS run per budget and is left out)
BUDGET_METRICS = ("avg_drop", "avg_increase", "insertion", "deletion")


def budget_verdicts(curve: pd.DataFrame, others: pd.DataFrame, metrics=BUDGET_METRICS) -> pd.DataFrame:
    """LOTS at each budget against every other method, per metric: paired Wilcoxon, Holm per (budget, metric).

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`iteration_study` rows: ``image_id``, ``cap`` and the metrics' per-image columns
        (:attr:`lotslib.metric_registry.Metric.col`).
    others : pandas.DataFrame
        The other methods' rows on the same images: ``method``, ``image_id`` and the same
        columns (the benchmark's row format, :func:`lotslib.benchmark.run`).
    metrics : Sequence of str
        Metric keys of :data:`lotslib.metric_registry.METRICS` (default :data:`BUDGET_METRICS`).

    Returns
    -------
    pandas.DataFrame
        One row per (cap, metric, method): ``n`` (paired images), ``lots_mean`` and ``mean_diff``
        (LOTS minus the method) in table units (the column's mean times
        ``Metric.scale``), ``p_value``, ``p_holm`` (Holm across the methods of that cap
        and metric, as in Table 5.2) and ``verdict`` (:func:`lotslib.verdicts.compare_each`).
    """
    from .verdicts import compare_each

    rows = []
    methods = list(dict.fromkeys(others["method"]))
    for cap, g in curve.groupby("cap"):
        lots_by = g.set_index("image_id")
        for m in metrics:
            met = METRICS[m]
            ids = list(lots_by.index)
            vals = {meth: others[others["method"] == meth].set_index("image_id")[met.col].reindex(ids).to_numpy(float)
                    for meth in methods}
            res = compare_each(lots_by[met.col].to_numpy(float), vals, met.higher_is_better)
            for meth, r in res.iterrows():
                rows.append({"cap": int(cap), "metric": m, "method": meth, "n": int(r["n"]),
                             "lots_mean": float(np.nanmean(lots_by[met.col])) * met.scale,
                             "mean_diff": float(r["mean_diff"]) * met.scale,
                             "p_value": float(r["p_value"]), "p_holm": float(r["p_holm"]), "verdict": r["verdict"]})
    return pd.DataFrame(rows, columns=["cap", "metric", "method", "n", "lots_mean", "mean_diff", "p_value", "p_holm",
                                       "verdict"])


def budget_flips(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Where LOTS's verdict against a method changes between consecutive budgets.

    A change follows :func:`lotslib.verdicts.verdict_changed`: significant at one budget and
    not at the next, or significant with opposite signs; two ties are no change.

    Parameters
    ----------
    verdicts : pandas.DataFrame
        :func:`budget_verdicts`'s rows.

    Returns
    -------
    pandas.DataFrame
        One row per change: ``metric``, ``method``, ``from_cap``, ``to_cap``, ``before``, ``after``.
    """
    from .verdicts import verdict_changed

    out = []
    for (metric, method), g in verdicts.sort_values("cap").groupby(["metric", "method"], sort=False):
        caps, words = g["cap"].tolist(), g["verdict"].tolist()
        for i in range(1, len(caps)):
            if verdict_changed(words[i - 1], words[i]):
                out.append({"metric": metric, "method": method, "from_cap": caps[i - 1], "to_cap": caps[i],
                            "before": words[i - 1], "after": words[i]})
    return pd.DataFrame(out, columns=["metric", "method", "from_cap", "to_cap", "before", "after"])


def early_stop_study(model, images, patience: int = 50, min_delta: float = 0.02, iters: int = LotsParams.iters,
                     tau: float = LotsParams.tau, alpha: float = LotsParams.alpha,
                     filter_size: int = LotsParams.filter_size, steps: int = MetricParams.steps, cache_dir=None,
                     batch_size: int = 4, threads: int | None = None, progress: bool = False) -> pd.DataFrame:
    """The plateau early stop against the full protocol, through :func:`lotslib.benchmark.run`.

    The registered metrics (:data:`lotslib.metric_registry.METRICS`), Coherency included, are
    computed both ways and cached there.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The attacked model.
    images : lotslib.data.ImageSource
        The images.
    patience : int
        Plateau stop: steps over which the distance must improve. Default 50.
    min_delta : float
        Plateau stop: the relative improvement required, in [0, 1). Default 0.02.
    iters, tau, alpha, filter_size : int, float, float, int
        LOTS cap (of both runs), stopping distance, step width and Algorithm 2's blur, as in
        :func:`iteration_study`. Defaults 500, 0.1, 1/255, 49.
    steps : int
        Insertion/deletion steps. Default 224.
    cache_dir : str, pathlib.Path or None
        As in :func:`iteration_study`.
    batch_size : int
        Images per batch of the benchmark. Default 4.
    threads : int or None
        CPU threads of the benchmark (None, the default: the benchmark's choice).
    progress : bool
        Show progress bars. Default False.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``image_id, iters_full, iters_early, stop_early, pearson`` (map of
        the early-stopped run vs the full run), ``ms_full, ms_early`` and ``<metric>_full`` /
        ``<metric>_early`` for every registered metric; ``attrs`` holds ``patience``,
        ``min_delta`` and ``iters``.
    """
    cache_dir = cache_root() if cache_dir is None else cache_dir
    base = {"iters": iters, "tau": tau, "alpha": alpha, "filter_size": filter_size}
    mp = {"steps": steps, "batch_size": 8}
    runs = {}
    for tag, extra in (("full", {}), ("early", {"patience": patience, "min_delta": min_delta})):
        runs[tag] = run([model], ["lots"], images, params={"lots": {**base, **extra}, "metrics": mp},
                        cache_dir=cache_dir, batch_size=batch_size, threads=threads, progress=progress)
    full, early = runs["full"], runs["early"]
    r = map_correlation(load_maps(early), load_maps(full))
    out = pd.DataFrame({"image_id": full["image_id"], "iters_full": full["lots_iters"],
                        "iters_early": early["lots_iters"].values,
                        "stop_early": early["lots_stop"].values, "pearson": r,
                        "ms_full": full["ms_per_map"], "ms_early": early["ms_per_map"].values})
    for m in METRICS.values():  # every registered metric, in the tables' order
        out[f"{m.col}_full"] = full[m.col].values
        out[f"{m.col}_early"] = early[m.col].values
    out.attrs.update(patience=patience, min_delta=min_delta, iters=iters)
    return out


def early_stop_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Means of :func:`early_stop_study` rows: iterations and time saved, map Pearson, metrics.

    Parameters
    ----------
    df : pandas.DataFrame
        The table of :func:`early_stop_study`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``quantity``, with columns ``full``, ``early stop`` and ``ratio or p``:
        iterations and time saved (means, and the full / early ratio of their sums), map
        Pearson (mean and minimum), and each metric full vs early (means; Increase in %)
        with a paired Wilcoxon p-value (:func:`lotslib.stats.paired_wilcoxon`).
    """
    from .stats import paired_wilcoxon

    rows = [
        {"quantity": "iterations", "full": df["iters_full"].mean(), "early stop": df["iters_early"].mean(),
         "ratio or p": df["iters_full"].sum() / max(1, df["iters_early"].sum())},
        {"quantity": "ms per map", "full": df["ms_full"].mean(), "early stop": df["ms_early"].mean(),
         "ratio or p": df["ms_full"].sum() / max(1e-9, df["ms_early"].sum())},
        {"quantity": "map Pearson vs full (mean / min)", "full": 1.0, "early stop": df["pearson"].mean(),
         "ratio or p": df["pearson"].min()},
    ]
    for m in METRICS.values():  # the registered metrics the rows have, each at its table scale
        if f"{m.col}_full" not in df:
            continue
        a, b = df[f"{m.col}_full"].to_numpy(), df[f"{m.col}_early"].to_numpy()
        rows.append({"quantity": m.col, "full": a.mean() * m.scale, "early stop": b.mean() * m.scale,
                     "ratio or p": paired_wilcoxon(a, b)["p_value"]})
    return pd.DataFrame(rows).set_index("quantity")


def alpha_study(model, images, alphas=(0.5 / 255, 1 / 255, 2 / 255, 4 / 255), iters: int = 100,
                tau: float = LotsParams.tau, filter_size: int = LotsParams.filter_size, steps: int = 56,
                reference_alpha: float = LotsParams.alpha, cache_dir=None,
                batch_size: int | None = LotsParams.batch_size) -> pd.DataFrame:
    """LOTS (zero target, ``iters`` steps) for each step width alpha; ``batch_size``: images per
    LOTS batch (None: all at once; 1: each walk alone, as the book computes them).

    The LOTS results are cached per image (:func:`lotslib.lots_store.cached_lots`), the table
    under a key of every parameter, the model weights and the image list.

    Parameters
    ----------
    model, images
        The attacked model and its images, as in :func:`iteration_study`.
    alphas : Iterable of float
        The step widths. Default 0.5/255, 1/255, 2/255, 4/255 (``reference_alpha`` is
        always added).
    iters, tau, filter_size, steps : int, float, int, int
        LOTS cap and stopping distance, Algorithm 2's blur and the insertion/deletion steps,
        as in :func:`iteration_study`. Defaults 100, 0.1, 49, 56.
    reference_alpha : float
        The alpha whose maps the others are compared with. Default 1/255 (the thesis).
    cache_dir : str, pathlib.Path or None
        As in :func:`iteration_study`.

    Returns
    -------
    pandas.DataFrame
        One row per image and alpha: ``image_id, alpha, alpha_255, iterations, distance,
        seconds, pearson_vs_reference`` (map vs the ``reference_alpha`` map) and the
        metrics (Average Drop, Increase, Insertion, Deletion).

    Raises
    ------
    lotslib.errors.ParameterError
        ``steps`` is not in 1..H*W, or a bad LOTS parameter (on a cache miss).
    """
    alphas = sorted(set(map(float, alphas)) | {float(reference_alpha)})
    cache_dir = cache_root() if cache_dir is None else cache_dir

    def compute():
        x = images.batch(model)
        _check_steps(steps, x)
        cls = _top1(model, x)
        maps, results = {}, {}
        for a in alphas:
            res = cached_lots(model, images, iters=iters, tau=tau, alpha=a, cache_dir=cache_dir, x=x,
                              batch_size=batch_size)
            results[a], maps[a] = res, _maps(x, res.x_adv, filter_size)
        rows = []
        for a in alphas:
            met = _metrics(model, x, maps[a], cls, steps)
            r = map_correlation(maps[a], maps[float(reference_alpha)])
            res = results[a]
            for i, iid in enumerate(images.ids):
                rows.append(dict(image_id=iid, alpha=a, alpha_255=a * 255, iterations=int(res.trace.iterations[i]),
                                 distance=float(res.trace.final_distance[i]),
                                 seconds=res.trace.seconds / len(images),
                                 pearson_vs_reference=float(r[i]), **{n: float(v[i]) for n, v in met.items()}))
        return pd.DataFrame(rows)

    key = _key(model, images, study="alpha", alphas=alphas, iters=iters, tau=tau, filter_size=filter_size, steps=steps,
               reference_alpha=reference_alpha, batch_size=batch_size)
    return cached_frame(cache_dir, "study-alpha", key, compute)


def postprocess_study(model, images, filter_sizes=(49, 25, 13, 7, 3, 1), sigmas=(None,), iters: int = 100,
                      tau: float = LotsParams.tau, alpha: float = LotsParams.alpha, steps: int = 56,
                      cache_dir=None, batch_size: int | None = LotsParams.batch_size) -> pd.DataFrame:
    """Algorithm 2's Gaussian filter (size, sigma; None = the size's default) on one set of LOTS results
    (``batch_size``: images per LOTS batch, as in :func:`alpha_study`).

    Parameters
    ----------
    model, images
        The attacked model and its images, as in :func:`iteration_study`.
    filter_sizes : Iterable of int
        Kernel sizes (positive odd; 1 = no blur). Default 49, 25, 13, 7, 3, 1.
    sigmas : Iterable of float or None
        Standard deviations; None = :func:`lotslib.visualize.default_sigma` of the size.
        Default: None only.
    iters, tau, alpha, steps, cache_dir
        The LOTS run and the metrics, as in :func:`iteration_study` (defaults 100, 0.1,
        1/255, 56, None).

    Returns
    -------
    pandas.DataFrame
        One row per image, size and sigma: ``image_id, filter_size, sigma, seconds`` (map
        time) and the metrics (Average Drop, Increase, Insertion, Deletion).

    Raises
    ------
    lotslib.errors.ParameterError
        ``steps`` is not in 1..H*W, a bad filter size or sigma, or a bad LOTS parameter.
    """
    cache_dir = cache_root() if cache_dir is None else cache_dir

    def compute():
        x = images.batch(model)
        _check_steps(steps, x)
        cls = _top1(model, x)
        res = cached_lots(model, images, iters=iters, tau=tau, alpha=alpha, cache_dir=cache_dir, x=x,
                          batch_size=batch_size)
        rows = []
        for fs in filter_sizes:
            for sg in sigmas:
                t0 = time.perf_counter()
                m = _maps(x, res.x_adv, fs, sg)
                dt = (time.perf_counter() - t0) / len(images)
                met = _metrics(model, x, m, cls, steps)
                for i, iid in enumerate(images.ids):
                    rows.append(dict(image_id=iid, filter_size=fs,
                                     sigma=("default" if sg is None else f"{float(sg):g}"),
                                     seconds=dt, **{n: float(v[i]) for n, v in met.items()}))
        return pd.DataFrame(rows)

    key = _key(model, images, study="postprocess", filter_sizes=list(filter_sizes), sigmas=list(sigmas), iters=iters,
               tau=tau, alpha=alpha, steps=steps, batch_size=batch_size)
    return cached_frame(cache_dir, "study-postprocess", key, compute)


def _frontier(out: pd.DataFrame) -> pd.Series:
    """Candidates no other candidate beats on all three of fewer mean passes, higher median
    Pearson and more metrics shown equivalent (at least as good on all, better on one)."""
    p, r, e = (out[c].to_numpy(float) for c in ("mean_passes", "pearson_median", "n_equivalent"))
    keep = []
    for i in range(len(out)):
        dominated = ((p <= p[i]) & (r >= r[i]) & (e >= e[i]) & ((p < p[i]) | (r > r[i]) | (e > e[i])))
        keep.append(not dominated.any())
    return pd.Series(keep, index=out.index)


def _decide(out: pd.DataFrame, bar: dict) -> pd.DataFrame:
    keys = [m.key for m in METRICS.values() if f"{m.key}_equivalent" in out]
    out["n_equivalent"] = out[[f"{k}_equivalent" for k in keys]].sum(axis=1).astype(int)
    out["metrics_equivalent"] = out["n_equivalent"] == len(keys)
    out["maps_close"] = (out["pearson_median"] >= bar["median"]) & (out["pearson_p10"] >= bar["p10"])
    out["meets_bar"] = out["maps_close"] & out["metrics_equivalent"]
    out["on_frontier"] = _frontier(out)
    out["picked"] = False
    fit = out[out["meets_bar"]]
    if len(fit):
        out.loc[fit["mean_passes"].idxmin(), "picked"] = True
    return out


def equivalence_table(rows: pd.DataFrame, margins: dict | None = None, alpha: float = EQUIVALENCE_ALPHA,
                      bar: dict | None = None) -> pd.DataFrame:
    """One row per candidate LOTS schedule, from the per-image rows of
    ``experiments/lots_equivalence.py``: its passes, its maps' Pearson correlation with the
    protocol's, and for every metric the paired two one-sided tests (:func:`lotslib.stats.tost`)
    of the candidate-minus-protocol difference against the metric's margin.

    A candidate *meets the bar* when its maps are close (median Pearson >= ``bar["median"]``,
    10th percentile >= ``bar["p10"]``) and every metric is shown equivalent; the *pick* is the
    one with the fewest mean passes among those. ``on_frontier`` marks the candidates no other
    beats on passes, median Pearson and the number of metrics shown equivalent together.

    Parameters
    ----------
    rows : pandas.DataFrame
        One row per (candidate, image): ``candidate``, ``image_id``, ``passes`` (the
        candidate's LOTS iterations), ``protocol_passes``, ``pearson`` (with the protocol's
        map), and per metric ``<key>_protocol`` and ``<key>_candidate`` (table units, e.g. %).
    margins : dict or None, optional
        Metric key -> margin in table units (default :data:`EQUIVALENCE_MARGINS`); metrics
        without a margin or without columns are left out.
    alpha : float, optional
        Level of each one-sided test (default :data:`EQUIVALENCE_ALPHA`).
    bar : dict or None, optional
        ``{"median", "p10"}`` Pearson bar (default :data:`PEARSON_BAR`).

    Returns
    -------
    pandas.DataFrame
        In the candidates' order of first appearance: ``candidate``, ``n``, ``mean_passes``,
        ``passes_ratio`` (protocol / candidate), ``pearson_median``, ``pearson_p10``,
        ``pearson_min``; per metric ``<key>_protocol`` (mean), ``<key>_delta`` (mean
        difference), ``<key>_delta_low``/``_delta_high`` (its 95 % bootstrap interval, as
        recorded before), ``<key>_ci90_low``/``_ci90_high`` (the TOST interval),
        ``<key>_p_lower``/``_p_upper``, ``<key>_margin``, ``<key>_equivalent``; then
        ``n_equivalent``, ``metrics_equivalent``, ``maps_close``, ``meets_bar``, ``on_frontier``,
        ``picked`` and ``approximate`` (False: exact per-image tests).

    Raises
    ------
    lotslib.errors.ParameterError
        A missing column, or a bad margin or ``alpha`` (:func:`lotslib.stats.tost`).
    """
    from .stats import bootstrap_ci, tost

    margins = EQUIVALENCE_MARGINS if margins is None else margins
    bar = PEARSON_BAR if bar is None else bar
    need = {"candidate", "passes", "protocol_passes", "pearson"}
    if missing := sorted(need - set(rows.columns)):
        raise ParameterError(f"equivalence rows lack the columns {missing}; they come from "
                             f"experiments/lots_equivalence.py (its per-image file).")
    keys = [m.key for m in METRICS.values()
            if m.key in margins and f"{m.key}_protocol" in rows and f"{m.key}_candidate" in rows]
    out = []
    for name, g in rows.groupby("candidate", sort=False):
        r = g["pearson"].to_numpy(float)
        row = {"candidate": name, "n": len(g), "mean_passes": float(g["passes"].mean()),
               "passes_ratio": float(g["protocol_passes"].mean() / g["passes"].mean()),
               "pearson_median": float(np.median(r)), "pearson_p10": float(np.quantile(r, 0.10)),
               "pearson_min": float(r.min())}
        for k in keys:
            d = g[f"{k}_candidate"].to_numpy(float) - g[f"{k}_protocol"].to_numpy(float)
            lo95, hi95 = bootstrap_ci(d)
            t = tost(d, margins[k], alpha)
            row.update({f"{k}_protocol": float(g[f"{k}_protocol"].mean()), f"{k}_delta": t["mean_diff"],
                        f"{k}_delta_low": lo95, f"{k}_delta_high": hi95, f"{k}_ci90_low": t["ci_low"],
                        f"{k}_ci90_high": t["ci_high"], f"{k}_p_lower": t["p_lower"], f"{k}_p_upper": t["p_upper"],
                        f"{k}_margin": float(margins[k]), f"{k}_equivalent": t["equivalent"]})
        out.append(row)
    res = _decide(pd.DataFrame(out), bar)
    res["approximate"] = False
    return res


def equivalence_from_summary(summary: pd.DataFrame, margins: dict | None = None, alpha: float = EQUIVALENCE_ALPHA,
                             bar: dict | None = None) -> pd.DataFrame:
    """The decisions of :func:`equivalence_table`, approximated from a summary that holds only
    each candidate's mean difference and 95 % bootstrap interval per metric (the format
    ``results/lots_equivalence.csv`` had before the per-image rows were recorded).

    The standard error is read off the interval's width, ``se = (high - low) / (2 z_0.975)``,
    and the two one-sided tests use the normal distribution: ``p_lower = 1 - Phi((m + margin) /
    se)``, ``p_upper = Phi((m - margin) / se)``, interval ``m -/+ z_{1-alpha} se``. The percentile
    bootstrap interval is close to that normal interval for a mean over 20 images but not equal
    to it (it may be skewed), and z replaces t, which makes the test slightly liberal
    (``t_19, 0.95 = 1.73`` vs ``z = 1.645``): the result is marked ``approximate`` and is a stand-in
    until the per-image rows are recorded. An interval of zero width (every difference equal)
    gives p-values 0 or 1, as in :func:`lotslib.stats.tost`.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per candidate: ``candidate``, ``mean_passes``, ``passes_ratio``,
        ``pearson_median``, ``pearson_p10`` (and ``pearson_min``, ``n``), and per metric
        ``<key>_delta``, ``<key>_delta_low``, ``<key>_delta_high`` (table units).
    margins, alpha, bar
        As in :func:`equivalence_table`.

    Returns
    -------
    pandas.DataFrame
        The summary's columns with, per metric, ``<key>_ci90_low``/``_ci90_high``,
        ``<key>_p_lower``/``_p_upper``, ``<key>_margin`` and ``<key>_equivalent``, and the
        decision columns of :func:`equivalence_table` (``meets_bar`` and ``picked``
        replaced); ``approximate`` True.

    Raises
    ------
    lotslib.errors.ParameterError
        A bad margin or ``alpha``.
    """
    from scipy.stats import norm

    margins = EQUIVALENCE_MARGINS if margins is None else margins
    bar = PEARSON_BAR if bar is None else bar
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ParameterError(f"alpha={alpha!r}: must be in (0, 0.5), e.g. 0.05.")
    out = summary.copy().reset_index(drop=True)
    z95, z = norm.ppf(0.975), norm.ppf(1 - alpha)
    for m in METRICS.values():
        k = m.key
        if k not in margins or f"{k}_delta" not in out:
            continue
        mg = float(margins[k])
        if not (math.isfinite(mg) and mg > 0):
            raise ParameterError(f"margin of {k}={mg!r}: must be a positive number.")
        mean = out[f"{k}_delta"].to_numpy(float)
        se = (out[f"{k}_delta_high"].to_numpy(float) - out[f"{k}_delta_low"].to_numpy(float)) / (2 * z95)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_lower = np.where(se > 0, norm.sf((mean + mg) / se), np.where(mean > -mg, 0.0, 1.0))
            p_upper = np.where(se > 0, norm.cdf((mean - mg) / se), np.where(mean < mg, 0.0, 1.0))
        out[f"{k}_ci90_low"], out[f"{k}_ci90_high"] = mean - z * se, mean + z * se
        out[f"{k}_p_lower"], out[f"{k}_p_upper"] = p_lower, p_upper
        out[f"{k}_margin"] = mg
        out[f"{k}_equivalent"] = np.maximum(p_lower, p_upper) < alpha
    res = _decide(out, bar)
    res["approximate"] = True
    return res
