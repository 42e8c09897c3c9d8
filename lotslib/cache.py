"""On-disk results: atomic writes, keyed caches, no pickle.

* :func:`atomic_write` -- temp file, fsync, ``os.replace``: a reader sees the old file or the
  new one, never half of one, even after SIGKILL.
* :func:`cache_key` -- a short hash of every parameter that affects a result.
* :func:`cached_frame` -- a pandas DataFrame computed once per key (parquet).
* LOTS results per image live in :mod:`lotslib.lots_store` (one run per model, image,
  target and parameters, shared by the chapters, the studies and the benchmark).

* :func:`quarantine` -- the one damaged-file policy of every cache in lotslib (these and the
  benchmark's result store): a file that cannot be read back is never trusted; it is moved
  aside to ``<name>.corrupt`` (kept for inspection, never read again), a
  :class:`~lotslib.errors.CorruptCacheWarning` names it, and its results are recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["atomic_write", "cache_key", "sha256_file", "cached_frame", "quarantine", "read_npz"]


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """SHA-256 of every byte of a file, read in chunks.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    chunk : int
        Bytes read at a time. Default 1 MiB.

    Returns
    -------
    str
        The 64-hex-digit digest.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(chunk), b""):
            h.update(b)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable) -> None:
    """Write ``path`` through ``write(binary_file)`` atomically (temp file, fsync, rename).

    A reader sees the old file or the new one, never half of one, even after SIGKILL. The
    parent folders are created; the temporary file is removed if ``write`` fails.

    Parameters
    ----------
    path : pathlib.Path or str
        The file to (over)write.
    write : Callable
        ``write(f)`` writes the content to the binary file object ``f``.
    """
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
    """A 20-hex-digit hash of ``parts`` (JSON with sorted keys; non-JSON values by ``repr``).

    Parameters
    ----------
    **parts
        Every parameter that affects a result, by name.

    Returns
    -------
    str
        The first 20 hex digits of the SHA-256 of the JSON.
    """
    blob = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def quarantine(path: Path, exc: BaseException, what: str = "cache", stacklevel: int = 3) -> None:
    """Move a damaged cache file aside to ``<name>.corrupt`` and warn, naming it.

    The one damaged-file policy of lotslib's caches: the file is never trusted nor deleted
    (it stays beside the cache for inspection), and the caller recomputes its results. The
    warning is a :class:`~lotslib.errors.CorruptCacheWarning`; if the file cannot be moved,
    it is left in place (and the warning says so).

    Parameters
    ----------
    path : pathlib.Path or str
        The damaged file.
    exc : BaseException
        What went wrong reading it (named in the warning).
    what : str
        What the file holds, for the message. Default ``"cache"``.
    stacklevel : int
        ``stacklevel`` of the warning (3, the default, points at the caller's caller).
    """
    from .errors import CorruptCacheWarning

    path = Path(path)
    try:
        os.replace(path, path.with_name(path.name + ".corrupt"))
        where = f"moved aside to {path.name}.corrupt"
    except OSError:
        where = "left in place"
    warnings.warn(
        f"damaged {what} file {path} ({type(exc).__name__}: {exc}); {where}, its results will be recomputed. "
        f"Fix: nothing to do; if this repeats, check the disk (free space, an interrupted copy).",
        CorruptCacheWarning,
        stacklevel=stacklevel,
    )


def read_npz(path: Path, keys=(), what: str = "cache", stacklevel: int = 4) -> dict | None:
    """The arrays of ``path`` (no pickle), or ``None`` after :func:`quarantine` if it is damaged.

    Damaged means unreadable, or missing one of ``keys``.

    Parameters
    ----------
    path : pathlib.Path or str
        An ``.npz`` file.
    keys : Iterable of str
        Arrays the file must contain. Default: none.
    what : str
        What the file holds, for the warning. Default ``"cache"``.
    stacklevel : int
        ``stacklevel`` of the warning. Default 4.

    Returns
    -------
    dict or None
        ``{name: numpy.ndarray}`` of every array in the file, or None if it was damaged
        (then moved aside and a :class:`~lotslib.errors.CorruptCacheWarning` issued).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        missing = [k for k in keys if k not in out]
        if missing:
            raise KeyError(f"missing arrays {missing}")
        return out
    except Exception as exc:  # noqa: BLE001 - any failure means: do not trust it
        quarantine(path, exc, what, stacklevel=stacklevel)
        return None


def cached_frame(cache_dir, name: str, key: str, compute: Callable[[], "object"]):
    """``compute()`` (a DataFrame) stored as ``cache_dir/name-key.parquet``; reused when present.

    A file that cannot be read back is quarantined (:func:`quarantine`) and recomputed.

    Parameters
    ----------
    cache_dir : str or pathlib.Path
        The cache folder.
    name : str
        The table's name (file name prefix).
    key : str
        A key of every parameter of the table, e.g. from :func:`cache_key`.
    compute : Callable
        ``compute()`` returns the ``pandas.DataFrame``; called only on a cache miss.

    Returns
    -------
    pandas.DataFrame
        The cached or freshly computed table.
    """
    import pandas as pd

    path = Path(cache_dir) / f"{name}-{key}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # truncated or corrupt: recompute, never trust
            quarantine(path, exc, "cached table")
    df = compute()
    atomic_write(path, lambda f: df.to_parquet(f, index=False))
    return df
