"""The thesis's quantitative experiment (Weber 2023, section 5.1), cached and resumable.

``run(models, methods, images)`` explains every image with every method on every model and
measures the five metrics of :mod:`lotslib.metrics` and the time per map. It returns a tidy
DataFrame with one row per (model, method, image):

============================  ============================================================
column                        meaning
============================  ============================================================
model, method, method_name    model key, method key, display name
image_id, image_fp, label     image id, content fingerprint, ground-truth class (-1: none)
top1, top1_score              top-1 class of the original image and its softmax probability
y, o                          probability of ``top1`` on the image / on ``x * map``
avg_drop                      per-image drop in % (``max(0, y-o)/y*100``)
increase                      1.0 if ``o > y`` else 0.0 (Average Increase = 100 * mean)
coherency                     Coherency in % (Poppi et al. 2021)
insertion, deletion           AUC in % (Petsiuk et al. 2018)
ms_per_map                    wall ms to make the map (``timing``: per image, or the batch's
                              time / images in it), after an untimed warm-up call
degenerate                    the map is all zeros (constant image or constant map)
coherency_degenerate          a constant map entered the coherency (value defined, not NaN)
flagged, flag                 any of the above, and why ("" when not flagged)
target_class, target_fallback LOTS class/mean variants: class of F_t, and whether the
                              fallback views were used (see below); -1 / False otherwise
lots_iters, lots_stop         LOTS steps taken and stop reason (-1 / "" for CAMs)
device, threads, batch_size   where and how the row was computed (timing context), and
timing                        whether maps were timed one by one or per batch
steps                         insertion/deletion steps
cache_key                     the cache folder of the row (curves live there)
============================  ============================================================

Every metric is per image and finite (no NaN); degenerate cases are flagged instead.

Methods are the keys of :data:`lotslib.cams.METHODS` plus two LOTS variants for Table 5.1:
``"lots_class"`` (F_t = the features of another image of the same class) and ``"lots_mean"``
(F_t = the mean features of the other images of that class) -- thesis section 4.2. The class
is the image's label (its top-1 class if unlabelled); the other images come from
``reference`` (default: the benchmark's own images), the image itself excluded (the thesis
took F_t from the training set, which never contains the evaluated image). **Fallback**: where
no other image of the class exists -- with the embedded set this is every class but one --
the class target is the features of the image mirrored left-right and the mean target is the
mean features of five views of the image (the mirror and four corner crops of 87.5 %, resized
back); those rows carry ``target_fallback=True`` and are flagged. These fallbacks are not the
thesis's targets; on the full profile (ImageNet validation, ``reference`` = a labelled folder)
no fallback is needed.

Caching. Each (model, method) has a folder under ``cache_dir`` named after a hash of every
parameter that affects its rows: model weights fingerprint, method parameters, metric
parameters, device, the reference list's fingerprint (LOTS class/mean only) and a format
version. After each batch of images the rows (parquet) and curves (npz) of that batch are
written atomically (temporary file, fsync, ``os.replace``); a row is reused when its image id
and content fingerprint match. A killed run therefore resumes where it stopped. A part that
cannot be read back (e.g. a truncated file) is moved aside to ``*.corrupt``, named in a
:class:`~lotslib.errors.CorruptCacheWarning` and in ``df.attrs["damaged"]``, and recomputed
No pickle anywhere. The per-image random seeds (Random-CAM,
SmoothGrad-CAM++) are derived from the image id, so a map does not depend on the batch it
ran in.

Summaries (:func:`table_5_1`, :func:`table_5_2`, :func:`table_5_3`) give every cell's mean,
95 % bootstrap interval and n; :func:`lots_vs_best_cam` runs the paired Wilcoxon test;
:func:`reference_tables` reads the thesis's own numbers from ``data/thesis_tables.csv``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from .cams import CAM_METHODS, METHODS, check_params, explain_with_info
from .cache import atomic_write
from .errors import CorruptCacheWarning, DatasetError, ParameterError
from .metrics import check_insdel_params, coherency_details, confidence_change, insertion_deletion
from .stats import mean_ci, paired_wilcoxon

__all__ = [
    "run",
    "load_curves",
    "ALL_METHODS",
    "LOTS_VARIANTS",
    "METRICS",
    "METRIC_DEFAULTS",
    "DEFAULT_CACHE_DIR",
    "resolve_params",
    "summarize",
    "table_5_1",
    "table_5_2",
    "table_5_3",
    "lots_vs_best_cam",
    "format_table",
    "reference_tables",
    "compare_with_reference",
]

CACHE_VERSION = 1
DEFAULT_CACHE_DIR = Path(os.environ.get("LOTSLIB_CACHE", ".cache")) / "benchmark"
REFERENCE_CSV = Path(__file__).resolve().parent.parent / "data" / "thesis_tables.csv"

#: the LOTS target variants of Table 5.1 (``"lots"`` itself is the zero target)
LOTS_VARIANTS: "OrderedDict[str, str]" = OrderedDict([("lots_class", "LOTS (class F_t)"), ("lots_mean", "LOTS (mean F_t)")])
#: every method key ``run`` accepts -> display name
ALL_METHODS: "OrderedDict[str, str]" = OrderedDict(list(METHODS.items()) + list(LOTS_VARIANTS.items()))
TABLE_5_1_ROWS: "OrderedDict[str, str]" = OrderedDict([("lots", "Zero F_t"), ("lots_class", "Class F_t"), ("lots_mean", "Mean F_t")])

#: metric key -> (label, better, DataFrame column, scale)
METRICS: "OrderedDict[str, tuple]" = OrderedDict(
    [
        ("avg_drop", ("Avg Drop ↓", "lower", "avg_drop", 1.0)),
        ("avg_increase", ("Avg Increase ↑", "higher", "increase", 100.0)),
        ("coherency", ("Coherency ↑", "higher", "coherency", 1.0)),
        ("insertion", ("Insertion ↑", "higher", "insertion", 1.0)),
        ("deletion", ("Deletion ↓", "lower", "deletion", 1.0)),
    ]
)
#: insertion/deletion defaults (thesis protocol; blur = Petsiuk et al.'s substrate) and the
#: number of perturbed images per forward pass
METRIC_DEFAULTS = {"steps": 224, "blur_kernel": 11, "blur_sigma": 5.0, "batch_size": 32}

_MODELS_ORDER = ("alexnet", "resnet50", "densenet121", "convnext_tiny")


# ------------------------------------------------------------------ parameters
def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def resolve_params(methods: Sequence[str], params: dict | None = None) -> dict:
    """Validate ``params`` and return ``{method: resolved params, ..., "metrics": {...}}``.

    ``params`` may hold one dict per method key (``"lots"``'s apply to the class/mean variants
    too, under their own keys' overrides) and ``"metrics"`` (``steps``, ``blur_kernel``,
    ``blur_sigma``, ``batch_size``). LOTS's ``target`` is set by the method key, not a
    parameter. Raises :class:`ParameterError` before any compute."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(ALL_METHODS) - {"metrics"})
    if unknown:
        raise ParameterError(f"params has unknown key(s) {unknown}; use method keys {list(ALL_METHODS)} or 'metrics'.")
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ParameterError(f"Unknown method(s) {bad}. Choose from {list(ALL_METHODS)}.")
    if len(set(methods)) != len(methods):
        raise ParameterError(f"methods lists a method twice: {list(methods)}.")
    out = {}
    # every given method's params are checked, also for methods not run (a typo is an error)
    for m in list(methods) + [k for k in params if k != "metrics" and k not in methods]:
        if m in LOTS_VARIANTS or m == "lots":
            p = {**dict(params.get("lots", {})), **(dict(params.get(m, {})) if m != "lots" else {})}
            if "target" in p:
                raise ParameterError(
                    "The benchmark sets LOTS's target by method key: 'lots' (zero F_t), 'lots_class', 'lots_mean'. "
                    "Fix: remove 'target' from params."
                )
            r = check_params("lots", p)
            r.pop("target")
        else:
            r = check_params(m, params.get(m, {}))
            if "seed" in r and not isinstance(r["seed"], (int, np.integer)):
                raise ParameterError(f"{m}: the benchmark takes one int seed (per-image seeds are derived from image ids).")
        out[m] = {k: _jsonable(v) for k, v in r.items()}
    out = {m: out[m] for m in methods}
    mp = {**METRIC_DEFAULTS, **dict(params.get("metrics", {}))}
    unknown = sorted(set(mp) - set(METRIC_DEFAULTS))
    if unknown:
        raise ParameterError(f"params['metrics'] has unknown key(s) {unknown}; it takes {sorted(METRIC_DEFAULTS)}.")
    check_insdel_params(mp["steps"], mp["blur_kernel"], mp["blur_sigma"], mp["batch_size"])
    out["metrics"] = {k: _jsonable(v) for k, v in mp.items()}
    return out


def _id_seed(base: int, image_id: str) -> int:
    return (int(base) + int(hashlib.sha256(image_id.encode()).hexdigest()[:8], 16)) % (2**31 - 1)


def _model_fingerprint(model) -> str:
    from .models import ModelWrapper, weights_fingerprint

    if isinstance(model, ModelWrapper):
        return weights_fingerprint(model)
    h = hashlib.sha256(type(model).__qualname__.encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ atomic files
_atomic_write = atomic_write


def _write_json(path: Path, obj) -> None:
    _atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, sort_keys=True).encode()))


def _quarantine(path: Path, exc: BaseException, what: str) -> None:
    """Move a damaged cache file aside to ``<name>.corrupt`` and warn, naming it."""
    try:
        os.replace(path, path.with_name(path.name + ".corrupt"))
        where = f"moved aside to {path.name}.corrupt"
    except OSError:
        where = "left in place"
    warnings.warn(
        f"damaged {what} file {path} ({type(exc).__name__}: {exc}); {where}, its rows will be recomputed. "
        f"Fix: nothing to do; if this repeats, check the disk (free space, an interrupted copy).",
        CorruptCacheWarning,
        stacklevel=3,
    )


def _read_npz(path: Path, keys: Sequence[str], what: str) -> dict | None:
    """The arrays of ``path`` (no pickle); ``None`` (after :func:`_quarantine`) if damaged."""
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        missing = [k for k in keys if k not in out]
        if missing:
            raise KeyError(f"missing arrays {missing}")
        return out
    except Exception as exc:  # noqa: BLE001 - any failure means: do not trust it
        _quarantine(path, exc, what)
        return None


def _load_done(keydir: Path, damaged: list | None = None) -> tuple[pd.DataFrame, dict]:
    """Rows and curves already in a cache folder (rows without curves are ignored).

    A part that cannot be read back (truncated parquet or npz, missing columns/arrays) is
    never trusted: both of its files are moved aside to ``*.corrupt``, a
    :class:`~lotslib.errors.CorruptCacheWarning` names the damaged file, and its images are
    recomputed by the caller. ``damaged`` collects the damaged files' paths.

    Rows and curves are keyed by ``(image_id, image_fp)``: after an image's file changed, the
    part holding its old rows stays on disk, but only the rows (and curves, maps) of the
    current content are ever matched. ``curves[(id, fp)] = (insertion, deletion, fractions,
    maps or None)``."""
    frames, curves = [], {}
    for rp in sorted(keydir.glob("rows-*.parquet")):
        cp = rp.with_name("curves-" + rp.name[len("rows-") : -len(".parquet")] + ".npz")
        if not cp.is_file():
            continue
        z = _read_npz(cp, ("image_ids", "insertion", "deletion", "fractions"), "benchmark curves")
        if z is None:
            bad = cp
        else:
            try:
                rows = pd.read_parquet(rp)
                missing = [c for c in ("image_id", "image_fp") if c not in rows.columns]
                if missing:
                    raise KeyError(f"missing columns {missing}")
                bad = None
            except Exception as exc:  # noqa: BLE001 - a damaged part is recomputed, never trusted
                _quarantine(rp, exc, "benchmark rows")
                bad = rp
        if bad is not None:
            for other in (rp, cp):  # the part's companion file goes too: the pair is one unit
                if other != bad:
                    try:
                        os.replace(other, other.with_name(other.name + ".corrupt"))
                    except OSError:
                        pass
            if damaged is not None:
                damaged.append(str(bad))
            continue
        ids = [str(i) for i in z["image_ids"]]
        fp = dict(zip(rows["image_id"].astype(str), rows["image_fp"].astype(str)))
        maps = z.get("maps")
        for j, i in enumerate(ids):
            if i in fp:
                curves.setdefault((i, fp[i]), (z["insertion"][j], z["deletion"][j], z["fractions"], None if maps is None else maps[j]))
        frames.append(rows[rows["image_id"].isin(ids)])
    if not frames:
        return pd.DataFrame(), {}
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["image_id", "image_fp"], keep="first")
    return df, curves


# ------------------------------------------------------------------ LOTS targets
def _views(x: torch.Tensor) -> torch.Tensor:
    """Five views of one image (3,H,W): mirror and four 87.5 % corner crops resized back."""
    import torch.nn.functional as F

    _, h, w = x.shape
    ch, cw = round(0.875 * h), round(0.875 * w)
    crops = [x[:, :ch, :cw], x[:, :ch, w - cw :], x[:, h - ch :, :cw], x[:, h - ch :, w - cw :]]
    crops = [F.interpolate(c[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0] for c in crops]
    return torch.stack([x.flip(-1), *crops]).clamp(0.0, 1.0)


def _lots_targets(model, variant, reference, ids, labels, top1, x, layer) -> tuple[torch.Tensor, list[int], list[bool]]:
    from . import targets as T

    feats, classes, fallback = [], [], []
    for i, iid in enumerate(ids):
        c = int(labels[i]) if labels[i] is not None and labels[i] >= 0 else int(top1[i])
        others = [it.id for it in reference.items if it.label == c and it.id != iid]
        if others:
            if variant == "lots_class":
                f = T.class_reference_target(model, reference, c, layer=layer, exclude_id=iid)
            else:
                f = T.class_mean_target(model, reference.select(others), c, layer=layer)
            fb = False
        else:
            v = _views(x[i].detach().cpu())
            v = v[:1] if variant == "lots_class" else v
            with torch.no_grad():
                f = model.features(v.to(x.device), layer).float().mean(0).cpu()
            fb = True
        feats.append(f.float())
        classes.append(c)
        fallback.append(fb)
    return torch.stack(feats), classes, fallback


# ------------------------------------------------------------------ one batch
def _explain_timed(mkey, model, x, top1, ep, timing):
    """Maps, degenerate flags, LOTS (iterations, stop) and wall ms per map for a batch.

    ``timing="per_image"``: each map is made (and timed) on its own, as the thesis timed one
    map per image; ``"per_batch"``: one batched call, its time split evenly over the images."""
    n = x.shape[0]
    if timing == "per_batch":
        t0 = time.perf_counter()
        ex = explain_with_info(mkey, model, x, targets=top1, **ep)
        ms = (time.perf_counter() - t0) * 1000.0 / n
        return ex.maps, ex.degenerate, [_lots_info(ex, j) for j in range(n)], [ms] * n
    maps, degen, info, ms = [], [], [], []
    for j in range(n):
        epj = dict(ep)
        if isinstance(ep.get("seed"), list):
            epj["seed"] = ep["seed"][j : j + 1]
        if isinstance(ep.get("target"), torch.Tensor) and ep["target"].dim() == 2:
            epj["target"] = ep["target"][j : j + 1]
        t0 = time.perf_counter()
        ex = explain_with_info(mkey, model, x[j : j + 1], targets=top1[j : j + 1], **epj)
        ms.append((time.perf_counter() - t0) * 1000.0)
        maps.append(ex.maps)
        degen.append(ex.degenerate)
        info.append(_lots_info(ex, 0))
    return torch.cat(maps), torch.cat(degen), info, ms


def _compute_batch(model, method, p, mp, images, idx, reference, device, threads, batch_size, key, timing) -> tuple[list[dict], dict]:
    ids = [images.ids[i] for i in idx]
    labels = [images.labels[i] for i in idx]
    x = images.batch(model, idx).to(device)
    with torch.no_grad():
        prob = model(x).float().softmax(1).cpu()
    score, top1 = prob.max(1)
    mkey = "lots" if method in LOTS_VARIANTS else method
    ep = dict(p)
    tclass, tfallback = [-1] * len(ids), [False] * len(ids)
    if "seed" in ep:
        ep["seed"] = [_id_seed(ep["seed"], i) for i in ids]
    if mkey == "lots":
        if method == "lots":
            ep["target"] = "zero"
        else:
            ep["target"], tclass, tfallback = _lots_targets(model, method, reference, ids, labels, top1, x, ep["layer"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # degenerate maps are flagged in the rows
        maps, degen, info, ms = _explain_timed(mkey, model, x, top1, ep, timing)
        conf = confidence_change(model, x, maps, top1, batch_size=mp["batch_size"])
        coh = coherency_details(mkey, model, x, maps, top1, **ep)
    insdel = insertion_deletion(
        model, x, maps, top1, steps=mp["steps"], blur_kernel=mp["blur_kernel"],
        blur_sigma=mp["blur_sigma"], batch_size=mp["batch_size"],
    )
    rows = []
    for j, iid in enumerate(ids):
        deg, cdeg, fb = bool(degen[j]), bool(coh.degenerate[j]), bool(tfallback[j])
        flags = [n for n, f in (("degenerate_map", deg), ("degenerate_coherency", cdeg), ("target_fallback", fb)) if f]
        rows.append(
            {
                "model": model.name,
                "method": method,
                "method_name": ALL_METHODS[method],
                "image_id": iid,
                "image_fp": images[idx[j] : idx[j] + 1].fingerprint(),
                "label": -1 if labels[j] is None else int(labels[j]),
                "top1": int(top1[j]),
                "top1_score": float(score[j]),
                "y": float(conf.y[j]),
                "o": float(conf.o[j]),
                "avg_drop": float(conf.drop[j]),
                "increase": float(conf.increase[j]),
                "coherency": float(coh.values[j]),
                "insertion": float(insdel.insertion[j]),
                "deletion": float(insdel.deletion[j]),
                "ms_per_map": float(ms[j]),
                "degenerate": deg,
                "coherency_degenerate": cdeg,
                "flagged": bool(flags),
                "flag": ",".join(flags),
                "target_class": int(tclass[j]),
                "target_fallback": fb,
                "lots_iters": info[j][0],
                "lots_stop": info[j][1],
                "device": str(device),
                "threads": int(threads),
                "batch_size": int(batch_size),
                "timing": timing,
                "steps": int(mp["steps"]),
                "cache_key": key,
            }
        )
    curves = {"insertion": insdel.insertion_curves, "deletion": insdel.deletion_curves, "fractions": insdel.fractions,
              "maps": maps.cpu().numpy().astype(np.float16)}
    return rows, curves


def _lots_info(ex, j) -> tuple[int, str]:
    """(iterations, stop reason) of image ``j`` of a LOTS batch; (-1, "") for CAMs."""
    if ex.method != "lots":
        return -1, ""
    if ex.trace is None or not bool(ex.ran[j]):
        return -1, "constant_image"
    ran = ex.ran.nonzero().flatten().tolist()
    if j not in ran:
        return -1, "constant_image"
    k = ran.index(j)
    return int(ex.trace.iterations[k]), str(ex.trace.stop_reason[k])


def _warm_up(model, method, p, x, device) -> None:
    """One untimed call on one image (LOTS: two iterations) so timing excludes first-call costs."""
    mkey = "lots" if method in LOTS_VARIANTS else method
    ep = dict(p)
    if "seed" in ep:
        ep["seed"] = [0]
    if mkey == "lots":
        ep["target"] = "zero"
        ep["iters"] = min(2, ep["iters"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explain_with_info(mkey, model, x[:1].to(device), **ep)


# ------------------------------------------------------------------ run
def run(
    models,
    methods: Sequence[str] = tuple(METHODS),
    images=None,
    params: dict | None = None,
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    reference=None,
    threads: int | None = None,
    timing: str = "per_image",
    callback: Callable[[str, str, list[str]], None] | None = None,
) -> pd.DataFrame:
    """Benchmark ``methods`` on ``models`` over ``images`` -> tidy DataFrame (module docstring).

    ``models``: names for :func:`lotslib.models.load_model` or model objects. ``images``: an
    :class:`~lotslib.data.ImageSource`. ``params``: see :func:`resolve_params`.
    ``cache_dir``: where rows and curves are stored (None: a fresh temporary folder, nothing
    reused). ``batch_size``: images per batch -- the unit of computation, timing and saving.
    ``shard=(i, k)``: only the images at positions ``p`` with ``p % k == i`` (several processes
    can share one cache). ``reference``: the labelled source of the LOTS class/mean targets
    (default ``images``). ``threads``: ``torch.set_num_threads`` for the run (restored after;
    None = unchanged); the count used is recorded per row. ``timing``: ``"per_image"``
    (default; every map is made and timed on its own, as in the thesis's Table 5.3, so the
    interval over images is meaningful) or ``"per_batch"`` (one batched ``explain`` call per
    batch, its time split evenly; faster on a GPU). ``callback(model, method, ids)``
    is called after each computed batch has been saved.

    The returned frame's ``attrs`` hold ``cache_dir``, ``computed`` (the
    ``"model/method/image_id"`` rows computed by this call, the rest came from the cache) and
    ``damaged`` (cache files that could not be read back: moved aside to ``*.corrupt``,
    reported with a :class:`~lotslib.errors.CorruptCacheWarning`, their rows recomputed).
    """
    from .data import ImageSource
    from .models import load_model

    if not isinstance(images, ImageSource):
        raise ParameterError(f"images must be a lotslib.data.ImageSource (e.g. lotslib.data.embedded('imagenet')); got {type(images).__name__}.")
    if len(images) == 0:
        raise DatasetError("images is empty. Fix: pass at least one image.")
    if isinstance(methods, str):
        methods = [methods]
    methods = list(methods)
    resolved = resolve_params(methods, params)
    mp = resolved["metrics"]
    if not (isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ParameterError(f"batch_size={batch_size!r}: must be a positive integer (images per batch).")
    if shard is not None:
        if not (isinstance(shard, (tuple, list)) and len(shard) == 2 and all(isinstance(v, int) for v in shard) and 0 <= shard[0] < shard[1]):
            raise ParameterError(f"shard={shard!r}: must be (i, k) with 0 <= i < k.")
    if timing not in ("per_image", "per_batch"):
        raise ParameterError(f"timing={timing!r}: choose 'per_image' or 'per_batch'.")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ParameterError(f"threads={threads!r}: must be a positive integer or None.")
    if isinstance(models, (str, torch.nn.Module)):
        models = [models]
    ids = images.ids
    if len(set(ids)) != len(ids):
        raise DatasetError("images has duplicate ids; every image id must be unique for the cache.")
    reference = images if reference is None else reference
    if cache_dir is None:
        import tempfile

        cache_dir = tempfile.mkdtemp(prefix="lotslib-bench-")
    cache_dir = Path(cache_dir)
    dev = torch.device(device)
    loaded = [load_model(m, device=dev) if isinstance(m, str) else m.to(dev) for m in models]
    for m in loaded:
        size = getattr(m, "input_size", None)
        if size is not None:
            check_insdel_params(mp["steps"], mp["blur_kernel"], mp["blur_sigma"], mp["batch_size"], int(size) ** 2)
    positions = list(range(len(images)))
    if shard is not None:
        positions = [p for p in positions if p % shard[1] == shard[0]]
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    n_threads = torch.get_num_threads()
    computed: list[str] = []
    damaged: list[str] = []
    frames = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(loaded) * len(methods) * len(positions), desc="benchmark", unit="map")
    try:
        for model in loaded:
            mfp = _model_fingerprint(model)
            for method in methods:
                p = resolved[method]
                spec = {
                    "version": CACHE_VERSION,
                    "model": model.name,
                    "weights": mfp,
                    "method": method,
                    "params": p,
                    "metrics": mp,
                    "device": dev.type,
                    "timing": timing,
                }
                if method in LOTS_VARIANTS:
                    spec["reference"] = reference.fingerprint()
                digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
                key = f"{model.name}-{method}-{digest}"
                keydir = cache_dir / key
                keydir.mkdir(parents=True, exist_ok=True)
                if not (keydir / "meta.json").is_file():
                    _write_json(keydir / "meta.json", spec)
                done, _ = _load_done(keydir, damaged)
                have = {}  # (image id, content fingerprint) -> row
                if len(done):
                    for r in done.to_dict("records"):
                        have[(r["image_id"], r["image_fp"])] = r
                fps = {}
                todo = []
                for pos in positions:
                    iid = ids[pos]
                    fps[iid] = images[pos : pos + 1].fingerprint()
                    if (iid, fps[iid]) not in have:
                        todo.append(pos)
                if bar is not None:
                    bar.set_postfix_str(f"{model.name} {ALL_METHODS[method]}")
                    bar.update(len(positions) - len(todo))
                new_rows = []
                if todo:
                    _warm_up(model, method, p, images.batch(model, [todo[0]]), dev)
                todo_set = set(todo)
                for s in range(0, len(positions), batch_size):
                    idx = [pos for pos in positions[s : s + batch_size] if pos in todo_set]
                    if not idx:
                        continue
                    rows, curves = _compute_batch(model, method, p, mp, images, idx, reference, dev, n_threads, batch_size, key, timing)
                    tag = f"{idx[0]:06d}-" + hashlib.sha1("|".join(ids[i] for i in idx).encode()).hexdigest()[:10]
                    bids = np.array([ids[i] for i in idx], dtype=str)

                    def write_curves(f, c=curves, b=bids):
                        np.savez(f, image_ids=b, insertion=c["insertion"], deletion=c["deletion"], fractions=c["fractions"],
                                 maps=c["maps"])

                    _atomic_write(keydir / f"curves-{tag}.npz", write_curves)
                    frame = pd.DataFrame(rows)
                    _atomic_write(keydir / f"rows-{tag}.parquet", lambda f, fr=frame: fr.to_parquet(f, index=False))
                    new_rows.extend(rows)
                    computed.extend(f"{model.name}/{method}/{ids[i]}" for i in idx)
                    if bar is not None:
                        bar.update(len(idx))
                    if callback is not None:
                        callback(model.name, method, [ids[i] for i in idx])
                for r in new_rows:
                    have[(r["image_id"], r["image_fp"])] = r
                frames.append(pd.DataFrame([have[(ids[pos], fps[ids[pos]])] for pos in positions]))
    finally:
        if bar is not None:
            bar.close()
        if threads is not None:
            torch.set_num_threads(old_threads)
    df = pd.concat(frames, ignore_index=True)
    df.attrs["cache_dir"] = str(cache_dir)
    df.attrs["computed"] = computed
    df.attrs["damaged"] = damaged
    return df


def load_curves(df: pd.DataFrame, cache_dir: str | os.PathLike | None = None) -> dict:
    """The insertion/deletion curves of ``df``'s rows, in row order.

    Returns ``{"insertion": (len(df), S+1), "deletion": (len(df), S+1), "fractions": (S+1,)}``
    (float64). ``cache_dir`` defaults to the one ``run`` used (``df.attrs``)."""
    root = Path(cache_dir or df.attrs.get("cache_dir") or DEFAULT_CACHE_DIR)
    if len(df) == 0:
        return {"insertion": np.empty((0, 0)), "deletion": np.empty((0, 0)), "fractions": np.empty(0)}
    steps = df["steps"].unique()
    if len(steps) != 1:
        raise ParameterError(f"rows have different step counts {sorted(steps)}; select rows with one 'steps' value.")
    by_key = {k: _load_done(root / k)[1] for k in df["cache_key"].unique()}
    ins, dele, frac = [], [], None
    for key, iid, fp in zip(df["cache_key"], df["image_id"], df["image_fp"]):
        if (iid, fp) not in by_key[key]:
            raise DatasetError(f"no curves for {iid} in {root / key}. Fix: rerun lotslib.benchmark.run with the same cache_dir.")
        i, d, frac, _ = by_key[key][(iid, fp)]
        ins.append(i)
        dele.append(d)
    return {"insertion": np.stack(ins), "deletion": np.stack(dele), "fractions": np.asarray(frac)}


def load_maps(df: pd.DataFrame, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """The explanation maps of ``df``'s rows, in row order: ``(len(df), H, W)`` float32 in [0,1]
    (stored as float16 beside the curves). ``cache_dir`` defaults to the one ``run`` used."""
    root = Path(cache_dir or df.attrs.get("cache_dir") or DEFAULT_CACHE_DIR)
    by_key = {k: _load_done(root / k)[1] for k in df["cache_key"].unique()}  # damaged parts: warned there
    out = []
    for key, iid, fp in zip(df["cache_key"], df["image_id"], df["image_fp"]):
        m = by_key[key].get((iid, fp), (None,) * 4)[3]
        if m is None:
            raise DatasetError(f"no stored map for {iid} in {root / key}. Fix: rerun lotslib.benchmark.run with the same cache_dir.")
        out.append(m.astype(np.float32))
    return np.stack(out) if out else np.empty((0, 0, 0), np.float32)


# ------------------------------------------------------------------ summaries
def _order(values: Iterable[str], order: Sequence[str]) -> list[str]:
    vals = list(dict.fromkeys(values))
    return [v for v in order if v in vals] + sorted(v for v in vals if v not in order)


def summarize(df: pd.DataFrame, metrics: Sequence[str] = tuple(METRICS) + ("ms_per_map",), exclude_flagged: bool = False, **ci) -> pd.DataFrame:
    """Long summary: one row per (model, method, metric) with ``mean``, ``ci_low``, ``ci_high``
    (95 % percentile bootstrap, fixed seed; :func:`lotslib.stats.mean_ci`) and ``n``.
    ``metrics``: keys of :data:`METRICS` and/or ``"ms_per_map"``. Flagged rows count unless
    ``exclude_flagged``."""
    if exclude_flagged:
        df = df[~df["flagged"]]
    out = []
    for model in _order(df["model"], list(_MODELS_ORDER) + sorted(df["model"].unique())):
        dm = df[df["model"] == model]
        for method in _order(dm["method"], list(ALL_METHODS)):
            d = dm[dm["method"] == method]
            for metric in metrics:
                col, scale = (METRICS[metric][2], METRICS[metric][3]) if metric in METRICS else (metric, 1.0)
                out.append({"model": model, "method": method, "metric": metric, **mean_ci(d[col].to_numpy(), scale=scale, **ci)})
    return pd.DataFrame(out, columns=["model", "method", "metric", "mean", "ci_low", "ci_high", "n"])


_STATS = ["mean", "ci_low", "ci_high", "n"]


def _wide(summary: pd.DataFrame, row_label: dict, metrics: Sequence[str]) -> pd.DataFrame:
    if summary.empty:
        return pd.DataFrame()
    s = summary[summary["metric"].isin(metrics)].copy()
    s["row"] = s["method"].map(lambda m: row_label.get(m, m))
    s["label"] = s["metric"].map(lambda m: METRICS[m][0] if m in METRICS else m)
    t = s.pivot_table(index=["model", "row"], columns="label", values=_STATS, aggfunc="first", sort=False)
    t = t.swaplevel(0, 1, axis=1)
    labels = [METRICS[m][0] if m in METRICS else m for m in metrics]
    t = t.reindex(columns=pd.MultiIndex.from_product([labels, _STATS]))
    rows = list(dict.fromkeys(zip(s["model"], s["row"])))
    t = t.reindex(pd.MultiIndex.from_tuples(rows, names=["model", "method"]))
    for lab in labels:
        t[(lab, "n")] = t[(lab, "n")].astype(int)
    t.columns.names = ["metric", "stat"]
    return t


def table_5_1(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Table 5.1's layout: LOTS with the zero / class / mean target (rows ``Zero F_t``,
    ``Class F_t``, ``Mean F_t`` per model) x the five metrics; every metric has the columns
    ``mean``, ``ci_low``, ``ci_high``, ``n``. Uses the rows of methods ``lots``,
    ``lots_class``, ``lots_mean`` (the thesis ran it on ResNet-50)."""
    d = df[df["method"].isin(TABLE_5_1_ROWS)]
    t = _wide(summarize(d, tuple(METRICS), **kw), dict(TABLE_5_1_ROWS), tuple(METRICS))
    if not t.empty:
        t.index = t.index.set_names(["model", "target"])
    return t


def table_5_2(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Table 5.2's layout: (model, method) rows in the thesis's order (Random-CAM first, LOTS
    last) x the five metrics, each with ``mean``, ``ci_low``, ``ci_high``, ``n``. Uses the
    rows of the seven :data:`lotslib.cams.METHODS` (LOTS = zero target)."""
    d = df[df["method"].isin(METHODS)]
    return _wide(summarize(d, tuple(METRICS), **kw), dict(METHODS), tuple(METRICS))


def table_5_3(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Table 5.3's layout: methods (rows) x models (columns) of milliseconds per map, each
    model with ``mean``, ``ci_low``, ``ci_high``, ``n`` (the bootstrap runs over the
    per-image values, i.e. the batch averages)."""
    d = df[df["method"].isin(METHODS)]
    s = summarize(d, ("ms_per_map",), **kw)
    if s.empty:
        return pd.DataFrame()
    s["method_name"] = s["method"].map(lambda m: ALL_METHODS.get(m, m))
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


def lots_vs_best_cam(df: pd.DataFrame, lots_method: str = "lots", metrics: Sequence[str] = tuple(METRICS), alpha: float = 0.05) -> pd.DataFrame:
    """Paired two-sided Wilcoxon signed-rank test over images: ``lots_method`` against the best
    CAM method (by mean, in the metric's direction; Random-CAM excluded) for every model and
    metric. Columns: ``model, metric, lots_method, best_cam, lots_mean, best_mean, n,
    n_nonzero, statistic, p_value, differs`` (``p_value < alpha``)."""
    out = []
    for model in _order(df["model"], list(_MODELS_ORDER) + sorted(df["model"].unique())):
        dm = df[df["model"] == model]
        lots_rows = dm[dm["method"] == lots_method]
        cams = [m for m in CAM_METHODS if m != "random" and m in set(dm["method"])]
        if lots_rows.empty or not cams:
            continue
        for metric in metrics:
            label, better, col, scale = METRICS[metric]
            means = {m: dm.loc[dm["method"] == m, col].mean() * scale for m in cams}
            best = (min if better == "lower" else max)(means, key=means.get)
            pair = lots_rows[["image_id", col]].merge(dm.loc[dm["method"] == best, ["image_id", col]], on="image_id", suffixes=("_lots", "_cam"))
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
                }
            )
    return pd.DataFrame(out)


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Strings ``"mean [ci_low, ci_high] (n)"`` for a table from :func:`table_5_1` /
    :func:`table_5_2` / :func:`table_5_3` (one column per metric or model)."""
    if table.empty:
        return pd.DataFrame()
    tops = list(dict.fromkeys(table.columns.get_level_values(0)))
    out = pd.DataFrame(index=table.index)
    for top in tops:
        m, lo, hi, n = (table[(top, s)] for s in _STATS)
        out[top] = [f"{a:.{digits}f} [{b:.{digits}f}, {c:.{digits}f}] (n={int(k)})" if k else "" for a, b, c, k in zip(m, lo, hi, n.fillna(0))]
    return out


# ------------------------------------------------------------------ thesis numbers
def reference_tables(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The thesis's own numbers (Weber 2023, Tables 5.1-5.3) from ``data/thesis_tables.csv``.

    Long format: ``table`` ("5.1", "5.2", "5.3"), ``model`` (lotslib model keys), ``method``
    (method keys; Table 5.1's rows are ``lots`` / ``lots_class`` / ``lots_mean``), ``metric``
    (keys of :data:`METRICS` or ``ms_per_map``), ``value``, ``unit``, ``source``, ``note``.
    Gaps of the source's text extraction are absent rather than guessed: Table 5.1's class-target
    row has only its Coherency, and Table 5.2's ConvNeXt-Tiny LOTS row is missing."""
    p = Path(path) if path is not None else REFERENCE_CSV
    if not p.is_file():
        raise DatasetError(f"reference table {p} not found. Fix: run from a checkout of the project (data/thesis_tables.csv).")
    df = pd.read_csv(p, dtype={"table": str, "note": str}, keep_default_na=False, na_values={"value": [""]})
    return df


def compare_with_reference(df: pd.DataFrame, table: str = "5.2", **kw) -> pd.DataFrame:
    """Our summary (:func:`summarize`) beside the thesis's value for the same (model, method,
    metric): columns of :func:`summarize` plus ``thesis`` and ``source`` (empty where the
    thesis has no such cell, e.g. for the EfficientNet-Lite models)."""
    metrics = ("ms_per_map",) if table == "5.3" else tuple(METRICS)
    rows = {"5.1": TABLE_5_1_ROWS, "5.2": METHODS, "5.3": METHODS}[table]
    ours = summarize(df[df["method"].isin(rows)], metrics, **kw)
    ref = reference_tables()
    ref = ref[ref["table"] == table][["model", "method", "metric", "value", "source"]].rename(columns={"value": "thesis"})
    return ours.merge(ref, on=["model", "method", "metric"], how="left")


# ------------------------------------------------------------------ command line
def main(argv=None) -> int:
    """``python -m lotslib.benchmark ...`` (also under ``torchrun``): see :mod:`lotslib.distributed`."""
    from .distributed import main as _main

    return _main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
