"""Parameter studies beyond the thesis (its sections 6.2 and 7 list them as future work).

* :func:`iteration_study` -- LOTS's budget curve: how the map and the metrics change with the
  iteration cap. One stored run with snapshots gives the maps of every shorter cap
  (:mod:`lotslib.lots_store`), so the curve costs no LOTS step beyond the protocol's run.
* :func:`early_stop_study` -- the plateau early stop (``patience``, ``min_delta``) against the
  full protocol: iterations saved, map Pearson correlation, every registered metric both ways.
* :func:`alpha_study` -- the step width alpha against iterations, time, distance and metrics.
* :func:`postprocess_study` -- Gaussian filter size and sigma of Algorithm 2 against the metrics.

Every study returns a tidy DataFrame (one row per image and setting) and caches it under a
key of all its parameters, the model weights and the image list (:mod:`lotslib.cache`).
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import torch

from .benchmark import load_maps, run
from .cache import cache_key, cached_frame
from .paths import cache_root
from .lots_store import cached_lots
from .errors import ParameterError
from .metric_registry import METRICS
from .metrics import confidence_change, insertion_deletion
from .metrics import pearson
from .models import weights_fingerprint
from .params import BUDGETS, LotsParams, MetricParams
from .visualize import ZeroPerturbationWarning, lots_map

__all__ = [
    "map_correlation",
    "iteration_study",
    "BUDGET_METRICS",
    "budget_verdicts",
    "budget_flips",
    "early_stop_study",
    "early_stop_summary",
    "alpha_study",
    "postprocess_study",
]


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


def _maps(x, x_adv, filter_size=LotsParams.filter_size, sigma=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroPerturbationWarning)
        return lots_map(x, x_adv, filter_size, sigma)


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
        final = _maps(x, res.x_adv.to(x.device), filter_size)
        rows = []
        for k in checkpoints:
            rk = res if k == iters else run_at(k, x)
            m = _maps(x, rk.x_adv.to(x.device), filter_size)
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
        :attr:`~lotslib.metric_registry.Metric.scale`), ``p_value``, ``p_holm`` (Holm across the methods of that cap
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
                reference_alpha: float = LotsParams.alpha, cache_dir=None) -> pd.DataFrame:
    """LOTS (zero target, ``iters`` steps) for each step width alpha.

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
            res = cached_lots(model, images, iters=iters, tau=tau, alpha=a, cache_dir=cache_dir, x=x)
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
               reference_alpha=reference_alpha)
    return cached_frame(cache_dir, "study-alpha", key, compute)


def postprocess_study(model, images, filter_sizes=(49, 25, 13, 7, 3, 1), sigmas=(None,), iters: int = 100,
                      tau: float = LotsParams.tau, alpha: float = LotsParams.alpha, steps: int = 56,
                      cache_dir=None) -> pd.DataFrame:
    """Algorithm 2's Gaussian filter (size, sigma; None = the size's default) on one set of LOTS results.

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
        res = cached_lots(model, images, iters=iters, tau=tau, alpha=alpha, cache_dir=cache_dir, x=x)
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
               tau=tau, alpha=alpha, steps=steps)
    return cached_frame(cache_dir, "study-postprocess", key, compute)
