"""The result tables the chapters show, computed from lotslib's results (pandas DataFrames).

Each function returns the data a chapter's table or caption needs, so a chapter's code is a
call and a caption, never a copy of the computation.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

__all__ = [
    "perturbation_summary",
    "recorded_study",
    "recorded_meta",
    "equivalence_frontier",
    "convention_verdict",
    "timing_paths_table",
    "na_rows",
    "first_with_targets",
    "Predictions",
    "predictions",
    "top1",
    "concentration",
    "map_concentration",
    "threshold_confidence",
    "target_tests",
    "target_maps",
    "best_cam_tests",
    "time_table",
    "benchmark_row",
    "method_curves",
    "first_of_classes",
    "random_subset",
    "cam_maps",
    "top_k_table",
    "extracted_target_maps",
    "distance_table",
    "iteration_caps",
    "recorded",
    "build_info",
    "chapter_runs",
    "image_lists",
    "lots_run_table",
]


@dataclass
class Predictions:
    """What :func:`predictions` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per image (index ``image``): label, top-1 before and after (with confidence),
        the probability of the original top-1 class after LOTS (%), iterations, final
        distance, whether τ was reached, and the stop reason.
    changed : float
        % of the images whose top-1 class changed.
    confidence_before, confidence_after : float
        Mean confidence (%) in the original top-1 class before and after.
    titles_before, titles_after : list of str
        Short "class confidence%" titles for figures.
    """

    table: pd.DataFrame
    changed: float
    confidence_before: float
    confidence_after: float
    titles_before: list
    titles_after: list


def predictions(model, x: torch.Tensor, result, images) -> Predictions:
    """The predictions of ``model`` on the images and on LOTS's adversarial images.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    result : lotslib.attack.LotsResult
        LOTS's result on ``x``; its adversarial images are ``result.x_adv``.
    images : lotslib.data.ImageSource
        The source ``x`` came from.

    Returns
    -------
    Predictions
        The predictions on ``x`` and on ``result.x_adv``.
    """
    from .plots import short_class

    dev = x.device
    tr = result.trace
    with torch.no_grad():
        p0 = model(x).softmax(1)
        p1 = model(result.x_adv.to(dev)).softmax(1)
    rows, before, after = [], [], []
    for i, s in enumerate(images):
        c0, c1 = int(p0[i].argmax()), int(p1[i].argmax())
        rows.append({
            "image": s.id,
            "label": short_class(s.name) if s.label is not None else "–",
            "top-1 before": f"{short_class(model.categories[c0])} ({100 * float(p0[i, c0]):.1f}%)",
            "top-1 after": f"{short_class(model.categories[c1])} ({100 * float(p1[i, c1]):.1f}%)",
            "p(original top-1) after %": 100 * float(p1[i, c0]),
            "iterations": int(tr.iterations[i]),
            "final distance": float(tr.final_distance[i]),
            "reached τ": "yes" if bool(tr.converged[i]) else "no",
            "stop": tr.stop_reason[i],
        })
        before.append(f"{short_class(model.categories[c0], 14)} {100 * float(p0[i].max()):.0f}%")
        after.append(f"{short_class(model.categories[c1], 14)} {100 * float(p1[i].max()):.0f}%")
    table = pd.DataFrame(rows).set_index("image")
    top0 = table["top-1 before"].str.split(" \\(").str[0]
    top1 = table["top-1 after"].str.split(" \\(").str[0]
    return Predictions(
        table=table,
        changed=float((top0 != top1).mean()) * 100,
        confidence_before=100 * float(p0.max(1).values.mean()),
        confidence_after=float(table["p(original top-1) after %"].mean()),
        titles_before=before,
        titles_after=after,
    )


# ------------------------------------------------------------------ predictions
def top1(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-1 class of ``model`` on each image and its softmax probability.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    x : torch.Tensor
        ``(N,3,H,W)`` images in [0,1].

    Returns
    -------
    classes : torch.Tensor
        ``(N,)`` int64 class indices in [0, 1000).
    probs : torch.Tensor
        ``(N,)`` float32 softmax probabilities in [0,1].
    """
    with torch.no_grad():
        p = model(x).softmax(1)
    return p.argmax(1), p.max(1).values


def top_k_table(model, xs: dict, k: int = 5) -> pd.DataFrame:
    """The ``k`` most probable ImageNet classes of ``model`` for each image.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    xs : dict
        ``{image id: (1,3,H,W) tensor in [0,1]}``, in the table's row order.
    k : int
        Classes per image (1..1000).

    Returns
    -------
    pandas.DataFrame
        Index ``photo`` (the ids), columns ``top-1`` .. ``top-k``: "class (probability %)".
    """
    from .plots import short_class

    rows = []
    for pid, x in xs.items():
        with torch.no_grad():
            p = model(x).softmax(1)[0]
        v, c = p.topk(k)
        top = {f"top-{j + 1}": f"{short_class(model.categories[int(ci)])} ({100 * float(q):.1f}%)"
               for j, (q, ci) in enumerate(zip(v, c))}
        rows.append({"photo": pid, **top})
    return pd.DataFrame(rows).set_index("photo")


# ------------------------------------------------------------------ chapter 2: the LOTS map
def concentration(m: torch.Tensor, share: float = 0.5) -> float:
    """The smallest fraction of the pixels that holds ``share`` of the map's total mass.

    Parameters
    ----------
    m : torch.Tensor
        A map ``(H,W)`` with values in [0,1].
    share : float
        Share of the total mass, in (0,1].

    Returns
    -------
    float
        Fraction of the pixels, in (0,1].
    """
    v = m.flatten().sort(descending=True).values
    c = v.cumsum(0) / v.sum().clamp_min(1e-12)
    return float((c < share).float().mean() + 1 / len(v))


def perturbation_summary(x: torch.Tensor, x_adv: torch.Tensor) -> dict:
    """How large and how concentrated the LOTS perturbations of a batch are, with a sentence.

    The perturbation of an image is ``|gray(x_adv) - gray(x)|`` (the first steps of
    Algorithm 2, before the blur). Its concentration is :func:`concentration` of that
    difference: the fraction of the pixels that holds half of its total magnitude (50 % for
    a perturbation spread evenly over the image).

    Parameters
    ----------
    x, x_adv : torch.Tensor
        The images and their LOTS adversarials, ``(N,3,H,W)`` in [0,1].

    Returns
    -------
    dict
        ``half_mass_pct`` (median over the images of that fraction, in %), ``mean_change``
        and ``max_change`` (the mean and the largest absolute gray-level change, in 1/255
        units, over all images), ``n`` and ``text``: a sentence stating these numbers and
        what they mean (concentrated below 10 %, spread out above 35 %, between them
        like the magnitudes of Gaussian noise, whose largest 27 % hold half the mass;
        invisible at its true scale when the largest change is at most 8/255).
    """
    from lotslib.visualize import to_gray

    d = (to_gray(x_adv.detach().cpu().float()) - to_gray(x.detach().cpu().float())).abs().flatten(1)
    half = 100 * float(torch.tensor([concentration(r) for r in d]).median())
    mean, mx = float(d.mean()) * 255, float(d.max()) * 255
    ref = "an even spread would need 50 %, Gaussian pixel noise about 27 %"
    if half < 10:
        how = f"concentrated in a small part of the image ({ref})"
    elif half > 35:
        how = f"spread over much of the image ({ref})"
    else:
        how = f"about as concentrated as pixel noise ({ref})"
    seen = ("almost invisible at its true scale" if mx <= 8 else "large enough to be visible in places at its true "
            "scale")
    text = (f"Half of the perturbation's magnitude lies in {half:.0f} % of the pixels (median over {len(d)} images): "
            f"it is {how}. The mean gray-level change is {mean:.2f}/255 and the largest {mx:.0f}/255, so the "
            f"perturbation is {seen}.")
    return {"half_mass_pct": half, "mean_change": mean, "max_change": mx, "n": len(d), "text": text}


def map_concentration(x: torch.Tensor, x_adv: torch.Tensor, sizes) -> pd.DataFrame:
    """How concentrated the LOTS map (Algorithm 2) of one image is for each Gaussian filter size.

    Parameters
    ----------
    x, x_adv : torch.Tensor
        The image and its LOTS adversarial, ``(1,3,H,W)`` in [0,1].
    sizes : sequence of int
        Odd filter sizes (1 = no blur).

    Returns
    -------
    pandas.DataFrame
        Index ``filter size``; columns "pixels holding 50% of the map (%)" (:func:`concentration`)
        and "pixels above 0.5 (%)", both in [0,100].
    """
    from lotslib.visualize import lots_map

    maps = {s: lots_map(x, x_adv, s)[0] for s in sizes}
    return pd.DataFrame({
        "filter size": list(sizes),
        "pixels holding 50% of the map (%)": [100 * concentration(maps[s]) for s in sizes],
        "pixels above 0.5 (%)": [100 * float((maps[s] > 0.5).float().mean()) for s in sizes],
    }).set_index("filter size")


def threshold_confidence(model, x: torch.Tensor, m: torch.Tensor, quantiles, cls: int) -> tuple[pd.DataFrame, float]:
    """The confidence of ``model`` in class ``cls`` on the explanation maps ``x ⊙ map`` of
    the thresholded map (:func:`lotslib.visualize.threshold_map`; ``q = 0``: the map itself),
    and the drop of Average Drop for this image (:func:`lotslib.metrics.confidence_change`).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (pixels in [0,1] -> logits).
    x, m : torch.Tensor
        One image ``(1,3,H,W)`` in [0,1] and its map ``(1,H,W)`` in [0,1].
    quantiles : sequence of float
        Per-image quantiles in [0,1).
    cls : int
        The explained class.

    Returns
    -------
    table : pandas.DataFrame
        Index ``quantile q``; "pixels kept (%)", "confidence on x ⊙ map (%)" and "drop (%)",
        all in [0,100].
    confidence : float
        The probability of ``cls`` on the image, in [0,1].
    """
    from lotslib.metrics import confidence_change
    from lotslib.visualize import threshold_map

    rows, y = [], None
    for q in quantiles:
        mq = m if q == 0 else threshold_map(m, q)
        c = confidence_change(model, x, mq, [cls], batch_size=1)
        y = float(c.y[0])
        rows.append({"quantile q": f"{q:.1f}", "pixels kept (%)": 100 * float((mq > 0).float().mean()),
                     "confidence on x ⊙ map (%)": 100 * float(c.o[0]), "drop (%)": float(c.drop[0])})
    return pd.DataFrame(rows).set_index("quantile q"), y


# ------------------------------------------------------------------ chapter 3: LOTS targets
def target_tests(df: pd.DataFrame) -> pd.DataFrame:
    """The zero target against the class and the mean target: a paired two-sided Wilcoxon
    signed-rank test over images for every metric (:func:`lotslib.stats.paired_wilcoxon`).

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of ``lots``, ``lots_class`` and
        ``lots_mean`` on one model, one row per (method, image).

    Returns
    -------
    pandas.DataFrame
        Index (``comparison``, ``metric``: the table label); columns ``zero`` and ``other``
        (the metric's table value, in %), ``p-value (Wilcoxon)`` in [0,1] and ``n`` (pairs).
    """
    from lotslib.benchmark import LOTS_VARIANTS, METRICS, TABLE_TARGETS, table_rows
    from lotslib.stats import paired_wilcoxon

    rows = table_rows(TABLE_TARGETS)
    tests = []
    for variant in LOTS_VARIANTS:
        a = df[df["method"] == "lots"].set_index("image_id")
        b = df[df["method"] == variant].set_index("image_id")
        for metric in METRICS.values():
            col, scale = metric.col, metric.scale
            t = paired_wilcoxon(a[col], b.loc[a.index, col])
            tests.append({"comparison": f"zero vs {rows[variant].split()[0].lower()}", "metric": metric.label,
                          "zero": a[col].mean() * scale, "other": b[col].mean() * scale,
                          "p-value (Wilcoxon)": t["p_value"], "n": t["n"]})
    return pd.DataFrame(tests).set_index(["comparison", "metric"])


def target_maps(model, reference, example, x: torch.Tensor, classes, lots_maps) -> tuple[dict, dict]:
    """The LOTS map of one image with each target of Table 5.1 (zero, class, mean), the class
    and mean targets from the reference set (:func:`lotslib.benchmark.lots_targets`).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    reference : lotslib.data.ImageSource
        The labelled reference set (the image itself is never used, by content).
    example : lotslib.data.ImageSource
        The one image.
    x : torch.Tensor
        Its pixels ``(1,3,H,W)`` in [0,1].
    classes : torch.Tensor
        ``(1,)`` its top-1 class (the class of an unlabelled image's target).
    lots_maps : Callable
        ``lots_maps(model, images, target, target_key, x=x) -> (N,H,W)`` maps in [0,1] of
        cached LOTS runs (:meth:`lotsbook.chapter.ChapterContext.lots_maps`).

    Returns
    -------
    maps : dict
        ``{row label of Table 5.1: (H,W) map in [0,1]}``; a target without a reference image
        is absent.
    notes : dict
        ``{row label: panel title}`` (with the reference image used).
    """
    from lotslib.benchmark import lots_targets, table_rows
    from lotslib.method_registry import TABLE_TARGETS, get_method

    maps, notes = {}, {}
    for variant, label in table_rows(TABLE_TARGETS).items():
        kind = get_method(variant).feature_target
        if kind == "zero":
            tgt, key, used = "zero", "zero", ""
        else:
            t = lots_targets(model, kind, reference, example.items, example.labels, classes, "logits")
            if not t.ok[0]:
                continue
            tgt, used = t.features[0], t.reference_ids[0]
            key = f"{variant}:{reference.fingerprint()}:{used}"
        maps[label] = lots_maps(model, example, tgt, key, x=x)[0]
        notes[label] = f"LOTS, {label.split()[0].lower()} target" + (f" ({used})" if used else "")
    return maps, notes


def na_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The benchmark rows that are N/A (no feature target).

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows (:func:`lotslib.benchmark.run`).

    Returns
    -------
    pandas.DataFrame
        A table indexed by (``method``, ``image``) with the column ``reason``; empty when no
        row is N/A.
    """
    from lotslib.benchmark import is_na

    if "na_reason" not in df.columns:
        return pd.DataFrame(columns=["reason"])
    na = df[is_na(df)]
    out = pd.DataFrame({"method": na["method_name"].to_numpy(), "image": na["image_id"].to_numpy(),
                        "reason": na["na_reason"].to_numpy()})
    return out.set_index(["method", "image"])


def first_with_targets(df: pd.DataFrame, images):
    """The first image of ``images`` whose class and mean targets exist (no N/A row), else the
    first image: the example of Figure 5.1.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows of ``lots_class`` / ``lots_mean``.
    images : lotslib.data.ImageSource
        The evaluated images.

    Returns
    -------
    lotslib.data.ImageSource
        One image.
    """
    from lotslib.benchmark import is_na

    na = set(df.loc[is_na(df), "image_id"])
    for i in images.ids:
        if i not in na:
            return images.select([i])
    return images.head(1)


# ------------------------------------------------------------------ chapter 4: the benchmark
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


# ------------------------------------------------------------------ chapters 5-6: maps
def first_of_classes(source, classes=(130, 129)):
    """One image of ``source``, chosen by its label.

    Parameters
    ----------
    source : lotslib.data.ImageSource
        The images to choose from (unlabelled images never match).
    classes : sequence of int
        ImageNet class indices in [0, 1000), in order of preference (130 flamingo, 129 spoonbill).

    Returns
    -------
    lotslib.data.ImageSource
        The first image whose label is ``classes[0]``, failing that ``classes[1]`` ..., failing
        all the first image of ``source``.
    """
    pick = next((i for lab in classes for i, label in enumerate(source.labels) if label == lab), 0)
    return source[pick : pick + 1]


def random_subset(images, n: int, rng):
    """Images drawn at random, without replacement.

    Parameters
    ----------
    images : lotslib.data.ImageSource
        The images to draw from.
    n : int
        How many (at most ``len(images)``).
    rng : numpy.random.Generator
        Draws one permutation of ``len(images)``.

    Returns
    -------
    lotslib.data.ImageSource
        ``min(n, len(images))`` images, in their order in ``images``.
    """
    n = min(n, len(images))
    idx = sorted(rng.permutation(len(images))[:n].tolist())
    return images.select([images.ids[i] for i in idx])


def cam_maps(model, x: torch.Tensor, classes, batch_size: int | None = None, skip=()) -> dict:
    """The maps of the CAM methods (:data:`lotslib.method_registry.CAM_METHODS`) of one image.

    Parameters
    ----------
    model, x, classes
        The classifier (pixels in [0,1] -> logits), one image ``(1,3,H,W)`` in [0,1] and
        its explained class ``(1,)``.
    batch_size : int or None
        Images per chunk of each method.
    skip : sequence of str
        Method keys to leave out (``("random",)``).

    Returns
    -------
    dict
        ``{method name: (H,W) map in [0,1]}`` in the registry's order.
    """
    from lotslib.explanation import explain
    from lotslib.method_registry import CAM_METHODS

    return {CAM_METHODS[k]: explain(k, model, x, targets=classes, batch_size=batch_size)[0]
            for k in CAM_METHODS if k not in skip}


def extracted_target_maps(model, x: torch.Tensor, runs: dict, filter_size: int = 49, batch_size: int | None = None):
    """Thesis Figure 5.7's maps of one image: LOTS with the extracted and with the zero
    target, and the CAM methods but Random-CAM for the top-1 class.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    x : torch.Tensor
        One image ``(1,3,H,W)`` in [0,1].
    runs : dict
        ``{"extracted": LotsResult, "zero": LotsResult}`` of the image.
    filter_size : int
        Gaussian filter of Algorithm 2.
    batch_size : int or None
        Images per chunk of the CAM methods.

    Returns
    -------
    maps : dict
        ``{panel title: (H,W) map in [0,1]}``.
    classes : torch.Tensor
        ``(1,)`` the top-1 class (argmax of the logits).
    """
    from lotslib.visualize import lots_map

    with torch.no_grad():
        c = model(x).argmax(1)
    maps = {"LOTS, extracted target": lots_map(x, runs["extracted"].x_adv.to(x.device), filter_size)[0],
            "LOTS, zero target": lots_map(x, runs["zero"].x_adv.to(x.device), filter_size)[0]}
    maps.update(cam_maps(model, x, c, batch_size, skip=("random",)))
    return maps, c


def distance_table(runs: dict) -> pd.DataFrame:
    """The distance of the logits to each LOTS target before and after the attack.

    Parameters
    ----------
    runs : dict
        ``{image id: {target name: LotsResult of that one image}}``.

    Returns
    -------
    pandas.DataFrame
        Index (``photo``, ``target``); ``distance before``, ``distance after`` (>= 0),
        ``iterations`` and ``reached τ`` ("yes"/"no").
    """
    rows = []
    for pid, by_target in runs.items():
        for lab, r in by_target.items():
            rows.append({"photo": pid, "target": lab, "distance before": float(r.trace.distances[0][0]),
                         "distance after": float(r.trace.final_distance[0]), "iterations": int(r.trace.iterations[0]),
                         "reached τ": "yes" if bool(r.trace.converged[0]) else "no"})
    return pd.DataFrame(rows).set_index(["photo", "target"])


# ------------------------------------------------------------------ chapter 7, provenance
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


def recorded(name: str):
    """A run recorded by a script of ``experiments/`` into the repository's ``results/`` folder.

    Parameters
    ----------
    name : str
        The file's name: ``"early_stop_study.csv"``, ``"book_time.json"``.

    Returns
    -------
    pandas.DataFrame or None
        A ``.csv`` as it is; a ``.json`` as :func:`lotsbook.provenance.book_time`'s rows
        (index ``item``, column ``value``); None when the file is absent.
    """
    from .paths import RESULTS
    from .provenance import book_time

    path = RESULTS / name
    if not path.is_file():
        return None
    return pd.read_csv(path) if path.suffix == ".csv" else pd.DataFrame(book_time(path)).set_index("item")


def recorded_meta(name: str) -> dict:
    """The JSON sidecar of a recorded run in ``results/`` (its command, parameters, hashes);
    ``{"command": "(not recorded)"}`` when absent.

    Parameters
    ----------
    name : str
        The sidecar's file name, e.g. ``"lots_equivalence.json"``.

    Returns
    -------
    dict
    """
    import json

    from .paths import RESULTS

    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {"command": "(not recorded)"}


def build_info(profile: str) -> pd.DataFrame:
    """The build machine, date and repository state.

    Parameters
    ----------
    profile : str
        The profile the book was built with.

    Returns
    -------
    pandas.DataFrame
        Index ``item``, column ``value`` (text): :func:`lotsbook.provenance.hardware`, the
        profile, the git commit and the lotslib code fingerprint.
    """
    from .build import code_fingerprint
    from .provenance import git_state, hardware

    git = git_state()
    commit = git.get("commit", "not a git checkout") + (" (uncommitted changes)" if git.get("dirty") else "")
    return pd.DataFrame(hardware() + [
        {"item": "profile", "value": profile},
        {"item": "git commit", "value": commit},
        {"item": "lotslib code fingerprint", "value": code_fingerprint()},
    ]).set_index("item")


def chapter_runs(book_dir) -> pd.DataFrame:
    """The chapter executions recorded in the executed notebooks.

    Parameters
    ----------
    book_dir : str or pathlib.Path
        The folder of the executed notebooks.

    Returns
    -------
    pandas.DataFrame
        :func:`lotsbook.provenance.chapter_runs`'s rows, the provenance page left out, indexed
        by ``chapter`` (seconds >= 0); empty, without columns, when none is recorded.
    """
    from .provenance import chapter_runs as runs

    df = pd.DataFrame([r for r in runs(book_dir) if r["chapter"] != "provenance"])
    return df.set_index("chapter") if len(df) else df


def image_lists(images, photos) -> pd.DataFrame:
    """The book's two image lists.

    Parameters
    ----------
    images, photos : lotslib.data.ImageSource
        The images of chapters 1-5 and chapter 6's photos.

    Returns
    -------
    pandas.DataFrame
        Index ``list``; ``source`` (description), ``images`` (count) and ``list hash``
        (:meth:`lotslib.data.ImageSource.fingerprint`, 16 hex digits).
    """
    rows = (("chapters 1-5", images), ("chapter 6 (photos)", photos))
    return pd.DataFrame([{"list": name, "source": src.description, "images": len(src), "list hash": src.fingerprint()}
                         for name, src in rows]).set_index("list")


# ------------------------------------------------------------------ chapter 4: conventions and timing paths
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


# ------------------------------------------------------------------ chapter 7: the recorded equivalence study
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


# ------------------------------------------------------------------ exercises: LOTS runs side by side
def lots_run_table(x: torch.Tensor, runs: dict, ids=None) -> pd.DataFrame:
    """What each LOTS run did to the same images: its steps, its distance to the target and
    the size of its perturbation (the exercises of chapters 1 and 7 compare step widths and
    iteration caps with it).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` original pixels in [0,1].
    runs : dict
        ``{label: lotslib.attack.LotsResult}``: LOTS runs on ``x`` (each ``x_adv`` ``(N,3,H,W)``).
    ids : sequence of str or None, optional
        The images' names (default None: ``0 .. N-1``).

    Returns
    -------
    pandas.DataFrame
        Index (``run``, ``image``); columns "iterations" (steps taken), "distance before",
        "distance after" (to the target, in feature units), "reached τ" (bool), and "largest
        pixel change" and "mean pixel change" of ``|x_adv - x|`` over pixels and channels, in
        units of 1/255 (after k steps of width α the largest change is at most k·α·255).

    Raises
    ------
    lotslib.errors.ParameterError
        A run's ``x_adv`` does not have the shape of ``x``, or ``ids`` does not name each image.
    """
    from lotslib.errors import ParameterError

    x = x.detach().float().cpu()
    names = [str(i) for i in (range(len(x)) if ids is None else ids)]
    if len(names) != len(x):
        raise ParameterError(f"ids has {len(names)} names for {len(x)} images. Fix: one name per image of x.")
    rows = []
    for label, res in runs.items():
        if tuple(res.x_adv.shape) != tuple(x.shape):
            raise ParameterError(f"run {label!r}: x_adv has shape {tuple(res.x_adv.shape)}, x {tuple(x.shape)}. "
                                 f"Fix: pass the LOTS results of these images.")
        change = (res.x_adv.detach().float().cpu() - x).abs().flatten(1) * 255
        tr = res.trace
        for i, name in enumerate(names):
            rows.append({"run": str(label), "image": name, "iterations": int(tr.iterations[i]),
                         "distance before": float(tr.distances[i, 0]), "distance after": float(tr.distances[i, -1]),
                         "reached τ": bool(tr.converged[i]), "largest pixel change": float(change[i].max()),
                         "mean pixel change": float(change[i].mean())})
    return pd.DataFrame(rows).set_index(["run", "image"])
