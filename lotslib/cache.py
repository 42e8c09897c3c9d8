"""On-disk results: atomic writes, keyed caches, no pickle.

* :func:`atomic_write` -- temp file, fsync, ``os.replace``: a reader sees the old file or the
  new one, never half of one, even after SIGKILL.
* :func:`cache_key` -- a short hash of every parameter that affects a result.
* :func:`cached_frame` -- a pandas DataFrame computed once per key (parquet).
* :func:`cached_lots` -- LOTS results per image (npz), so chapters and studies share them.

Unreadable cache files are reported (a warning naming the file), removed and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["atomic_write", "cache_key", "cached_frame", "cached_lots", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$LOTSLIB_CACHE`` or ``.cache`` in the working directory."""
    return Path(os.environ.get("LOTSLIB_CACHE", ".cache"))


def atomic_write(path: Path, write: Callable) -> None:
    """Write ``path`` through ``write(binary_file)`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename durable too
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def cache_key(**parts) -> str:
    """A 20-hex-digit hash of ``parts`` (JSON with sorted keys; non-JSON values by ``repr``)."""
    blob = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _unreadable(path: Path, exc: Exception) -> None:
    from .errors import CorruptCacheWarning

    warnings.warn(f"cache file {path} is unreadable ({type(exc).__name__}: {exc}); recomputing it", CorruptCacheWarning, stacklevel=3)
    path.unlink(missing_ok=True)


def cached_frame(cache_dir, name: str, key: str, compute: Callable[[], "object"]):
    """``compute()`` (a DataFrame) stored as ``cache_dir/name-key.parquet``; reused when present."""
    import pandas as pd

    path = Path(cache_dir) / f"{name}-{key}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # truncated or corrupt: recompute, never trust
            _unreadable(path, exc)
    df = compute()
    atomic_write(path, lambda f: df.to_parquet(f, index=False))
    return df


def _lots_source_hash() -> str:
    return hashlib.sha256((Path(__file__).with_name("lots.py")).read_bytes()).hexdigest()[:12]


def cached_lots(model, images, target="zero", target_key: str = "zero", iters: int = 500, tau: float = 0.1,
                alpha: float = 1 / 255, layer: str = "logits", batch_size: int | None = None,
                cache_dir=None, x=None, **lots_kw):
    """:func:`lotslib.lots.lots` on ``images`` (an :class:`~lotslib.data.ImageSource`,
    preprocessed for ``model``) with each image's result cached under ``cache_dir/lots``.

    The key covers the model and its weights, the image id and content digest, the target
    (``target_key`` names it: "zero", "class", "mean", "image:<id>"), layer, iters, tau,
    alpha, any extra LOTS keyword (``patience``...) and the source of ``lotslib/lots.py``.
    Only missing images are attacked (one batched call). ``target`` may be ``"zero"``, a
    ``(D,)`` tensor or ``(N,D)`` (one per image); ``x`` may pass the preprocessed batch.
    Returns a :class:`~lotslib.lots.LotsResult` for all images, in order.
    """
    import torch

    from .lots import LotsResult, LotsTrace, lots

    root = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "lots"
    if x is None:
        x = images.batch(model)
    src_hash = _lots_source_hash()
    paths = [
        root / f"{cache_key(model=model.name, weights=model.weights_id, image=it.id, digest=it.digest, target=target_key, layer=layer, iters=iters, tau=tau, alpha=alpha, extra=lots_kw, code=src_hash)}.npz"
        for it in images.items
    ]
    recs: dict[int, dict] = {}
    for i, p in enumerate(paths):
        if p.is_file():
            try:
                with np.load(p, allow_pickle=False) as z:
                    recs[i] = {k: z[k] for k in z.files}
            except Exception as exc:
                _unreadable(p, exc)
    todo = [i for i in range(len(paths)) if i not in recs]
    if todo:
        tgt = target
        if isinstance(target, torch.Tensor) and target.dim() == 2 and target.shape[0] == len(paths):
            tgt = target[todo]
        res = lots(model, x[todo], target=tgt, layer=layer, iters=iters, tau=tau, alpha=alpha, batch_size=batch_size, **lots_kw)
        per = res.trace.seconds / len(todo)
        for j, i in enumerate(todo):
            rec = dict(
                x_adv=res.x_adv[j].cpu().numpy(),
                distances=res.trace.distances[j].numpy(),
                iterations=np.int64(res.trace.iterations[j]),
                converged=np.bool_(res.trace.converged[j]),
                stop_reason=np.str_(res.trace.stop_reason[j]),
                top1_before=np.int64(res.trace.top1_before[j]),
                top1_after=np.int64(res.trace.top1_after[j]),
                seconds=np.float64(per),
            )
            atomic_write(paths[i], lambda f, r=rec: np.savez_compressed(f, **r))
            recs[i] = rec
    ordered = [recs[i] for i in range(len(paths))]
    trace = LotsTrace(
        distances=torch.from_numpy(np.stack([r["distances"] for r in ordered])),
        iterations=torch.tensor([int(r["iterations"]) for r in ordered]),
        converged=torch.tensor([bool(r["converged"]) for r in ordered]),
        stop_reason=[str(r["stop_reason"]) for r in ordered],
        top1_before=torch.tensor([int(r["top1_before"]) for r in ordered]),
        top1_after=torch.tensor([int(r["top1_after"]) for r in ordered]),
        seconds=float(sum(float(r["seconds"]) for r in ordered)),
        params=dict(layer=layer, iters=iters, tau=tau, alpha=alpha, target=target_key, cached=len(paths) - len(todo), **lots_kw),
    )
    x_adv = torch.from_numpy(np.stack([r["x_adv"] for r in ordered])).to(x.device)
    return LotsResult(x_adv, trace)
