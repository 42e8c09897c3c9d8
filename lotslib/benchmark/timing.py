"""Time per map on two CAM paths: lotslib's graph cut and stock pytorch-grad-cam (Table 5.3).

lotslib's CAM methods start the autograd graph at the CAM layer and freeze the parameters
(:mod:`lotslib.cams`): the maps are identical to pytorch-grad-cam's, about twice as fast on a
CPU. The thesis timed stock pytorch-grad-cam, whose backward pass runs through the whole
network (Weber 2023, section 5.1.3). :func:`cam_path_timing` measures both on the same images,
one map at a time, forward pass included, after an untimed warm-up, so Table 5.3 can show
the number that matches the thesis's set-up beside ours.

What is timed is what the benchmark times (:func:`lotslib.benchmark.scoring.explain_timed`): the
map of an image for its top-1 class, given. The top-1 classes are found before the clock
starts; an earlier version let each timed call find its own, one more forward pass per map
(about 20 ms on EfficientNet-Lite0, one CPU thread), so this table read about 20 ms above
Table 5.3's CAM rows for the same maps.
"""
from __future__ import annotations

import time
import warnings
from contextlib import nullcontext

import pandas as pd
import torch

from ..cache import cache_key, cached_frame
from ..cams import CamCompute, requires_grad
from ..explanation import _targets, explain_with_info
from ..method_registry import get_method
from ..params import as_params_dict
from ..stats import mean_ci
from .params import model_fingerprint

__all__ = ["cam_path_timing", "PATHS"]

#: the two CAM paths: lotslib's graph cut (``fast=True``) and stock pytorch-grad-cam
PATHS = {"graph cut (lotslib)": True, "full backward (pytorch-grad-cam, as in the thesis)": False}


def _time_one(model, method, x, target, params, fast):
    t0 = time.perf_counter()
    explain_with_info(method, model, x, targets=target, fast=fast, **params)
    return (time.perf_counter() - t0) * 1000.0


def cam_path_timing(model, methods, images, params: dict | None = None, cache_dir=None, device="cpu") -> pd.DataFrame:
    """Milliseconds per map of each CAM method on both paths (:data:`lotslib.benchmark.timing.PATHS`).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] in, logits out.
    methods : Sequence of str
        Registered CAM method keys (LOTS and other non-CAM methods are skipped).
    images : lotslib.data.ImageSource
        The images; each map is made and timed on its own, for the image's top-1 class (found
        before timing, as the benchmark does), forward pass included.
    params : dict or None
        Per-method parameters (``{"smoothgradcampp": {"n_samples": 25}}``).
    cache_dir : str, pathlib.Path or None
        Where the timings are cached (:func:`lotslib.cache.cached_frame`); None: not cached.
    device : str
        Where to run.

    Returns
    -------
    pandas.DataFrame
        Rows ``model, method, path, fast, mean, ci_low, ci_high, n`` (ms per map, 95 %
        bootstrap interval over images); :func:`lotsbook.pages.benchmark.timing_paths_table` lays
        them out with the speed-up.
    """
    params = {k: as_params_dict(v) for k, v in dict(params or {}).items()}  # typed parameters to dicts
    cams = [m for m in methods if isinstance(get_method(m).compute, CamCompute)]

    def compute():
        x_all = images.batch(model).to(device)
        top1 = _targets(model, x_all, None)  # the explained classes, untimed, as the benchmark gives them
        rows = []
        for m in cams:
            p = {k: v for k, v in params.get(m, {}).items() if k != "batch_size"}
            for path, fast in PATHS.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # stock pytorch-grad-cam needs trainable parameters to get gradients
                    with nullcontext() if fast else requires_grad(model, True):
                        _time_one(model, m, x_all[:1], top1[:1], p, fast)  # warm-up, untimed
                        ms = [_time_one(model, m, x_all[i : i + 1], top1[i : i + 1], p, fast)
                              for i in range(len(x_all))]
                rows.append({"model": model.name, "method": m, "path": path, "fast": fast, **mean_ci(ms)})
        return pd.DataFrame(rows)

    if cache_dir is None:
        return compute()
    key = cache_key(model=model.name, weights=model_fingerprint(model), methods=cams, images=images.fingerprint(),
                    params=params, device=str(device), threads=torch.get_num_threads(),
                    timed="map for a given top-1 class")
    return cached_frame(cache_dir, "cam-path-timing", key, compute)

