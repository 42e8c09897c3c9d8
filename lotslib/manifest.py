"""The manifest of a ``lots explain`` output folder: what every finished file is.

``<out>/lots-manifest.json`` (written atomically with :func:`lotslib.cache.atomic_write`)
holds one entry per image and method, named by its output stem (``coffee_lots``):

* ``key`` -- everything the files depend on: the image's ``source`` (its path) and ``sha256``
  (of its bytes), the ``model`` key, the ``weights`` (the ``--weights`` argument, the SHA-256
  of a local weight file, and the fingerprint of the loaded weights,
  ``lotslib.models.weights_fingerprint``), the ``cam_layer``, the ``method`` and every
  ``params`` value (the method's defaults included);
* ``status`` -- ``"pending"`` (written before the files, so that no file is ever on disk
  without an entry) or ``"done"``;
* ``files`` -- for each file its byte count and its shape (``.npy``) or pixel size (``.png``);
* ``run`` -- the index of the run (``runs``: start time and command) that wrote it.

A rerun keeps a file only when its entry's whole key equals the new one, the entry is done and
every file verifies (:func:`verify_files`); :func:`settings_conflicts` names the entries an
earlier run wrote with other settings, which the command line refuses to replace.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import LotsError

__all__ = ["MANIFEST_NAME", "read_manifest", "write_manifest", "record_file", "verify_files", "settings_conflicts"]

MANIFEST_NAME = "lots-manifest.json"
FORMAT = 1


def read_manifest(out, damaged_ok: bool = False) -> dict:
    """The manifest of the output folder ``out`` (an empty one where there is none).

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder.
    damaged_ok : bool
        Return an empty manifest for one that does not read back, instead of raising (for
        ``--overwrite``). Default False.

    Returns
    -------
    dict
        ``{"format": 1, "runs": [...], "entries": {stem: entry}}``.

    Raises
    ------
    lotslib.errors.LotsError
        The manifest exists but does not read back as one (damaged, or another program's file).
    """
    path = Path(out) / MANIFEST_NAME
    if not path.exists():
        return {"format": FORMAT, "runs": [], "entries": {}}
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(m, dict) and m.get("format") == FORMAT and isinstance(m.get("entries"), dict)):
            raise ValueError(f"not a format-{FORMAT} manifest")
    except (OSError, ValueError) as exc:
        if damaged_ok:
            return {"format": FORMAT, "runs": [], "entries": {}}
        raise LotsError(f"{path} is unreadable ({type(exc).__name__}: {exc}), so no file in {out} can be trusted. "
                        f"Fix: a new --out, or --overwrite to recompute into {out}.") from None
    m.setdefault("runs", [])
    return m


def write_manifest(out, manifest: dict) -> None:
    """Write ``manifest`` to ``<out>/lots-manifest.json`` atomically (old or new, never half)."""
    from .cache import atomic_write

    blob = json.dumps(manifest, indent=1, sort_keys=True, default=repr).encode("utf-8")
    atomic_write(Path(out) / MANIFEST_NAME, lambda f: f.write(blob))


def record_file(path: Path) -> dict:
    """What :func:`verify_files` checks later: bytes, and the ``.npy`` shape or ``.png`` size."""
    import numpy as np
    from PIL import Image

    rec = {"bytes": path.stat().st_size}
    if path.suffix == ".npy":
        rec["shape"] = list(np.load(path, allow_pickle=False).shape)
    else:
        with Image.open(path) as im:
            rec["size"] = list(im.size)
    return rec


def verify_files(out, files: dict) -> str | None:
    """None if every recorded file reads back as recorded, else which one does not and why.

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder.
    files : dict
        ``{file name: record}`` as :func:`record_file` gives.

    Returns
    -------
    str or None
        None, or ``"<path> (<reason>)"`` for the first file that is missing, has another size,
        does not decode (a PNG) or does not load as a finite map in [0,1] of the recorded shape.
    """
    import numpy as np
    from PIL import Image

    for name, rec in files.items():
        p = Path(out) / name
        try:
            if p.stat().st_size != rec["bytes"]:
                return f"{p} ({p.stat().st_size} bytes, {rec['bytes']} recorded)"
            if p.suffix == ".npy":
                a = np.load(p, allow_pickle=False)
                if list(a.shape) != rec["shape"] or not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
                    return f"{p} (not a finite map in [0,1] of shape {tuple(rec['shape'])})"
            else:
                with Image.open(p) as im:
                    im.load()
                    if list(im.size) != rec["size"]:
                        return f"{p} (size {im.size}, {tuple(rec['size'])} recorded)"
        except Exception as exc:  # noqa: BLE001 - missing, truncated, not an image at all
            return f"{p} ({type(exc).__name__}: {exc})"
    return None


def settings_conflicts(manifest: dict, settings: dict, methods) -> dict:
    """The differences between the settings of this run and those of the entries already there.

    An entry conflicts when its model, weights or CAM layer differ from ``settings`` (whatever
    its method), or when its method is one of ``methods`` and its parameters differ.

    Parameters
    ----------
    manifest : dict
        From :func:`read_manifest`.
    settings : dict
        This run's ``{"model", "weights", "cam_layer", "params": {method: params}}``; the
        ``weights`` dict is compared on the keys it has (before the model is loaded, without
        its fingerprint).
    methods : iterable of str
        The methods of this run.

    Returns
    -------
    dict
        ``{entry stem: what differs, and the earlier run that wrote it}`` (empty: no conflict).
    """
    found = {}
    runs = manifest.get("runs", [])
    for stem, entry in manifest["entries"].items():
        key = entry["key"]
        diffs = [f"{k} {key.get(k)!r}, not {settings[k]!r}" for k in ("model", "cam_layer")
                 if key.get(k) != settings[k]]
        diffs += [f"weights {k} {key['weights'].get(k)!r}, not {v!r}" for k, v in settings["weights"].items()
                  if key.get("weights", {}).get(k) != v]
        if key["method"] in methods:
            new = json.loads(json.dumps(settings["params"][key["method"]], default=repr))
            diffs += [f"{key['method']} {k}={key['params'].get(k)!r}, not {new.get(k)!r}"
                      for k in sorted(set(new) | set(key["params"])) if key["params"].get(k) != new.get(k)]
        i = entry.get("run")
        run = runs[i] if isinstance(i, int) and 0 <= i < len(runs) else {}
        if diffs:
            found[stem] = f"{', '.join(diffs)} (the run of {run.get('started', '?')}: {run.get('command', '?')})"
    return found
