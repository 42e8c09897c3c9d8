"""Score stored maps again under other metric conventions, without explaining again.

The benchmark stores every map at the precision it was scored with (float32), beside the
rows (:mod:`lotslib.benchmark.store`). :func:`rescore` reads them back and computes chosen
metrics with other metric parameters -- the ``fill`` of masked pixels, the Insertion/Deletion
``score`` -- so a chapter can show a sensitivity table next to the main one at the cost of
the metrics alone. (Coherency explains the explanation map again, as its definition asks.)
A metric that recorded its values under the requested parameter in the same pass
(:func:`lotslib.metric_registry.recorded_column`: Insertion/Deletion under the other
``score``) is read from the rows, not computed. With the benchmark's own parameters it
reproduces the stored values.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..cache import cache_key, cached_frame
from ..errors import DatasetError
from ..metric_registry import METRICS, ScoreBatch, check_metric_params, recorded_column
from .params import DEFAULT_CACHE_DIR
from .scoring import _method_params, is_na
from .store import load_maps

__all__ = ["rescore"]


def rescore(df: pd.DataFrame, images, metrics, metric_params: dict, models=None, reference=None, device="cpu",
            cache_dir=None) -> pd.DataFrame:
    """The rows ``df`` with the ``metrics`` computed again from the stored maps.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of :func:`lotslib.benchmark.run` (its ``attrs["cache_dir"]`` names the store).
    images : lotslib.data.ImageSource
        The images the rows were computed on (at least those of ``df``).
    metrics : Sequence of str
        Registered metric keys to compute again (e.g. ``["avg_drop", "avg_increase"]``).
    metric_params : dict
        Overrides of the rows' metric parameters (e.g. ``{"fill": "mean"}``).
    models : dict or None
        ``{model name: model}`` for models that :func:`lotslib.models.load_model` cannot load
        by name; the others are loaded by name.
    reference : lotslib.data.ImageSource or None
        The reference set of LOTS class/mean rows (as given to ``run``).
    device : str
        Where to compute.
    cache_dir : str, pathlib.Path or None
        Where the rescored rows are cached (:func:`lotslib.cache.cached_frame`); None: the
        benchmark's store folder.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` (same rows, same order) whose columns of ``metrics`` (and their
        extra columns, e.g. ``y``/``o``) hold the new values; N/A rows stay NaN.
    """
    from ..models import load_model

    store = Path(df.attrs.get("cache_dir") or DEFAULT_CACHE_DIR)
    chosen = [METRICS[k] for k in metrics]
    out = df.copy()
    out.attrs = dict(df.attrs)
    models = dict(models or {})
    position = {i: k for k, i in enumerate(images.ids)}
    for key, rows in df.groupby("cache_key", sort=False):
        meta = json.loads((store / key / "meta.json").read_text())
        mp = check_metric_params({**meta["metrics"], **metric_params})
        ok = rows[~is_na(rows)]
        if ok.empty:
            continue
        changed = {k: v for k, v in mp.items() if meta["metrics"].get(k) != v}
        todo = []
        for m in chosen:
            values = _recorded(ok, m, changed)
            if values is None:
                todo.append(m)
            else:
                out.loc[ok.index, m.col] = values
        if not todo:
            continue

        def compute(rows=ok, meta=meta, mp=mp, todo=todo):
            name = rows["model"].iloc[0]
            if name not in models:
                models[name] = load_model(name, device=device)
            model = models[name]
            idx = [position[i] for i in rows["image_id"]]
            x = images.batch(model, idx).to(device)
            maps = torch.from_numpy(load_maps(rows, store))
            top1 = torch.tensor(rows["top1"].to_numpy(dtype=np.int64))
            method = rows["method"].iloc[0]
            ep, targets = _method_params(model, method, meta["params"], images, idx, top1,
                                         reference if reference is not None else images)
            if targets is not None and not targets.ok.all():
                raise DatasetError(f"rescore: the reference set gives no target for some rows of {key}; pass the "
                                   f"reference the benchmark ran with.")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                batch = ScoreBatch(model, x, maps, top1, method, ep, mp)
                cols = {}
                for m in todo:
                    v = m.compute(batch)
                    cols.update({c: np.asarray(a) for c, a in v.columns.items()})
                    cols[m.col] = np.asarray(v.values, dtype=np.float64)
            return pd.DataFrame({"image_id": rows["image_id"].to_numpy(), **cols})

        ckey = cache_key(rows=key, ids=list(ok["image_id"]), fps=list(ok["image_fp"]), metrics=[m.key for m in todo],
                         params=mp)
        new = cached_frame(Path(cache_dir) if cache_dir else store / key, "rescore", ckey, compute)
        new = new.set_index("image_id")
        for col in new.columns:
            out.loc[ok.index, col] = new.loc[ok["image_id"], col].to_numpy()
    return out


def _recorded(rows: pd.DataFrame, metric, changed: dict):
    """``metric``'s values ``(N,)`` under the one ``changed`` parameter, where the rows hold
    them (:func:`lotslib.metric_registry.recorded_column`); None if they do not."""
    if len(changed) != 1:
        return None
    (param, value), = changed.items()
    col = recorded_column(metric.col, param, value)
    if col not in rows or rows[col].isna().any():
        return None
    return rows[col].to_numpy(dtype=np.float64)
