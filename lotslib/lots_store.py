"""One LOTS computation per (model, image, target, parameters), shared by every caller.

LOTS is the book's only costly computation. The chapters (:func:`cached_lots`,
through :meth:`lotsbook.chapter.ChapterContext.lots`), the parameter studies and the
benchmark (:func:`lotslib.lots_explainer.lots_compute`) all store their results here, one
``.npz`` file per image, keyed by *content*: the model and its weights, a hash of the
preprocessed image tensor, a hash of the feature target (or ``"zero"``), every LOTS
parameter that changes the result, and the source of :mod:`lotslib.attack`. Whoever asks
for the same (model, image, target, parameters) next reads the stored run instead of
running LOTS again.

The chapters and studies read and write the store. The benchmark only *writes* to it: its
rows time every map (Table 5.3), so it always runs LOTS itself; the chapters that come
after it (the targets' example maps, the qualitative grids) then read its runs. The write
(uncompressed ``.npz``, about 15 ms per image; float pixels barely compress) falls inside
the benchmark's timed call, about 1 % of a 40-iteration LOTS map.

**Snapshots answer shorter budgets.** A run with a constant ``alpha`` keeps snapshots at the
budgets of :data:`lotslib.params.BUDGETS` below its cap (:func:`snapshot_budgets`), and
:func:`store_results` writes each as the entry of a run with that smaller ``iters``: the
image after k steps, the distances up to k and what a run stopped at k reports (steps,
convergence, stop reason, top-1). That equals a separate k-step run (bit for bit in the same
batch on a CPU; ``tests/test_lots_snapshots.py``), so the protocol's 500-step run is paid
once and every chapter that shows a 40-step walk reads it.

Every request is counted in ``ledger.jsonl`` beside the results: one JSON line per image
with the key, who asked (``via``), the forward+backward passes the run took (its gradient
steps) and whether it was computed or read. :func:`pass_counts` sums a ledger, so a cold
build reports the LOTS passes it computed and the ones it read instead. Appends are one
``write`` each on a file opened with ``O_APPEND``, so two processes (a torchrun pair, the
book and a benchmark) can share a store; the result files are written atomically
(:func:`lotslib.cache.atomic_write`).

**How a run was computed is recorded, not keyed.** A 500-step run's float rounding depends on
the images computed beside it (the batch) and on torch's thread count: the same photo's
walk differs after 30 steps between a batch of 1 and of 4, and between 1 and 2 threads,
and 500 steps carry that into the metrics (chapter 3's LOTS Average Drop moved by about a
point). Each entry records its ``chunk`` (images per batch) and ``threads``; a caller that
needs bit-identical results computes every run alike. The book's embedded and classroom
profiles compute every run one image at a time (``batch_size=1``), and its builder gives every
chapter kernel one torch thread (:mod:`lotsbook.build`), so a run does not depend on which
chapter asked first, on ``--jobs`` or on the build's timing (the provenance page counts the
entries by how they were computed, :func:`computed_how`).

The store is active where :func:`sharing` says so (:func:`lotsbook.chapter.open_chapter`
opens it in ``<cache_dir>/lots`` for the kernel's lifetime; :func:`lotslib.benchmark.run`
uses ``<its cache dir>/lots`` when none is active).
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .cache import atomic_write, cache_key, read_npz
from .params import BUDGETS, LotsParams
from .paths import cache_root

__all__ = ["sharing", "active_store", "entry_key", "stored_lots", "cached_lots", "store_results", "record_passes",
           "ledger", "pass_counts", "snapshot_budgets", "RUN_KEYS", "computed_how"]

_ACTIVE: list[Path | None] = []
#: the LOTS parameters that change a result (beside the model, image and target)
_PARAM_DEFAULTS = {"layer": "logits", "iters": 500, "tau": 0.1, "alpha": 1 / 255, "distance": "euclidean",
                   "patience": None, "min_delta": 1e-3, "alpha_final": None, "step_space": "pixel"}
#: the LOTS parameters that define a run and its store key, in the order of
#: :func:`lotslib.attack.lots`'s keywords: a caller that passes these reads the store's runs
RUN_KEYS = tuple(_PARAM_DEFAULTS)


@contextmanager
def sharing(store_dir):
    """Make ``store_dir`` the active LOTS store inside a ``with`` block (nestable).

    Parameters
    ----------
    store_dir : str, pathlib.Path or None
        The folder of the stored runs and of ``ledger.jsonl``; created on first write.
        None switches the store off inside the block (the benchmark's untimed warm-up
        runs are not results).

    Yields
    ------
    pathlib.Path or None
        ``store_dir`` as a path (None for None).
    """
    _ACTIVE.append(None if store_dir is None else Path(store_dir))
    try:
        yield _ACTIVE[-1]
    finally:
        _ACTIVE.pop()


def active_store() -> Path | None:
    """The store opened by the innermost :func:`sharing` block, or None.

    Returns
    -------
    pathlib.Path or None
        The active store's folder, or None where no store is active.
    """
    return _ACTIVE[-1] if _ACTIVE else None


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()[:16]


def _canonical(params: dict) -> dict:
    p = {k: params.get(k, v) for k, v in _PARAM_DEFAULTS.items()}
    if p["patience"] is None:
        p.pop("min_delta")  # no plateau stop: min_delta changes nothing
    return p


_MODEL_IDS: dict[int, tuple] = {}


def _model_id(model) -> str:
    """A hash of the model's actual weights, recomputed only when a tensor changed (in-place
    writes bump a tensor's version; a replaced tensor has a new id). A ``weights_id``
    string alone is not enough: a model whose layers were re-initialised in place (the
    sanity checks of chapter 8) keeps its ``weights_id``."""
    net = getattr(model, "net", model)
    state = net.state_dict(keep_vars=True)
    sig = tuple((id(t), t._version) for t in state.values())
    hit = _MODEL_IDS.get(id(model))
    if hit is not None and hit[0] == sig:
        return hit[1]
    h = hashlib.sha256(type(net).__qualname__.encode())
    for k, v in state.items():
        h.update(k.encode())
        h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    _MODEL_IDS[id(model)] = (sig, h.hexdigest()[:16])
    return _MODEL_IDS[id(model)][1]


@lru_cache(maxsize=1)
def _code_hash() -> str:
    """The source hash of the LOTS code this process runs (read once, not once per image)."""
    return hashlib.sha256(Path(__file__).with_name("attack.py").read_bytes()).hexdigest()[:12]


def entry_key(model, x_i: torch.Tensor, target_i, params: dict) -> str:
    """The store key of one image's LOTS run.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The attacked model (its ``name`` and a hash of its current weights enter the key).
    x_i : torch.Tensor
        ``(3,H,W)`` the preprocessed image in [0,1] (its bytes enter the key).
    target_i : str or torch.Tensor
        ``"zero"`` or the image's ``(D,)`` feature target.
    params : dict
        LOTS parameters (``layer``, ``iters``, ``tau``, ``alpha``, ``distance``,
        ``patience``, ``min_delta``, ``alpha_final``); missing ones take
        :func:`lotslib.attack.lots`'s defaults, so an explicit default and an omitted one
        give the same key.

    Returns
    -------
    str
        A short hash.
    """
    tgt = "zero" if isinstance(target_i, str) else _digest(target_i)
    return cache_key(model=getattr(model, "name", type(model).__name__), weights=_model_id(model), image=_digest(x_i),
                     target=tgt,
                     lots=_canonical(params), code=_code_hash())


def _target_rows(target, n: int) -> list:
    if isinstance(target, str):
        return [target] * n
    t = torch.as_tensor(target)
    return [t] * n if t.dim() == 1 else list(t)


def _log(store: Path, lines: list[dict]) -> None:
    store.mkdir(parents=True, exist_ok=True)
    blob = "".join(json.dumps(d) + "\n" for d in lines).encode()
    fd = os.open(store / "ledger.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, blob)
    finally:
        os.close(fd)


def snapshot_budgets(params: dict) -> list:
    """The budgets of :data:`lotslib.params.BUDGETS` below a run's ``iters`` whose snapshots it keeps.

    Parameters
    ----------
    params : dict
        LOTS parameters (``iters``, ``alpha_final``; missing ones take the defaults).

    Returns
    -------
    list of int
        Ascending; empty for a decaying ``alpha`` (its step k depends on ``iters``, so a
        snapshot is not a shorter run).
    """
    p = _canonical(params)
    if p["alpha_final"] is not None:
        return []
    return [b for b in BUDGETS if b < int(p["iters"])]


def _record(res, j: int, seconds: float, via: str, budget: int | None = None) -> dict:
    """Image ``j``'s stored record: of the whole run, or (``budget``) of its snapshot there."""
    t = res.trace
    if budget is None:
        x_adv, dist, st = res.x_adv[j], t.distances[j], {"iterations": t.iterations, "converged": t.converged,
                                                          "stop_reason": t.stop_reason, "top1_after": t.top1_after}
    else:
        x_adv, dist, st = t.snapshots[budget][j], t.distances[j, : budget + 1], t.snapshot_state[budget]
    return dict(x_adv=x_adv.detach().cpu().numpy(), distances=dist.numpy(),
                iterations=np.int64(st["iterations"][j]), converged=np.bool_(st["converged"][j]),
                stop_reason=np.str_(st["stop_reason"][j]), top1_before=np.int64(t.top1_before[j]),
                top1_after=np.int64(st["top1_after"][j]), seconds=np.float64(seconds), via=np.str_(via),
                chunk=np.int64(t.params.get("chunk", -1)), threads=np.int64(t.params.get("threads", -1)))


def store_results(store_dir, model, x: torch.Tensor, target, params: dict, res, via: str) -> list[str]:
    """Write a finished LOTS run (``res`` of :func:`lotslib.attack.lots` on ``x``) into the store.

    Parameters
    ----------
    store_dir : str or pathlib.Path
        The store's folder.
    model : lotslib.models.ModelWrapper
        The attacked model.
    x : torch.Tensor
        ``(N,3,H,W)`` the attacked images in [0,1].
    target : str or torch.Tensor
        ``"zero"``, ``(D,)`` or ``(N,D)`` feature targets.
    params : dict
        The run's LOTS parameters (see :func:`entry_key`).
    res : lotslib.attack.LotsResult
        The run.
    via : str
        Who computed it (``"benchmark"``, ``"chapter"``...), kept in the ledger.

    Returns
    -------
    list of str
        The ``N`` keys written.
    """
    store = Path(store_dir)
    n = x.shape[0]
    rows = _target_rows(target, n)
    keys = [entry_key(model, x[j], t, params) for j, t in enumerate(rows)]
    per = res.trace.seconds / max(n, 1)
    for j, k in enumerate(keys):
        rec = _record(res, j, per, via)
        atomic_write(store / f"{k}.npz", lambda f, r=rec: np.savez(f, **r))
    for b in snapshot_budgets(params):
        if b not in res.trace.snapshot_state:
            continue
        pb = {**params, "iters": b}
        for j, t in enumerate(rows):
            path = store / f"{entry_key(model, x[j], t, pb)}.npz"
            if not path.is_file():  # a snapshot equals a separate run stopped there
                steps = max(int(res.trace.iterations[j]), 1)
                sec = per * min(int(res.trace.snapshot_state[b]["iterations"][j]), steps) / steps
                rec = _record(res, j, sec, "snapshot", budget=b)
                atomic_write(path, lambda f, r=rec: np.savez(f, **r))
    _log(store, [{"key": k, "via": via, "passes": int(res.trace.iterations[j]), "computed": True}
                 for j, k in enumerate(keys)])
    return keys


def record_passes(store_dir, res, via: str) -> None:
    """Count a LOTS run that is not kept in the store (one with snapshots) in its ledger.

    Parameters
    ----------
    store_dir : str or pathlib.Path
        The store's folder.
    res : lotslib.attack.LotsResult
        The run; one ledger line per image with its gradient steps (key ``""``).
    via : str
        Who ran it (``"study"``...).

    Returns
    -------
    None
    """
    _log(Path(store_dir), [{"key": "", "via": via, "passes": int(k), "computed": True}
                           for k in res.trace.iterations.tolist()])


def stored_lots(model, x: torch.Tensor, target="zero", *, store_dir, via: str = "chapter", batch_size=None,
                **params):
    """:func:`lotslib.attack.lots` on ``x``, reading each image's run from the store when present.

    Only the images missing from the store are attacked (one batched call); their runs are
    stored. The ledger gets one line per image.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The attacked model.
    x : torch.Tensor
        ``(N,3,H,W)`` preprocessed images in [0,1].
    target : str or torch.Tensor
        ``"zero"`` (the default), ``(D,)`` or ``(N,D)`` feature targets.
    store_dir : str or pathlib.Path
        The store's folder.
    via : str
        Who asks, for the ledger. Default ``"chapter"``.
    batch_size : int or None
        LOTS chunk size for the missing images (does not enter the key).
    **params
        LOTS parameters of :func:`lotslib.attack.lots` (see :func:`entry_key`).

    Returns
    -------
    lotslib.attack.LotsResult
        ``x_adv`` ``(N,3,H,W)`` on the device of ``x`` and the trace (no snapshots; its
        ``params["cached"]`` counts the images read from the store, its ``seconds`` sums
        the stored compute times).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad LOTS parameter or target (for the images not in the store).
    """
    from .attack import LotsResult, LotsTrace, lots

    store = Path(store_dir)
    n = x.shape[0]
    rows = _target_rows(target, n)
    keys = [entry_key(model, x[j], t, params) for j, t in enumerate(rows)]
    recs: dict[int, dict] = {}
    for i, k in enumerate(keys):
        p = store / f"{k}.npz"
        if p.is_file():
            rec = read_npz(p, what="LOTS result")
            if rec is not None:
                recs[i] = rec
    hits = sorted(recs)
    todo = [i for i in range(n) if i not in recs]
    if hits:
        _log(store, [{"key": keys[i], "via": via, "passes": int(recs[i]["iterations"]), "computed": False,
                      "producer": str(recs[i].get("via", ""))} for i in hits])
    if todo:
        tgt = target if isinstance(target, str) or torch.as_tensor(target).dim() == 1 else torch.as_tensor(target)[todo]
        res = lots(model, x[todo], target=tgt, batch_size=batch_size, snapshots=snapshot_budgets(params), **params)
        store_results(store, model, x[todo], tgt, params, res, via)
        per = res.trace.seconds / len(todo)
        for j, i in enumerate(todo):
            recs[i] = _record(res, j, per, via)
    ordered = [recs[i] for i in range(n)]
    trace = LotsTrace(
        distances=torch.from_numpy(np.stack([r["distances"] for r in ordered])),
        iterations=torch.tensor([int(r["iterations"]) for r in ordered]),
        converged=torch.tensor([bool(r["converged"]) for r in ordered]),
        stop_reason=[str(r["stop_reason"]) for r in ordered],
        top1_before=torch.tensor([int(r["top1_before"]) for r in ordered]),
        top1_after=torch.tensor([int(r["top1_after"]) for r in ordered]),
        seconds=float(sum(float(r["seconds"]) for r in ordered)),
        params={**_canonical(params), "cached": len(hits)},
    )
    x_adv = torch.from_numpy(np.stack([r["x_adv"] for r in ordered])).to(x.device)
    return LotsResult(x_adv, trace)


def cached_lots(model, images, target="zero", target_key: str = "zero", iters: int = LotsParams.iters,
                tau: float = LotsParams.tau, alpha: float = LotsParams.alpha, layer: str = LotsParams.layer,
                batch_size: int | None = LotsParams.batch_size,
                cache_dir=None, x=None, **lots_kw):
    """:func:`lotslib.attack.lots` on ``images`` with each image's result in the LOTS store ``cache_dir/lots``.

    The store (:func:`lotslib.lots_store.stored_lots`) keys each image's run by content:
    the model and its weights, the preprocessed image, the target's values, every LOTS
    parameter that changes the result and the source of ``lotslib/attack.py``; the
    benchmark's runs land in the same store, so a chapter reads them. Only missing images
    are attacked (one batched call).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The attacked model.
    images : lotslib.data.ImageSource
        The images, preprocessed for ``model``.
    target : str or torch.Tensor
        ``"zero"`` (the default), a ``(D,)`` tensor or ``(N,D)`` (one per image).
    target_key : str
        Names the target in the trace's ``params`` (``"zero"``, the default, ``"class"``,
        ``"mean"``, ``"image:<id>"``); the store keys the target by its values.
    iters : int
        LOTS iteration cap. Default 500.
    tau : float
        LOTS stopping distance. Default 0.1.
    alpha : float
        LOTS step width. Default 1/255.
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    batch_size : int or None
        Images per LOTS chunk (None = all at once; the default).
    cache_dir : str, pathlib.Path or None
        The cache folder; None (the default) = :func:`lotslib.paths.cache_root`.
    x : torch.Tensor or None
        The preprocessed batch ``(N,3,S,S)`` in [0,1] of ``images``, if already at hand;
        None (the default) = ``images.batch(model)``.
    **lots_kw
        Further keywords of :func:`lotslib.attack.lots` (``patience``, ``min_delta``,
        ``distance``...); they enter the key.

    Returns
    -------
    lotslib.attack.LotsResult
        A :class:`~lotslib.attack.LotsResult` for all images, in order: ``x_adv``
        ``(N,3,S,S)`` in [0,1] on the device of ``x``, and the trace (its ``params`` record
        how many results came from the cache; no snapshots).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad LOTS parameter or target (for the images not in the cache).
    """
    if x is None:
        x = images.batch(model)
    res = stored_lots(model, x, target, store_dir=Path(cache_dir if cache_dir is not None else cache_root())
                      / "lots", via="chapter", layer=layer, iters=iters, tau=tau, alpha=alpha, batch_size=batch_size,
                      **lots_kw)
    res.trace.params["target"] = target_key
    return res


def ledger(store_dir):
    """The ledger of a store as a table (empty where nothing was asked yet).

    Parameters
    ----------
    store_dir : str or pathlib.Path
        The store's folder.

    Returns
    -------
    pandas.DataFrame
        One row per request and image: ``key``, ``via``, ``passes``, ``computed`` and, for
        reads, ``producer`` (who computed the run).
    """
    import pandas as pd

    path = Path(store_dir) / "ledger.jsonl"
    if not path.is_file():
        return pd.DataFrame(columns=["key", "via", "passes", "computed", "producer"])
    lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    return pd.DataFrame(lines).reindex(columns=["key", "via", "passes", "computed", "producer"])


def pass_counts(store_dir) -> dict:
    """The LOTS forward+backward passes a store's ledger records.

    Parameters
    ----------
    store_dir : str or pathlib.Path
        The store whose ``ledger.jsonl`` is summed (see :func:`ledger`).

    Returns
    -------
    dict
        ``computed`` (passes actually run), ``read`` (passes of runs read from the store
        instead of being run again), ``read_from_benchmark`` (the part of ``read`` that
        the benchmark computed: before the store was shared with the benchmark these were
        computed a second time), ``runs_computed`` and ``runs_read`` (image runs).
    """
    df = ledger(store_dir)
    comp = df[df["computed"] == True]  # noqa: E712 - a column of bools (NaN-free)
    read = df[df["computed"] == False]  # noqa: E712
    return {"computed": int(comp["passes"].sum()), "read": int(read["passes"].sum()),
            "read_from_benchmark": int(read.loc[read["producer"] == "benchmark", "passes"].sum()),
            "runs_computed": len(comp), "runs_read": len(read)}


def computed_how(store_dir):
    """How the store's runs were computed: the entries per (``chunk``, ``threads``).

    Parameters
    ----------
    store_dir : str or pathlib.Path
        The LOTS store's folder; only two small members of each ``*.npz`` entry are read.

    Returns
    -------
    pandas.DataFrame
        Columns ``chunk`` (images per batch), ``threads`` (torch threads) and ``entries``
        (stored runs and snapshots), one row per pair; -1 where an entry predates the record.
        Empty where the store holds nothing.
    """
    import pandas as pd

    how = []
    for f in sorted(Path(store_dir).glob("*.npz")):
        try:
            with np.load(f) as z:  # reads only the two small members
                how.append((int(z["chunk"]) if "chunk" in z else -1, int(z["threads"]) if "threads" in z else -1))
        except (OSError, ValueError, KeyError):
            continue  # a damaged entry: read_npz moves it aside when a run asks for it
    df = pd.DataFrame(how, columns=["chunk", "threads"])
    return df.value_counts().rename("entries").reset_index().sort_values(["chunk", "threads"], ignore_index=True)
