"""The benchmark's runner: every image x method x model, scored, stored part by part.

See :mod:`lotslib.benchmark` for the rows it returns and :mod:`lotslib.benchmark.store` for
how results are cached and resumed.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ..data import ImageSource
from ..errors import DatasetError, ParameterError
from ..method_registry import METHODS, get_method
from ..params import check_insdel_params
from ..lots_store import active_store, sharing
from ..models import load_model
from .params import DEFAULT_CACHE_DIR, cache_spec, model_fingerprint, resolve_params
from ..targets import REFERENCE_KINDS, open_reference
from .scoring import compute_batch, warm_up
from .store import key_for, load_done, write_meta, write_part

__all__ = ["run"]


def run(
    models,
    methods: Sequence[str] | None = None,
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
    procs: int = 1,
) -> pd.DataFrame:
    """Benchmark ``methods`` on ``models`` over ``images`` -> tidy DataFrame (module docstring).

    Parameters
    ----------
    models : str or list
        Names for :func:`lotslib.models.load_model` or model objects.
    methods : Sequence of str or None, optional
        Method keys (default None: every method).
    images : lotslib.data.ImageSource
        The images.
    params : dict or None, optional
        See :func:`lotslib.benchmark.resolve_params` (default None: the defaults).
    cache_dir : str or os.PathLike or None, optional
        Where rows and curves are stored (default ``.cache/benchmark``; None: a fresh temporary
        folder, nothing reused).
    batch_size : int, optional
        Images per batch, >= 1 -- the unit of computation, timing and saving (default 8).
    device : str or torch.device, optional
        Device to compute on (default ``"cpu"``).
    shard : tuple of int or None, optional
        ``(i, k)``: only the images at positions ``p`` with ``p % k == i`` (several processes
        can share one cache); default None: all images.
    progress : bool, optional
        Show progress (default True; not with ``procs > 1``).
    reference : lotslib.data.ImageSource or str or None, optional
        The labelled reference set of the LOTS class/mean targets: an image source or a
        folder (:func:`lotslib.targets.open_reference`); default None:
        ``images``. An image whose class has no *other* reference image gets an N/A row for
        those variants.
    threads : int or None, optional
        ``torch.set_num_threads`` for the run (restored after; default None = unchanged); the
        count used is recorded per row.
    timing : str, optional
        ``"per_image"`` (default; every map is made and timed on its own, as in the thesis's
        Table 5.3, so the interval over images is meaningful) or ``"per_batch"`` (one batched
        ``explain`` call per batch, its time split evenly; faster on a GPU).
    callback : Callable or None, optional
        ``callback(model, method, ids)`` is called after each computed batch has been saved
        (default None; not called with ``procs > 1``).
    procs : int, optional
        Processes that compute the rows (default 1). With ``k > 1``, ``k`` worker processes
        (multiprocessing's *spawn*) take (method, image) items from a queue and compute each
        into the cache; the table is then read back from it. Each process uses ``threads``
        torch threads (default 1 there), and the open LOTS store
        (:func:`lotslib.lots_store.active_store`) is shared. The models and images must pickle
        (registry models and lotslib's sources do). Each image is computed alone (its rows
        record ``batch_size`` 1), so they are those of one process with ``batch_size=1`` and
        the same ``threads``, whatever ``k``.

    Returns
    -------
    pandas.DataFrame
        The tidy rows. Its ``attrs`` hold ``cache_dir``, ``computed`` (the
        ``"model/method/image_id"`` rows computed by this call or its worker processes, the
        rest came from the cache)
        and ``damaged`` (cache files that could not be read back: moved aside to
        ``*.corrupt``, reported with a :class:`~lotslib.errors.CorruptCacheWarning`, their rows
        recomputed).

    Raises
    ------
    lotslib.errors.ParameterError
        If ``images`` is not an image source, or ``batch_size``, ``shard``, ``timing``,
        ``threads`` or ``params`` are invalid.
    lotslib.errors.DatasetError
        If ``images`` is empty or has duplicate ids.
    """
    if not isinstance(images, ImageSource):
        raise ParameterError("images must be a lotslib.data.ImageSource (e.g. lotslib.data.embedded('imagenet')); "
                             f"got {type(images).__name__}.")
    if len(images) == 0:
        raise DatasetError("images is empty. Fix: pass at least one image.")
    if methods is None:
        methods = list(METHODS)
    if isinstance(methods, str):
        methods = [methods]
    methods = list(methods)
    resolved = resolve_params(methods, params)
    mp = resolved["metrics"]
    if not (isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ParameterError(f"batch_size={batch_size!r}: must be a positive integer (images per batch).")
    if shard is not None:
        if not (isinstance(shard, (tuple, list)) and len(shard) == 2 and all(isinstance(v, int) for v in shard)
                and 0 <= shard[0] < shard[1]):
            raise ParameterError(f"shard={shard!r}: must be (i, k) with 0 <= i < k.")
    if timing not in ("per_image", "per_batch"):
        raise ParameterError(f"timing={timing!r}: choose 'per_image' or 'per_batch'.")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ParameterError(f"threads={threads!r}: must be a positive integer or None.")
    if not (isinstance(procs, (int, np.integer)) and not isinstance(procs, bool) and procs >= 1):
        raise ParameterError(f"procs={procs!r}: must be a positive integer (processes computing the rows).")
    if procs > 1 and shard is not None:
        raise ParameterError(f"procs={procs} and shard={shard!r}: give one of them (procs splits the images itself).")
    if isinstance(models, (str, torch.nn.Module)):
        models = [models]
    ids = images.ids
    if len(set(ids)) != len(ids):
        raise DatasetError("images has duplicate ids; every image id must be unique for the cache.")
    reference = images if reference is None else open_reference(reference)
    if cache_dir is None:
        import tempfile

        cache_dir = tempfile.mkdtemp(prefix="lotslib-bench-")
    cache_dir = Path(cache_dir)
    if procs > 1:
        return _run_spread(int(procs), dict(
            models=models, methods=methods, images=images, params=params, cache_dir=cache_dir,
            batch_size=batch_size, device=device, progress=progress, reference=reference, threads=threads,
            timing=timing, callback=callback))
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
    # LOTS runs land in the shared store (lotslib.lots_store): the chapter's if one is open
    store = sharing(cache_dir / "lots") if active_store() is None else nullcontext()
    try:
        with store:
            for model in loaded:
                mfp = model_fingerprint(model)
                for method in methods:
                    p = resolved[method]
                    spec = cache_spec(resolved, method, model.name, mfp, dev.type, timing)
                    if get_method(method).feature_target in REFERENCE_KINDS:
                        spec["reference"] = reference.fingerprint()
                    key = key_for(spec, model.name, method)
                    keydir = cache_dir / key
                    write_meta(keydir, spec)
                    done, _ = load_done(keydir, damaged)
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
                        bar.set_postfix_str(f"{model.name} {get_method(method).name}")
                        bar.update(len(positions) - len(todo))
                    new_rows = []
                    if todo:
                        warm_up(model, method, p, images.batch(model, [todo[0]]), dev)
                    todo_set = set(todo)
                    for s in range(0, len(positions), batch_size):
                        idx = [pos for pos in positions[s : s + batch_size] if pos in todo_set]
                        if not idx:
                            continue
                        rows, curves = compute_batch(model, method, p, mp, images, idx, reference, dev, n_threads,
                                                     batch_size, key, timing)
                        tag = f"{idx[0]:06d}-" + hashlib.sha1("|".join(ids[i] for i in idx).encode()).hexdigest()[:10]
                        write_part(keydir, tag, rows, curves, [ids[i] for i in idx])
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


def _run_spread(procs: int, kw: dict) -> pd.DataFrame:
    """:func:`run` over ``procs`` worker processes that share ``kw["cache_dir"]`` (its ``procs``).

    The work is a queue of (method, image range) items, in the order of ``methods`` and the
    images, that the workers take as they come free (a static split by image leaves a process
    idle where a method has work for few images: chapter 3's class target has one). A range
    is one image up to ``16 * procs`` images per method, longer beyond (fewer, longer items
    for a large set). Each item is :func:`run` on its images, each computed alone
    (``batch_size=1``); the table is then read back from the cache. An interruption (an
    exception in this process, e.g. ``KeyboardInterrupt``) cancels the items not started.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    part = {**kw, "progress": False, "callback": None, "threads": kw["threads"] or 1, "batch_size": 1}
    images = part.pop("images")
    n = len(images)
    width = max(1, n // (16 * procs))
    items = [(method, s, min(s + width, n)) for method in kw["methods"] for s in range(0, n, width)]
    computed: list[str] = []
    damaged: list[str] = []
    errors = []
    pool = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(part, images, active_store()))
    try:
        for f in [pool.submit(_run_item, *item) for item in items]:
            try:  # every item finishes (its rows are saved) before an error is raised
                c, d = f.result()
                computed += c
                damaged += d
            except Exception as exc:  # noqa: BLE001 -- re-raised below, after the others finished
                errors.append(exc)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # the running items finish and keep their rows
        raise
    pool.shutdown(wait=True)
    if errors:
        raise errors[0]
    df = run(**{**kw, "progress": False, "callback": None})  # every row is in the cache now
    df.attrs["computed"] = computed + df.attrs["computed"]
    df.attrs["damaged"] = damaged + df.attrs["damaged"]
    return df


_WORKER: dict = {}


def _init_worker(part: dict, images, store) -> None:
    """A worker process of :func:`_run_spread`: keep the run's arguments (sent once)."""
    from ..perf import tune_malloc

    tune_malloc()  # as load_model does in the parent: the models arrive already loaded
    _WORKER.update(part=part, images=images, store=store)


def _run_item(method: str, start: int, stop: int) -> tuple[list[str], list[str]]:
    """One queue item of :func:`_run_spread`: ``method`` on images ``start:stop``, rows into the cache."""
    w = _WORKER
    with sharing(w["store"]) if w["store"] is not None else nullcontext():
        df = run(**{**w["part"], "methods": [method]}, images=w["images"][start:stop])
    return list(df.attrs["computed"]), list(df.attrs["damaged"])
