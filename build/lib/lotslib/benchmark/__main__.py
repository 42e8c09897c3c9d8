"""``python -m lotslib.benchmark``: the command line of :func:`lotslib.benchmark.run`, single
process or scaled out with torchrun.

    python -m lotslib.benchmark --models efficientnet_lite0 --methods gradcam lots \\
        --images embedded:imagenet --n-images 4 --cache-dir .cache/benchmark --out rows.csv

    torchrun --standalone --nproc-per-node 4 -m lotslib.benchmark --models resnet50 \\
        --images imagenet_val:/data/val --ground-truth gt.txt --first-per-class \\
        --cache-dir /shared/cache --timing per_batch --batch-size 64 \
        --params-json '{"metrics": {"batch_size": 256}}' --out rows.csv

Under ``torchrun`` every process (rank ``r`` of ``W``, from the environment torchrun sets)
computes its shard -- the images at positions ``p % W == r`` -- into the one shared cache
(rows and curves are written atomically per batch, file names never collide between
shards). The processes then meet (an all-reduce of a failure flag, which also acts as the
barrier); if every shard succeeded, rank 0 *merges*: it calls ``run`` once more without a
shard, which finds every row in the cache, computes nothing and returns the whole table in
the single-process order, and writes ``--out`` (``.csv`` or ``.parquet``: the tidy rows of
``run``) and prints the Table 5.2 / 5.3 summaries. Backend: ``gloo`` on CPU, ``nccl`` on GPU
with device ``cuda:LOCAL_RANK``. Without torchrun it is an ordinary single-process run.
On a GPU, large batches pay (``--batch-size`` images per batch, ``--timing per_batch``, and
the Insertion/Deletion forward batch ``metrics.batch_size``); the defaults suit a CPU.

``--params-json`` takes a JSON object (inline or a file path) in the format of
:func:`lotslib.benchmark.resolve_params`, e.g.
``'{"lots": {"iters": 500}, "metrics": {"steps": 224, "batch_size": 64}}'``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import torch

from .. import data
from ..cache import atomic_write
from ..errors import LotsError, ParameterError
from ..method_registry import ALL_METHODS, METHODS
from .params import DEFAULT_CACHE_DIR
from .runner import run
from .tables import format_table, table_5_2, table_5_3

__all__ = ["main", "parse_images", "dist_env"]


def dist_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` without it)."""
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", rank))
    return rank, world, local


def parse_images(spec: str, ground_truth: str | None = None, n_images: int | None = None,
                 first_per_class: bool = False):
    """``embedded[:all|imagenet|photos]``, ``folder:PATH``, ``imagenet_val:PATH`` or a bare
    folder path -> an :class:`~lotslib.data.ImageSource` (the first ``n_images``)."""
    kind, _, arg = spec.partition(":")
    if kind == "embedded":
        src = data.embedded(arg or "all")
    elif kind == "folder" and arg:
        src = data.folder(arg)
    elif kind == "imagenet_val" and arg:
        src = data.imagenet_val(arg, ground_truth)
    elif Path(spec).is_dir():
        src = data.folder(spec)
    else:
        raise ParameterError(
            f"--images {spec!r}: use embedded[:all|imagenet|photos], folder:PATH, imagenet_val:PATH or a folder path."
        )
    if first_per_class:
        src = src.first_per_class()
    return src.head(n_images)


def _params(text: str | None) -> dict | None:
    if not text:
        return None
    p = Path(text)
    raw = p.read_text() if not text.lstrip().startswith("{") and p.is_file() else text
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"--params-json is neither a JSON object nor a readable JSON file: {exc}") from None
    if not isinstance(obj, dict):
        raise ParameterError("--params-json must hold a JSON object {method: {...}, 'metrics': {...}}.")
    return obj


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m lotslib.benchmark",
        description="The thesis's quantitative benchmark (cached, resumable; torchrun-aware).",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--models", nargs="+", required=True, help="model keys (lotslib.models.known_models())")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(ALL_METHODS), metavar="METHOD",
                    help=f"method keys (default: the seven of Table 5.2): {', '.join(ALL_METHODS)}")
    ap.add_argument("--images", default="embedded:imagenet",
                    help="embedded[:all|imagenet|photos], folder:PATH, imagenet_val:PATH or a folder "
                         "(default embedded:imagenet)")
    ap.add_argument("--ground-truth", help="ground-truth file of a flat ILSVRC2012 validation folder")
    ap.add_argument("--first-per-class", action="store_true",
                    help="the first image of each class (the thesis protocol)")
    ap.add_argument("--reference", help="reference set of the LOTS class/mean targets: a folder with labels.csv or "
                                        "wnid subfolders (default: the evaluated images)")
    ap.add_argument("--n-images", type=int, help="the first N images")
    ap.add_argument("--cache-dir", default=None,
                    help="shared cache folder (default $LOTSLIB_CACHE/benchmark or .cache/benchmark)")
    ap.add_argument("--params-json", help="method/metric parameters: a JSON object or a JSON file")
    ap.add_argument("--batch-size", type=int, default=8, help="images per batch (unit of computation and saving)")
    ap.add_argument("--timing", choices=["per_image", "per_batch"], default="per_image")
    ap.add_argument("--threads", type=int, help="torch threads per process (torchrun sets OMP_NUM_THREADS=1)")
    ap.add_argument("--device", default="auto",
                    help="auto (cuda:LOCAL_RANK if a GPU is present, else cpu), cpu, cuda, cuda:N")
    ap.add_argument("--out", help="write the merged rows here (.csv or .parquet)")
    ap.add_argument("--timeout-min", type=float, default=24 * 60, help="how long a finished rank waits for the others")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="do not print the summary tables")
    return ap


def _device(arg: str, local_rank: int) -> str:
    if arg == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if arg == "cuda":
        return f"cuda:{local_rank}"
    return arg


def _write(df, out: str) -> None:
    p = Path(out)
    frame = df.copy()
    frame.attrs = {}
    if p.suffix == ".parquet":
        atomic_write(p, lambda f: frame.to_parquet(f, index=False))
    else:
        atomic_write(p, lambda f: f.write(frame.to_csv(index=False).encode()))


def main(argv=None) -> int:
    """Run the benchmark from the command line (module docstring); returns the exit status."""
    a = _parser().parse_args(argv)
    rank, world, local = dist_env()
    device = _device(a.device, local)
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(backend, timeout=timedelta(minutes=a.timeout_min))
    cache_dir = a.cache_dir or DEFAULT_CACHE_DIR
    common = dict(cache_dir=cache_dir, batch_size=a.batch_size, device=device, threads=a.threads, timing=a.timing)
    failed, err = 0, ""
    try:
        images = parse_images(a.images, a.ground_truth, a.n_images, a.first_per_class)
        params = _params(a.params_json)
        df = run(a.models, a.methods, images, params, shard=(rank, world) if distributed else None,
                 reference=a.reference, progress=not a.no_progress, **common)
    except Exception as exc:  # noqa: BLE001 - every rank must reach the meeting point below
        if not distributed and not isinstance(exc, (LotsError, OSError)):
            raise
        if distributed and not isinstance(exc, LotsError):
            import traceback

            traceback.print_exc()
        failed, err = 1, f"{type(exc).__name__}: {exc}"
    if distributed:
        # the meeting point: every rank learns whether some shard failed (also the barrier)
        flag = torch.tensor([failed], device=device if device.startswith("cuda") else "cpu")
        dist.all_reduce(flag)
        n_failed = int(flag.item())
        if n_failed:
            if err:
                print(f"lotslib.benchmark rank {rank}: {err}", file=sys.stderr)
            elif rank == 0:
                print(f"lotslib.benchmark: {n_failed} shard(s) failed; nothing merged "
                      f"(the finished rows stay in {cache_dir}).",
                      file=sys.stderr)
            dist.destroy_process_group()
            return 1
        if rank != 0:
            dist.destroy_process_group()
            return 0
        try:  # rank 0: re-read the whole table from the shared cache; computes nothing
            df = run(a.models, a.methods, images, params, progress=False, reference=a.reference, **common)
        except LotsError as exc:
            print(f"lotslib.benchmark: merge failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            dist.destroy_process_group()
            return 1
        if df.attrs.get("computed"):
            warnings.warn(f"merge computed {len(df.attrs['computed'])} rows missing from the shards' cache",
                          stacklevel=1)
        dist.destroy_process_group()
    elif failed:
        print(f"lotslib.benchmark: {err}", file=sys.stderr)
        return 1
    if a.out:
        _write(df, a.out)
    if not a.quiet:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            t52 = format_table(table_5_2(df))
            if not t52.empty:
                print("Table 5.2 layout (mean [95% CI] (n)):\n" + t52.to_string())
            t53 = format_table(table_5_3(df))
            if not t53.empty:
                print("Table 5.3 layout, ms per map:\n" + t53.to_string())
    print(f"lotslib.benchmark: {len(df)} rows ({world} process{'es' if world > 1 else ''})"
          + (f", written to {a.out}" if a.out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
