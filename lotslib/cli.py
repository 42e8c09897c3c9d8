"""Command line: explain your own images with LOTS or a CAM method.

    lots explain photo.jpg other.png --model efficientnet_lite0 --method lots --out maps/
    lots explain my_folder/ --method gradcam --method lots --out maps/
    lots models

For every image and method it writes ``<out>/<image>_<method>.png`` (heat-map overlay on the
model's 224 crop), ``<out>/<image>_<method>_full.png`` (the map placed back on the photo at its
own size) and
``<out>/<image>_<method>.npy`` (the ``(H, W)`` map in [0,1] at the model's input size),
and prints the top-1 class. Finished files are skipped on a rerun, so an interrupted run
loses nothing; a finished file that no longer reads back (truncated, damaged) is reported and
recomputed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _sources(paths):
    from .data import IMAGE_SUFFIXES, folder, load_image
    from .errors import ImageNotFoundError

    for p in map(Path, paths):
        if p.is_dir():
            src = folder(p)
            for i in range(len(src)):
                s = src[i]
                yield s.id, s.image
        elif p.exists():
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                print(f"warning: {p} does not look like an image; trying to decode it anyway", file=sys.stderr)
            yield p.stem, load_image(p)
        else:
            raise ImageNotFoundError(f"{p} does not exist. Fix: check the path.")


def _damaged(npy: Path, png: Path) -> str | None:
    """None if a finished result reads back (a finite (H,W) map in [0,1] and a PNG), else why not."""
    import numpy as np
    from PIL import Image

    try:
        m = np.load(npy, allow_pickle=False)
        if m.ndim != 2 or not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            return f"{npy} (not a finite (H,W) map in [0,1])"
    except Exception as exc:  # noqa: BLE001 - truncated or not an .npy at all
        return f"{npy} ({type(exc).__name__}: {exc})"
    try:
        with Image.open(png) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001
        return f"{png} ({type(exc).__name__}: {exc})"
    return None


def _explain(args) -> int:
    import numpy as np
    import torch

    from .cache import atomic_write
    from .explanation import explain_with_info
    from .method_registry import METHODS
    from .models import load_model
    from .visualize import overlay

    methods = args.method or ["lots"]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"error: unknown method(s) {unknown}; choose from {list(METHODS)}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, weights=args.weights or "default", device=args.device)
    if args.cam_layer:
        from .models import _submodule

        model.cam_layer = _submodule(model.net, args.cam_layer, "--cam-layer")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the rest: defaults
    params = {"lots": dict(iters=args.iters, tau=args.tau, alpha=args.alpha, filter_size=args.filter_size)}
    report = []  # (image id, top-1 text, {method: (overlay file, note)})
    for image_id, img in _sources(args.images):
        x = model.preprocess(img)[None].to(args.device)
        prob, idx = model.predict(x)
        top1 = f"{model.categories[int(idx[0, 0])]} ({float(prob[0, 0]):.3f})"
        print(f"{image_id}: top-1 {model.categories[int(idx[0, 0])]!r} ({float(prob[0, 0]):.3f})")
        cells = {}
        report.append((image_id, top1, cells))
        for method in methods:
            npy = out / f"{image_id}_{method}.npy"
            png = out / f"{image_id}_{method}.png"
            full = out / f"{image_id}_{method}_full.png"
            cells[method] = (full.name, "")
            if npy.exists() and png.exists() and full.exists() and not args.force:
                damage = _damaged(npy, png)
                if damage is None:
                    print(f"  {method}: kept existing {png}")
                    cells[method] = (full.name, "kept from an earlier run")
                    continue
                print(f"warning: damaged result {damage}; recomputing it", file=sys.stderr)
            ex = explain_with_info(method, model, x, **params.get(method, {}))
            m = ex.maps
            if ex.trace is not None:
                stop = f"LOTS stop: {ex.trace.stop_reason[0]}, {int(ex.trace.iterations[0])} steps"
                cells[method] = (full.name, stop)
            _save_png(full, _full_size_overlay(img, m[0].cpu(), model))
            atomic_write(npy, lambda f, a=m[0].cpu().numpy(): np.save(f, a))
            _save_png(png, (overlay(x.cpu(), m.cpu())[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
            print(f"  {method}: wrote {png}")
    if args.report:
        page = out / "index.html"
        html = _report_html(report, methods, model.name)
        atomic_write(page, lambda f: f.write(html.encode("utf-8")))
        print(f"report: {page}")
    return 0


def _full_size_overlay(img, m, model):
    """The map placed back on the photo at its own size and aspect: the model saw a centre
    crop of the photo resized to ``model.resize_size`` on the short side; the map is resized to
    that crop's extent in the photo and laid over it (outside the crop: no map)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from .tensors import to_tensor
    from .visualize import overlay

    x = to_tensor(img)
    h, w = x.shape[-2:]
    scale = min(h, w) / float(model.resize_size)
    side = max(1, int(round(model.input_size * scale)))
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    big = F.interpolate(m[None, None].float(), size=(side, side), mode="bilinear", align_corners=False)[0, 0]
    full = np.zeros((h, w), dtype=np.float32)
    full[top : top + side, left : left + side] = big[: h - top, : w - left].clamp(0, 1).numpy()
    ov = overlay(x[None], torch.from_numpy(full)[None])[0]
    return (ov.permute(1, 2, 0).numpy() * 255).round().astype("uint8")


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


def _default_threads() -> int:
    """1 thread on a machine with <= 2 cores (fast alone and under load), else up to 8."""
    import os

    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(cores, 8)


def main(argv=None) -> int:
    """The ``lots`` command (module docstring); returns the exit status.

    Subcommands: ``lots explain IMAGE_OR_FOLDER... [--model M] [--method KEY ...] [--out DIR]
    [--iters N] [--tau T] [--alpha A] [--filter-size K] [--device D] [--force]`` and
    ``lots models``. Errors of lotslib (:class:`~lotslib.errors.LotsError`) are printed as
    one ``error:`` line instead of a traceback.

    Parameters
    ----------
    argv : list of str or None
        The arguments without the program name; None (the default) = ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for an unknown method or a lotslib error.
    """
    import lotslib  # noqa: F401  (registers the built-in methods)

    from .errors import LotsError
    from .method_registry import METHODS, default_params

    lots_defaults = default_params("lots")
    ap = argparse.ArgumentParser(prog="lots", description="LOTS and CAM explanations for your own images.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("explain", help="write explanation maps for images or folders",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("images", nargs="+", help="image files or folders")
    e.add_argument("--model", default="efficientnet_lite0", help="model key (see `lots models`)")
    e.add_argument("--method", action="append", choices=list(METHODS), metavar="METHOD",
                   help=f"explanation method, repeatable (default: lots); one of {', '.join(METHODS)}")
    e.add_argument("--out", default="lots-maps", help="output folder")
    e.add_argument("--iters", type=int, default=lots_defaults["iters"], help="LOTS iteration cap")
    e.add_argument("--tau", type=float, default=lots_defaults["tau"], help="LOTS stops at this feature distance")
    e.add_argument("--alpha", type=float, default=lots_defaults["alpha"], help="LOTS step width (largest pixel change)")
    e.add_argument("--filter-size", type=int, default=lots_defaults["filter_size"],
                   help="Gaussian blur of the LOTS map")
    e.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    e.add_argument("--weights", default=None,
                   help="a local checkpoint (state dict, loaded with weights_only=True) instead of the default weights")
    e.add_argument("--cam-layer", default=None, help="the layer the CAM methods explain, by module name "
                                                      "(default: the model's last convolutional block)")
    e.add_argument("--threads", type=int, default=_default_threads(),
                   help="torch threads; 1 on a machine with <= 2 cores, where two busy processes' OpenMP threads "
                        "oversubscribe the cores and slow LOTS down many times over")
    e.add_argument("--force", action="store_true", help="recompute maps that already exist")
    e.add_argument("--report", action="store_true",
                   help="also write <out>/index.html: every image x method side by side, top-1 class, LOTS stop")
    sub.add_parser("models", help="list the known models")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "models":
            from .models import EMBEDDED_MODELS, FULL_MODELS

            print("embedded (offline):", ", ".join(EMBEDDED_MODELS))
            print("full (torchvision weights):", ", ".join(FULL_MODELS))
            return 0
        return _explain(args)
    except LotsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
