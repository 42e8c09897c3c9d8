"""Command line: explain your own images with LOTS or a CAM method.

    lots explain photo.jpg other.png --model efficientnet_lite0 --method lots --out maps/
    lots explain my_folder/ --method gradcam --method lots --out maps/
    lots models

For every image and method it writes ``<out>/<name>_<method>.png`` (heat-map overlay on the
model's 224 crop), ``<out>/<name>_<method>_full.png`` (the map placed back on the photo at its
own size, at most ``FULL_MAX_SIDE`` = 4096 pixels on the long side: a larger photo is
downscaled while decoding, and the run says so for that image) and ``<out>/<name>_<method>.npy``
(the ``(H, W)`` map in [0,1] at the model's input size), and prints the top-1 class. A progress
bar follows the LOTS steps of each map where stderr is a terminal (none in logs and pipes).

Weights: ``--weights PATH`` (a state dict; ``module.`` prefixes and ``{"state_dict": ...}``
checkpoints are accepted), ``--weights none`` (random weights), or the model's default.
``lots --help`` answers without importing torch.

Naming: ``<name>`` is the image file's stem (``coffee`` for ``photos/coffee.jpg``). Where two
images of one run share a stem (``a/img.jpg`` and ``b/img.jpg``; ``x.jpg`` and ``x.png``), or
the folder's manifest gives the stem to another image, it is ``<stem>-<8 hex digits of the
SHA-256 of the image's path>`` (``img-3f2a9c01``); a name once given to an image stays with it.
The manifest (``<out>/lots-manifest.json``, :mod:`lotslib.manifest`) records for every file the
image's path and content hash, the model, the weights, the CAM layer, the method and every
parameter.

Rerun: a finished file is kept only when its whole key is the same and it reads back as
recorded; a damaged one is recomputed. An output folder that holds files of another model,
weights, CAM layer or other parameters of a method, or files the manifest does not record, is
refused before anything is computed (``--overwrite`` replaces them; or use a new ``--out``).

Every check (parameters, threads, device, the images named, the output folder, the manifest)
runs before the model loads. Exit status: 0 done; 1 done, but images of a folder that do not
decode were skipped (listed at the end); 2 an error (one ``error:`` line naming the fix,
nothing computed); 130 interrupted (Ctrl-C; the finished files are kept, a rerun resumes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

#: the options that set LOTS parameters (passed to every method whose key starts with ``lots``)
_LOTS_OPTIONS = ("iters", "tau", "alpha", "filter_size")
#: their defaults and the built-in method keys, written out so that ``lots --help`` needs no
#: torch (tests/test_cli_help.py checks them against lotslib.method_registry)
_LOTS_DEFAULTS = {"iters": 500, "tau": 0.1, "alpha": 1 / 255, "filter_size": 49}
_METHOD_KEYS = ("random", "gradcam", "gradcampp", "smoothgradcampp", "layercam", "hirescam", "edge", "lots",
                "lots_logit")
#: the long side of the largest ``_full.png`` (lotslib.data.MAX_SIDE: photos are downscaled to it)
FULL_MAX_SIDE = 4096


def _say(text: str, err: bool = False) -> None:
    """One line of output, flushed at once (a log file or pipe sees it while the run goes on)."""
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _weights(args):
    """The ``weights`` argument of load_model: None for ``--weights none`` (random weights)."""
    w = args.weights or "default"
    return None if str(w).lower() == "none" and not Path(w).is_file() else w


def _inputs(paths) -> dict:
    """``{source: file}`` for every image of ``paths``: folders listed, files named on the command
    line decoded once (a bad one is an error before the model loads). ``source`` is the file's
    resolved path; the same file named twice is explained once."""
    from .data import IMAGE_SUFFIXES, folder, load_image
    from .errors import ImageNotFoundError

    files = {}
    for p in map(Path, paths):
        if p.is_dir():
            found = [Path(it.path) for it in folder(p).items]
        elif p.exists():
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                _say(f"warning: {p} does not look like an image; trying to decode it anyway", err=True)
            load_image(p)
            found = [p]
        else:
            raise ImageNotFoundError(f"{p} does not exist. Fix: check the path.")
        for f in found:
            files.setdefault(f.resolve().as_posix(), f)
    return files


def _names(sources, manifest) -> dict:
    """``{source: output name}`` (module docstring: the stem, or stem plus a hash of the path)."""
    import hashlib
    from collections import Counter

    from .errors import ParameterError

    owner = {e["name"]: e["key"]["source"] for e in manifest["entries"].values()}
    given = {source: name for name, source in owner.items()}
    stems = Counter(Path(s).stem.lower() for s in sources)
    names = {}
    for s in sources:
        stem = Path(s).stem
        free = stem not in owner and stems[stem.lower()] == 1
        names[s] = given.get(s) or (stem if free else f"{stem}-{hashlib.sha256(s.encode()).hexdigest()[:8]}")
    clash = [n for n, k in Counter(names.values()).items() if k > 1]
    if clash:
        raise ParameterError(f"two images would both be written as {clash[0]!r}. Fix: rename one of them.")
    return names


def _settings(args, methods) -> tuple[dict, dict]:
    """This run's settings (manifest keys) and each method's explicit parameters, all checked."""
    from .cache import sha256_file
    from .errors import ParameterError, UnknownModelError
    from .method_registry import check_params, default_params
    from .models import known_models, unknown_model_message
    from .params import LotsParams

    given = {k: getattr(args, k) for k in _LOTS_OPTIONS}
    try:
        LotsParams(**given)
    except ParameterError as exc:
        raise ParameterError(f"{exc} Fix: change --{str(exc).split('=')[0].replace('_', '-')} "
                             f"(`lots explain --help` lists the defaults).") from None
    calls = {m: {k: v for k, v in given.items() if m.startswith("lots") and k in default_params(m)} for m in methods}
    w = args.weights or "default"
    weights = {"given": "file" if Path(w).is_file() else ("none" if _weights(args) is None else str(w)),
               "file_sha256": sha256_file(w) if Path(w).is_file() else None}
    model = args.model if ":" in args.model else args.model.lower().replace("-", "_")
    if ":" not in model and model not in known_models():
        raise UnknownModelError(unknown_model_message(args.model))
    settings = {"model": model, "cam_layer": args.cam_layer, "weights": weights,
                "params": {m: check_params(m, calls[m]) for m in methods}}
    return settings, calls


def _check_machine(threads: int, device: str) -> None:
    """``--threads`` >= 1 and a ``--device`` this machine has, else a ParameterError naming the fix."""
    import torch

    from .errors import ParameterError

    if threads < 1:
        raise ParameterError(f"--threads {threads}: must be >= 1. Fix: --threads 1, or leave it out.")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ParameterError(f"--device {device!r} is not a device. Fix: cpu, cuda or cuda:N.") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ParameterError(f"--device {device}: this machine has no usable CUDA GPU. Fix: --device cpu.")
        if dev.index is not None and dev.index >= n:
            raise ParameterError(f"--device {device}: this machine has {n} GPU(s). Fix: cuda:0 ... cuda:{n - 1}.")
    elif dev.type != "cpu":
        raise ParameterError(f"--device {device}: only cpu and cuda are supported. Fix: --device cpu.")


def _read_out(out: Path, overwrite: bool) -> dict:
    """The manifest of ``out`` (a fresh one if absent, or damaged and ``overwrite``)."""
    from .errors import ParameterError
    from .manifest import read_manifest

    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file, not a folder. Fix: pass a folder (it is created if missing).")
    return read_manifest(out, damaged_ok=overwrite)


def _unrecorded(out: Path, manifest, names, methods) -> dict:
    """``{stem: why}`` for files this run would write that the manifest does not record."""
    found = {}
    for name in names.values():
        for m in methods:
            stem = f"{name}_{m}"
            files = [out / f"{stem}{suffix}" for suffix in (".npy", ".png", "_full.png")]
            if stem not in manifest["entries"] and any(f.exists() for f in files):
                found[stem] = f"{next(f for f in files if f.exists())} exists but {out}/lots-manifest.json does not " \
                              f"record it (another program's file, or an older lots)"
    return found


def _refuse(out: Path, conflicts: dict) -> None:
    """Raise the refusal: the earlier files differ in settings (or are unrecorded); nothing computed."""
    from .errors import ParameterError

    lines = list(dict.fromkeys(conflicts.values()))
    more = f"; and {len(lines) - 3} more" if len(lines) > 3 else ""
    raise ParameterError(f"{out} holds results this run would replace: {'; '.join(lines[:3])}{more}. They are kept "
                         f"and nothing was computed. Fix: a new --out, or --overwrite to replace them.")


def _make_out(out: Path) -> None:
    """Create ``out`` and check that a file can be written in it (before the model loads)."""
    import os

    from .errors import ParameterError

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".lots-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ParameterError(f"--out {out} cannot be written ({exc.strerror or exc}). "
                             f"Fix: pass a folder you can write to.") from None


def _drop(out: Path, manifest, stems) -> None:
    """``--overwrite``: remove the files and entries of ``stems`` (earlier runs' other settings)."""
    for stem in stems:
        entry = manifest["entries"].pop(stem, None)
        for name in (entry or {}).get("files", {}):
            (out / name).unlink(missing_ok=True)


def _keep(out: Path, entry, key: dict, force: bool) -> bool:
    """True when the finished files of ``entry`` can be kept for ``key``: the whole key the same,
    the entry done and every file reading back as recorded (else it says why it recomputes)."""
    from .manifest import verify_files

    if entry is None or force:
        return False
    if entry["key"]["sha256"] != key["sha256"]:
        _say(f"  {entry['method']}: {key['source']} changed since the earlier run; recomputing")
        return False
    if entry["key"] != key or entry["status"] != "done":
        return False
    damage = verify_files(out, entry["files"])
    if damage is not None:
        _say(f"warning: damaged result {damage}; recomputing it", err=True)
    return damage is None


def _compute(method: str, model, x, params: dict):
    """One method's map of one image: the unit a rerun keeps or recomputes. For LOTS, a tqdm
    bar counts its steps (one forward pass each) where stderr is a terminal."""
    from .explanation import explain_with_info

    if not method.startswith("lots") or not sys.stderr.isatty():
        return explain_with_info(method, model, x, **params)
    from tqdm.auto import tqdm

    from .method_registry import default_params

    total = int(params.get("iters", default_params(method).get("iters", 0)) or 0)
    bar = tqdm(total=total, desc=method, unit="step", leave=False, file=sys.stderr)
    def step(*_):  # a forward hook must return None (a value would replace the model's output)
        if bar.n < total:
            bar.update(1)

    hook = model.register_forward_hook(step)
    try:
        return explain_with_info(method, model, x, **params)
    finally:
        hook.remove()
        bar.close()


def _write(out: Path, stem: str, img, x, ex, model) -> dict:
    """The three files of one map; returns their manifest records."""
    import numpy as np

    from .cache import atomic_write
    from .manifest import record_file
    from .visualize import full_size_overlay, overlay

    m = ex.maps
    npy, png, full = out / f"{stem}.npy", out / f"{stem}.png", out / f"{stem}_full.png"
    _save_png(full, full_size_overlay(img, m[0].cpu(), model))
    atomic_write(npy, lambda f, a=m[0].cpu().numpy(): np.save(f, a))
    _save_png(png, (overlay(x.cpu(), m.cpu())[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    return {p.name: record_file(p) for p in (npy, png, full)}


def _check_before_loading(args, methods, out: Path):
    """Every check before the model loads (parameters, machine, images, output folder, manifest),
    then ``out`` created; returns the settings, each method's parameters, the images, the
    manifest and the output names. Raises a LotsError naming the fix, with nothing written."""
    from .manifest import settings_conflicts

    settings, calls = _settings(args, methods)
    _check_machine(args.threads, args.device)
    inputs = _inputs(args.images)
    manifest = _read_out(out, args.overwrite)
    names = _names(inputs, manifest)
    conflicts = {**settings_conflicts(manifest, settings, methods), **_unrecorded(out, manifest, names, methods)}
    if conflicts and not args.overwrite:
        _refuse(out, conflicts)
    _make_out(out)
    return settings, calls, inputs, manifest, names


def _explain(args) -> int:
    import datetime
    import json
    import shlex

    import torch

    from .cache import sha256_file
    from .data import image_size, load_image
    from .errors import LotsError
    from .manifest import settings_conflicts, write_manifest
    from .models import load_model, weights_fingerprint
    from .perf import set_threads

    methods = list(dict.fromkeys(args.method or ["lots"]))
    out = Path(args.out)
    created = not out.exists()
    settings, calls, inputs, manifest, names = _check_before_loading(args, methods, out)
    torch.manual_seed(0)
    set_threads(args.threads)
    try:
        model = load_model(args.model, weights=_weights(args), device=args.device)
        if args.cam_layer:
            from .models import _submodule

            model.cam_layer = _submodule(model.net, args.cam_layer, "--cam-layer")
        settings["weights"]["fingerprint"] = weights_fingerprint(model)
        conflicts = settings_conflicts(manifest, settings, methods)
        if conflicts and not args.overwrite:
            _refuse(out, conflicts)
    except BaseException:  # nothing computed: leave no empty --out behind either
        if created and not any(out.iterdir()):
            out.rmdir()
        raise
    _drop(out, manifest, conflicts)
    run = len(manifest["runs"])
    manifest["runs"].append({"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                             "command": shlex.join(["lots", *args.argv])})
    report, skipped, finished = [], [], []  # report: (image name, top-1 text, {method: (overlay file, note)})
    try:
        for source, path in inputs.items():
            name = names[source]
            try:
                img = load_image(path)
            except LotsError as exc:
                _say(f"warning: skipped {path}: {exc}", err=True)
                skipped.append(str(path))
                continue
            shown, given = (int(img.shape[-1]), int(img.shape[-2])), image_size(path)
            if shown != given:
                _say(f"note: {path} is {given[0]}x{given[1]} pixels; its _full.png maps are {shown[0]}x{shown[1]} "
                     f"(photos are downscaled to {FULL_MAX_SIDE} pixels on the long side)")
            sha = sha256_file(path)
            x = model.preprocess(img)[None].to(args.device)
            prob, idx = model.predict(x)
            top1 = f"{model.categories[int(idx[0, 0])]} ({float(prob[0, 0]):.3f})"
            _say(f"{name}: top-1 {model.categories[int(idx[0, 0])]!r} ({float(prob[0, 0]):.3f})")
            cells = {}
            report.append((name, top1, cells))
            for method in methods:
                stem = f"{name}_{method}"
                key = json.loads(json.dumps({"source": source, "sha256": sha, "method": method, **settings,
                                             "params": settings["params"][method]}, default=repr))
                cells[method] = (f"{stem}_full.png", "")
                if _keep(out, manifest["entries"].get(stem), key, args.force):
                    _say(f"  {method}: kept existing {out / stem}.png")
                    cells[method] = (f"{stem}_full.png", "kept from an earlier run")
                    continue
                entry = {"name": name, "method": method, "key": key, "status": "pending", "files": {}, "run": run}
                manifest["entries"][stem] = entry
                write_manifest(out, manifest)  # no file of this run is ever on disk without its entry
                ex = _compute(method, model, x, calls[method])
                if ex.trace is not None:
                    cells[method] = (f"{stem}_full.png", f"LOTS stop: {ex.trace.stop_reason[0]}, "
                                                         f"{int(ex.trace.iterations[0])} steps")
                entry["files"] = _write(out, stem, img, x, ex, model)
                entry["status"] = "done"
                finished.append(stem)
                _say(f"  {method}: wrote {out / stem}.png")
    except KeyboardInterrupt:
        write_manifest(out, manifest)
        print(f"interrupted: the {len(finished)} map(s) finished in this run and every earlier one are kept in {out} "
              f"(recorded in lots-manifest.json); rerun the same command to compute the rest.", file=sys.stderr)
        return 130
    write_manifest(out, manifest)
    if args.report:
        from .cache import atomic_write

        page = out / "index.html"
        html = _report_html(report, methods, model.name)
        atomic_write(page, lambda f: f.write(html.encode("utf-8")))
        _say(f"report: {page}")
    if skipped:
        print(f"error: {len(skipped)} file(s) skipped, they do not decode as images: {', '.join(skipped)}. "
              f"Fix: re-export or remove them; a rerun keeps every finished map.", file=sys.stderr)
        return 1
    return 0


def _save_png(path: Path, arr) -> None:
    """``(H,W,3)`` uint8 ``arr`` as a PNG at ``path``, atomically (:func:`lotslib.cache.atomic_write`)."""
    from PIL import Image

    from .cache import atomic_write

    atomic_write(path, lambda f: Image.fromarray(arr).save(f, format="PNG"))


def _report_html(report, methods, model_name: str) -> str:
    """``index.html``: one row per image, one column per method (the full-size overlays), with
    the top-1 class and the LOTS stop reason."""
    import html

    head = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    rows = []
    for image_id, top1, cells in report:
        tds = "".join(
            f"<td><img src='{html.escape(f)}' alt='{html.escape(image_id)} {html.escape(m)}' loading='lazy'>"
            f"<div class='note'>{html.escape(note)}</div></td>"
            for m in methods for f, note in [cells.get(m, ("", ""))])
        rows.append(f"<tr><th>{html.escape(image_id)}<div class='note'>top-1: {html.escape(top1)}</div></th>{tds}</tr>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>lots explain: " + html.escape(model_name)
            + "</title><style>body{font-family:sans-serif} img{max-width:260px;display:block} "
              "td,th{vertical-align:top;padding:4px} .note{font-size:0.8em;color:#555}</style></head><body>"
            + f"<h1>Explanations by {html.escape(model_name)}</h1><table><tr><th>image</th>{head}</tr>"
            + "".join(rows) + "</table></body></html>\n")


def main(argv=None) -> int:
    """The ``lots`` command (module docstring); returns the exit status.

    Subcommands: ``lots explain IMAGE_OR_FOLDER... [--model M] [--method KEY ...] [--out DIR]
    [--iters N] [--tau T] [--alpha A] [--filter-size K] [--device D] [--force] [--overwrite]``
    and ``lots models``. Errors of lotslib (:class:`~lotslib.errors.LotsError`) and of the file
    system are printed as one ``error:`` line instead of a traceback.

    Parameters
    ----------
    argv : list of str or None
        The arguments without the program name; None (the default) = ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success; 1 when images of a folder were skipped (they do not
        decode); 2 for an error (nothing computed when it is found by the checks before the
        model loads); 130 when interrupted (Ctrl-C), the finished files kept.
    """
    from .errors import ParameterError
    from .perf import default_threads

    try:
        threads = default_threads()  # $LOTS_THREADS is checked here, before anything runs
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lots_defaults = _LOTS_DEFAULTS
    ap = argparse.ArgumentParser(prog="lots", description="LOTS and CAM explanations for your own images.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("explain", help="write explanation maps for images or folders",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("images", nargs="+", help="image files or folders")
    e.add_argument("--model", default="efficientnet_lite0", help="model key (see `lots models`)")
    e.add_argument("--method", action="append", choices=_METHOD_KEYS, metavar="METHOD",
                   help=f"explanation method, repeatable (default: lots); one of {', '.join(_METHOD_KEYS)}")
    e.add_argument("--out", default="lots-maps", help="output folder")
    e.add_argument("--iters", type=int, default=lots_defaults["iters"], help="LOTS iteration cap")
    e.add_argument("--tau", type=float, default=lots_defaults["tau"], help="LOTS stops at this feature distance")
    e.add_argument("--alpha", type=float, default=lots_defaults["alpha"], help="LOTS step width (largest pixel change)")
    e.add_argument("--filter-size", type=int, default=lots_defaults["filter_size"],
                   help="Gaussian blur of the LOTS map")
    e.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    e.add_argument("--weights", default=None,
                   help="a local checkpoint (a state dict, loaded with weights_only=True; 'module.' prefixes and "
                        "{'state_dict': ...} checkpoints accepted) instead of the default weights, or 'none' for "
                        "random weights")
    e.add_argument("--cam-layer", default=None, help="the layer the CAM methods explain, by module name "
                                                      "(default: the model's last convolutional block)")
    e.add_argument("--threads", type=int, default=threads,
                   help="torch threads ($LOTS_THREADS, else 1 on a machine with <= 2 cores, where two busy processes' "
                        "OpenMP threads oversubscribe the cores and slow LOTS down many times over, else up to 8)")
    e.add_argument("--force", action="store_true", help="recompute maps that already exist with the same settings")
    e.add_argument("--overwrite", action="store_true",
                   help="replace the files of earlier runs with other settings (model, weights, parameters) in --out "
                        "instead of refusing")
    e.add_argument("--report", action="store_true",
                   help="also write <out>/index.html: every image x method side by side, top-1 class, LOTS stop")
    sub.add_parser("models", help="list the known models (and the torchvision: and timm: prefixes)")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from .errors import LotsError

    try:
        if args.cmd == "models":
            from .models import EMBEDDED_MODELS, FULL_MODELS

            _say(f"embedded (offline): {', '.join(EMBEDDED_MODELS)}")
            _say(f"full (torchvision weights): {', '.join(FULL_MODELS)}")
            _say("any torchvision classifier: torchvision:<name>, e.g. torchvision:resnet18")
            _say("any timm model (needs timm): timm:<name>, e.g. timm:resnet18")
            return 0
        return _explain(args)
    except LotsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write that failed mid-run: full disk, a folder removed
        print(f"error: {exc}. Fix: check free disk space and that --out is writable; a rerun keeps every "
              f"finished map.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the maps finished so far are kept (recorded in lots-manifest.json of --out); "
              "rerun the same command to compute the rest.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
