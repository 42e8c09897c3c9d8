"""The benchmark's result store: one folder per (model, method, parameters), written in parts.

Each (model, method) has a folder under the cache directory named after a hash of every
parameter that affects its rows (:func:`key_for`). After each batch of images, the batch's
rows (``rows-<tag>.parquet``) and its curves and maps (``curves-<tag>.npz``) are written
atomically (:func:`lotslib.cache.atomic_write`); a row is reused when its image id and
content fingerprint match, so a killed run resumes where it stopped. A part that cannot be
read back is handled by the policy every lotslib cache shares (:func:`lotslib.cache.quarantine`):
both of its files are moved aside to ``*.corrupt``, a warning names the damaged file, and its
images are recomputed. No pickle anywhere.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_write, quarantine, read_npz
from ..errors import DatasetError, ParameterError
from .params import DEFAULT_CACHE_DIR

__all__ = ["key_for", "write_meta", "write_part", "load_done", "load_curves", "load_maps"]

#: the arrays every curves file holds besides one array per curve metric
_BASE_ARRAYS = ("image_ids", "fractions")


def key_for(spec: dict, model_name: str, method: str) -> str:
    """The folder name of a (model, method, parameters) ``spec``.

    Parameters
    ----------
    spec : dict
        The parameters that determine the results.
    model_name : str
        The model's name.
    method : str
        The method key.

    Returns
    -------
    str
        ``<model>-<method>-<hash>``.
    """
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return f"{model_name}-{method}-{digest}"


def write_meta(keydir: Path, spec: dict) -> None:
    """Record the parameters of a folder once (``meta.json``), for humans and audits.

    Parameters
    ----------
    keydir : pathlib.Path
        The cache folder of one key (:func:`key_for`).
    spec : dict
        The parameters.

    Returns
    -------
    None
    """
    keydir.mkdir(parents=True, exist_ok=True)
    if not (keydir / "meta.json").is_file():
        atomic_write(keydir / "meta.json", lambda f: f.write(json.dumps(spec, indent=1, sort_keys=True).encode()))


def write_part(keydir: Path, tag: str, rows: list[dict], curves: dict, image_ids: list[str]) -> None:
    """Write one batch: its curves and maps, then its rows, each atomically.

    Parameters
    ----------
    keydir : pathlib.Path
        The cache folder of one key (:func:`key_for`).
    tag : str
        The part's name.
    rows : list of dict
        One row per image (parquet).
    curves : dict
        The arrays to store (npz): ``fractions``, ``maps`` and one ``(n, S+1)`` array per
        curve metric.
    image_ids : list of str
        The images' ids, stored as ``image_ids``.

    Returns
    -------
    None

    Notes
    -----
    The rows are written last, so a part is complete when its rows file exists.
    """
    bids = np.array(image_ids, dtype=str)
    atomic_write(keydir / f"curves-{tag}.npz", lambda f: np.savez(f, image_ids=bids, **curves))
    frame = pd.DataFrame(rows)
    atomic_write(keydir / f"rows-{tag}.parquet", lambda f: frame.to_parquet(f, index=False))


def load_done(keydir: Path, damaged: list | None = None) -> tuple[pd.DataFrame, dict]:
    """Rows and curves already in a cache folder (rows without curves are ignored).

    Parameters
    ----------
    keydir : pathlib.Path
        The cache folder of one key (:func:`key_for`).
    damaged : list or None, optional
        Collects the damaged files' paths (default None).

    Returns
    -------
    rows : pandas.DataFrame
        The rows (empty if none).
    curves : dict
        ``curves[(id, fp)]`` is a dict with ``fractions``, one curve per curve metric
        (``insertion``, ``deletion``) and ``maps`` (or None).

    Notes
    -----
    A part that cannot be read back (truncated parquet or npz, missing columns/arrays) is
    never trusted: both of its files are moved aside to ``*.corrupt``, a
    :class:`~lotslib.errors.CorruptCacheWarning` names the damaged file, and its images are
    recomputed by the caller.

    Rows and curves are keyed by ``(image_id, image_fp)``: after an image's file changed, the
    part holding its old rows stays on disk, but only the rows (and curves, maps) of the
    current content are ever matched.
    """
    frames, curves = [], {}
    for rp in sorted(Path(keydir).glob("rows-*.parquet")):
        cp = rp.with_name("curves-" + rp.name[len("rows-") : -len(".parquet")] + ".npz")
        if not cp.is_file():
            continue
        z = read_npz(cp, _BASE_ARRAYS, "benchmark curves")
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
                quarantine(rp, exc, "benchmark rows")
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
        per_image = [k for k in z if k not in _BASE_ARRAYS]
        for j, i in enumerate(ids):
            if i in fp:
                rec = {k: z[k][j] for k in per_image}
                rec["fractions"] = z["fractions"]
                rec.setdefault("maps", None)
                curves.setdefault((i, fp[i]), rec)
        frames.append(rows[rows["image_id"].isin(ids)])
    if not frames:
        return pd.DataFrame(), {}
    df = pd.concat(frames, ignore_index=True).drop_duplicates(["image_id", "image_fp"], keep="first")
    return df, curves


def _stored(df: pd.DataFrame, cache_dir) -> tuple[Path, dict]:
    root = Path(cache_dir or df.attrs.get("cache_dir") or DEFAULT_CACHE_DIR)
    return root, {k: load_done(root / k)[1] for k in df["cache_key"].unique()}  # damaged parts: warned there


def load_curves(df: pd.DataFrame, cache_dir: str | os.PathLike | None = None, kinds=("insertion", "deletion")) -> dict:
    """The curves of ``df``'s rows, in row order.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    cache_dir : str or os.PathLike or None, optional
        The cache (default None: the one :func:`lotslib.benchmark.run` used, ``df.attrs``).
    kinds : Sequence of str, optional
        Curve metrics (default ``("insertion", "deletion")``).

    Returns
    -------
    dict
        ``{"insertion": (len(df), S+1), "deletion": (len(df), S+1), "fractions": (S+1,)}``
        (float64; one entry per curve metric in ``kinds``).

    Raises
    ------
    lotslib.errors.ParameterError
        If the rows have different step counts.
    lotslib.errors.DatasetError
        If a row's curves are not in the cache.
    """
    if len(df) == 0:
        return {**{k: np.empty((0, 0)) for k in kinds}, "fractions": np.empty(0)}
    steps = df["steps"].unique()
    if len(steps) != 1:
        raise ParameterError(f"rows have different step counts {sorted(steps)}; select rows with one 'steps' value.")
    root, by_key = _stored(df, cache_dir)
    out: dict = {k: [] for k in kinds}
    frac = None
    for key, iid, fp in zip(df["cache_key"], df["image_id"], df["image_fp"]):
        rec = by_key[key].get((iid, fp))
        if rec is None:
            raise DatasetError(f"no curves for {iid} in {root / key}. "
                               "Fix: rerun lotslib.benchmark.run with the same cache_dir.")
        for k in kinds:
            out[k].append(rec[k])
        frac = rec["fractions"]
    return {**{k: np.stack(v) for k, v in out.items()}, "fractions": np.asarray(frac)}


def load_maps(df: pd.DataFrame, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """The explanation maps of ``df``'s rows, in row order (stored beside the curves).

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    cache_dir : str or os.PathLike or None, optional
        The cache (default None: the one :func:`lotslib.benchmark.run` used).

    Returns
    -------
    numpy.ndarray
        ``(len(df), H, W)`` float32 in [0,1].

    Raises
    ------
    lotslib.errors.DatasetError
        If a row's map is not in the cache.
    """
    root, by_key = _stored(df, cache_dir)
    out = []
    for key, iid, fp in zip(df["cache_key"], df["image_id"], df["image_fp"]):
        m = by_key[key].get((iid, fp), {}).get("maps")
        if m is None:
            raise DatasetError(f"no stored map for {iid} in {root / key}. "
                               "Fix: rerun lotslib.benchmark.run with the same cache_dir.")
        out.append(m.astype(np.float32))
    return np.stack(out) if out else np.empty((0, 0, 0), np.float32)
