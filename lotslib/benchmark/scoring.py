"""Scoring one batch: explain the images with one method, then compute every registered
metric (:data:`lotslib.metric_registry.METRICS`) on the maps, and lay out the rows.

The rows' columns are listed in :mod:`lotslib.benchmark`'s docstring. Every metric value is
per image and finite (no NaN); degenerate cases are flagged instead.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from ..explanation import explain_with_info, per_image_rows
from ..lots_store import sharing
from ..method_registry import get_method
from ..metric_registry import METRICS, ScoreBatch
from ..metrics import changed_pixels
from ..targets import REFERENCE_KINDS, reference_targets
from ..tensors import id_seed

__all__ = ["compute_batch", "explain_timed", "is_na", "lots_info", "warm_up"]


def explain_timed(method, model, x, top1, ep, timing):
    """Maps, degenerate flags, LOTS (iterations, stop) and wall ms per map for a batch.

    Parameters
    ----------
    method : str
        The method key.
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    top1 : torch.Tensor
        ``(N,)`` target classes.
    ep : dict
        The explain parameters (per-image ``seed`` lists and ``target`` rows are split).
    timing : str
        ``"per_image"``: each map is made (and timed) on its own, as the thesis timed one map
        per image; ``"per_batch"``: one batched call, its time split evenly over the images.

    Returns
    -------
    maps : torch.Tensor
        ``(N,H,W)`` maps in [0,1].
    degenerate : torch.Tensor
        ``(N,)`` bool flags.
    info : list of tuple
        Per image, ``(iterations, stop reason)`` (:func:`lots_info`).
    ms : list of float
        Wall milliseconds per map.
    """
    n = x.shape[0]
    if timing == "per_batch":
        t0 = time.perf_counter()
        ex = explain_with_info(method, model, x, targets=top1, **ep)
        ms = (time.perf_counter() - t0) * 1000.0 / n
        return ex.maps, ex.degenerate, [lots_info(ex, j) for j in range(n)], [ms] * n
    maps, degen, info, ms = [], [], [], []
    for j in range(n):
        epj = per_image_rows(ep, n, [j])
        t0 = time.perf_counter()
        ex = explain_with_info(method, model, x[j : j + 1], targets=top1[j : j + 1], **epj)
        ms.append((time.perf_counter() - t0) * 1000.0)
        maps.append(ex.maps)
        degen.append(ex.degenerate)
        info.append(lots_info(ex, 0))
    return torch.cat(maps), torch.cat(degen), info, ms


def _method_params(model, method, p, images, idx, top1, reference):
    """The explain parameters of a batch: per-image seeds from the image ids; for a LOTS
    variant its feature target. Returns (params, feature targets or None)."""
    ids = [images.ids[i] for i in idx]
    ep = dict(p)
    if "seed" in ep:
        ep["seed"] = [id_seed(ep["seed"], i) for i in ids]
    kind = get_method(method).feature_target
    targets = None
    if kind == "zero":
        ep["target"] = "zero"
    elif kind in REFERENCE_KINDS:
        targets = reference_targets(model, kind, reference, [images.items[i] for i in idx],
                                    [images.labels[i] for i in idx], top1, ep["layer"])
        ep["target"] = targets.features
    return ep, targets


def _score(model, method, ep, mp, x, top1, timing):
    """Explain ``x`` and compute every registered metric: per-image columns, flags, curves, maps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # degenerate maps are flagged in the rows
        maps, degen, info, ms = explain_timed(method, model, x, top1, ep, timing)
        batch = ScoreBatch(model, x, maps, top1, method, ep, mp)
        scored = {m.key: m.compute(batch) for m in METRICS.values()}
    columns: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {"degenerate_map": degen.numpy().astype(bool)}
    curves: dict[str, np.ndarray] = {}
    for m in METRICS.values():
        v = scored[m.key]
        columns.update(v.columns)
        columns[m.col] = v.values
        if v.flags is not None:
            flags[f"degenerate_{m.key}"] = np.asarray(v.flags, dtype=bool)
        if v.curves is not None:
            curves[m.key] = v.curves
            curves["fractions"] = v.fractions
    return maps, degen, info, ms, columns, flags, curves


def compute_batch(model, method, p, mp, images, idx, reference, device, threads, batch_size, key,
                  timing) -> tuple[list[dict], dict]:
    """Rows and the arrays to store of a batch of images, for one model and method.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    method : str
        The method key.
    p : dict
        The method's resolved parameters.
    mp : dict
        The metric parameters.
    images : lotslib.data.ImageSource
        The images.
    idx : list of int
        Positions in ``images`` of the batch.
    reference : lotslib.data.ImageSource
        The reference set of the LOTS class/mean targets.
    device : str or torch.device
        The device.
    threads : int or None
        Torch threads, recorded per row.
    batch_size : int
        Images per batch, recorded per row.
    key : str
        The cache key (:func:`lotslib.benchmark.store.key_for`).
    timing : str
        ``"per_image"`` or ``"per_batch"`` (see :func:`explain_timed`).

    Returns
    -------
    rows : list of dict
        One dict per image.
    curves : dict
        The arrays to store (curves, fractions, maps).

    Notes
    -----
    An image without a feature target (a LOTS class/mean variant whose class has no other
    reference image) is not explained: its row is N/A, with the reason in ``na_reason``, NaN
    metrics (excluded from every mean) and an all-zero stored map.
    """
    ids = [images.ids[i] for i in idx]
    labels = [images.labels[i] for i in idx]
    x = images.batch(model, idx).to(device)
    with torch.no_grad():
        prob = model(x).float().softmax(1).cpu()
    score, top1 = prob.max(1)
    ep, targets = _method_params(model, method, p, images, idx, top1, reference)
    n = len(idx)
    keep = list(range(n)) if targets is None else [j for j in range(n) if targets.ok[j]]
    h, w = x.shape[-2:]
    maps = torch.zeros(n, h, w)
    degen = torch.zeros(n, dtype=torch.bool)
    info, ms = [(-1, "")] * n, [float("nan")] * n
    columns: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    if keep:
        if len(keep) == n:
            maps, degen, info, ms, columns, flags, curves = _score(model, method, ep, mp, x, top1, timing)
        else:
            m_, d_, i_, ms_, cols_, flags_, curves_ = _score(model, method, per_image_rows(ep, n, keep), mp, x[keep],
                                                             top1[keep], timing)
            maps[keep], degen[keep] = m_, d_
            for j, k in enumerate(keep):
                info[k], ms[k] = i_[j], ms_[j]
            for src, dst in ((cols_, columns), (flags_, flags), (curves_, curves)):
                for col, v in src.items():
                    if col == "fractions":
                        dst[col] = v
                        continue
                    v = np.asarray(v)
                    full = np.full((n,) + v.shape[1:], False if v.dtype == bool else np.nan,
                                   dtype=bool if v.dtype == bool else np.float64)
                    full[keep] = v
                    dst[col] = full
    else:  # every image is N/A: the columns exist, all NaN
        for m in METRICS.values():
            columns[m.col] = np.full(n, np.nan)
            if m.has_curves:
                curves[m.key] = np.full((n, mp["steps"] + 1), np.nan)
        curves["fractions"] = np.asarray(changed_pixels(mp["steps"], h * w), np.float64) / (h * w)
    reasons = targets.na_reasons if targets is not None else [""] * n
    flags.setdefault("degenerate_map", degen.numpy().astype(bool))
    flags["no_reference"] = np.array([r != "" for r in reasons], dtype=bool)
    rows = []
    for j, iid in enumerate(ids):
        row_flags = [name for name, f in flags.items() if f[j]]
        row = {
            "model": model.name,
            "method": method,
            "method_name": get_method(method).name,
            "image_id": iid,
            "image_fp": images[idx[j] : idx[j] + 1].fingerprint(),
            "label": -1 if labels[j] is None else int(labels[j]),
            "top1": int(top1[j]),
            "top1_score": float(score[j]),
        }
        for col, values in columns.items():
            row[col] = bool(values[j]) if values.dtype == bool else float(values[j])
        row.update({
            "ms_per_map": float(ms[j]),
            "degenerate": bool(degen[j]),
            "flagged": bool(row_flags),
            "flag": ",".join(row_flags),
            "na_reason": reasons[j],
            "target_class": int(targets.classes[j]) if targets is not None else -1,
            "target_reference": targets.reference_ids[j] if targets is not None else "",
            "lots_iters": info[j][0],
            "lots_stop": info[j][1],
            "device": str(device),
            "threads": int(threads),
            "batch_size": int(batch_size),
            "timing": timing,
            "steps": int(mp["steps"]),
            "cache_key": key,
        })
        rows.append(row)
    curves["maps"] = maps.cpu().numpy().astype(np.float32)  # the precision the metrics were computed at
    return rows, curves


def is_na(df):
    """``(len(df),)`` bool Series: the rows that are N/A (a non-empty ``na_reason``; rows from
    before that column existed are never N/A).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of :func:`lotslib.benchmark.run`, or any subset of them.

    Returns
    -------
    pandas.Series
        True where the row has no feature target and hence NaN metrics.
    """
    import pandas as pd

    if "na_reason" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["na_reason"].fillna("") != ""


def lots_info(ex, j) -> tuple[int, str]:
    """(iterations, stop reason) of image ``j`` of a LOTS batch.

    Parameters
    ----------
    ex : lotslib.explanation.Explanation
        The result of :func:`lotslib.explanation.explain_with_info`.
    j : int
        Position of the image in the batch.

    Returns
    -------
    tuple
        ``(iterations, stop reason)``; ``(-1, "")`` for other methods, ``(-1,
        "constant_image")`` for an image LOTS did not run on.
    """
    if not get_method(ex.method).is_lots:
        return -1, ""
    if ex.trace is None or not bool(ex.ran[j]):
        return -1, "constant_image"
    k = ex.ran.nonzero().flatten().tolist().index(j)
    return int(ex.trace.iterations[k]), str(ex.trace.stop_reason[k])


def warm_up(model, method, p, x, device) -> None:
    """One untimed call on one image (LOTS: two iterations) so timing excludes first-call costs.

    Parameters
    ----------
    model, method, p
        The classifier, the method key and its resolved parameters, as in :func:`compute_batch`.
    x : torch.Tensor
        Images ``(N,3,H,W)`` in [0,1]; the first is used.
    device : str or torch.device
        The device.

    Returns
    -------
    None
    """
    ep = dict(p)
    if "seed" in ep:
        ep["seed"] = [0]
    if get_method(method).is_lots:
        if "target" in get_method(method).defaults:  # the class-logit variant has none
            ep["target"] = "zero"
        ep["iters"] = min(2, ep["iters"])
    with warnings.catch_warnings(), sharing(None):  # not a result: kept out of the LOTS store
        warnings.simplefilter("ignore")
        explain_with_info(method, model, x[:1].to(device), **ep)
