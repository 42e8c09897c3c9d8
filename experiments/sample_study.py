"""Table 5.2 on a larger labelled sample, recorded in ``results/``.

Runs the benchmark (the seven methods of Table 5.2, all five metrics, Coherency's second
LOTS run included) on ``--n-images`` images of a labelled folder (default
``../shared/imagenet-sample``: 500 ImageNet *training* images, one per even class, with a
``labels.csv``; the network was trained on them, so accuracy on them is optimistic). The
images are taken at an even stride through the folder's class order, so the sample spans
the whole label space rather than its first classes (fish and birds).
LOTS runs ``--schedule plateau`` by default: the thesis protocol (Weber 2023, section 5.1:
alpha = 1/255, at most 500 iterations, tau = 0.1) with the plateau early stop (patience 50,
2 %), the one schedule in ``results/lots_equivalence.csv`` whose maps reach the Pearson bar
against the protocol's (median 0.97, 10th percentile 0.94, at 2.3x fewer passes), though
only Average Increase is shown equivalent by two one-sided tests against +-2-point margins
(approximated from the recorded summary by ``lotslib.studies.equivalence_from_summary``):
Coherency moves by +3.0 points (90 % interval 1.3 to 4.7), and the 90 % intervals of Average
Drop (-1.3), Insertion (+1.2) and Deletion (-1.6 points) reach past 2 points on 20 photos.
``--schedule protocol`` runs the plain protocol, about 2.3x the LOTS cost.

    python experiments/sample_study.py --n-images 100 --procs 2 --threads 1 --out results/sample_study.csv

After the benchmark (``--schedule protocol`` records the headline study,
``results/sample_study_protocol.csv``), three passes read what it stored instead of running
LOTS again:

* **both fills**: Average Drop and Average Increase scored again with ``fill='mean'``
  (:func:`lotslib.benchmark.rescore`, columns ``avg_drop[fill=mean]``,
  ``increase[fill=mean]``); both Insertion/Deletion ``score`` conventions are recorded by the
  benchmark itself (``insertion[score=max]``...). Coherency under the other fill would need
  a second LOTS run per image and is not recorded;
* **``--steps-check K``**: Insertion and Deletion of the first K images at the thesis's 224
  steps beside the study's ``--steps`` (``<out>_steps.csv``), a paired check that the coarser
  curve does not move the AUCs;
* **``--budgets``**: LOTS's budget curve (:func:`lotslib.studies.iteration_study`) from the
  snapshots the protocol's runs left in the LOTS store (``<out>_budget.csv``).

``--procs 2`` runs two ``torchrun`` processes (one thread each) that share the cache;
``--compare-parallel K`` first times the first K images both ways (one process with two
threads, two processes with one thread each, separate fresh caches), records both wall
times and runs the study with the faster layout. The rows (one per image and method,
tidy) go to ``--out``; a JSON sidecar (``.json``) holds the exact command, the image-list
hash and ids, the parameters, the package versions, the weights hash, the wall time and
the machine load. The images are never copied: the subset is a folder of symbolic links
in a temporary directory.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lotslib import data  # noqa: E402
from lotsbook import provenance  # noqa: E402
from lotsbook.paths import shown  # noqa: E402
from lotslib.method_registry import METHODS, get_method  # noqa: E402
from lotslib.models import load_model, weights_fingerprint  # noqa: E402

PROTOCOL = {"iters": 500, "alpha": 1 / 255, "tau": 0.1}
SCHEDULES = {"protocol": PROTOCOL, "plateau": {**PROTOCOL, "patience": 50, "min_delta": 0.02}}
DEFAULT_FOLDER = ROOT.parent / "shared" / "imagenet-sample"


def strided_subset(folder: Path, n: int, dest: Path) -> Path:
    """Link every ``len/n``-th image of ``folder`` (``labels.csv`` order) into ``dest``."""
    labels = pd.read_csv(folder / "labels.csv")
    if n > len(labels):
        raise SystemExit(f"--n-images {n}: {folder} has only {len(labels)} labelled images.")
    idx = [round(i * len(labels) / n) for i in range(n)]
    sub = labels.iloc[idx]
    dest.mkdir(parents=True, exist_ok=True)
    for f in sub["file"]:
        link = dest / f
        if not link.exists():
            link.symlink_to((folder / f).resolve())
    sub.to_csv(dest / "labels.csv", index=False)
    return dest


def benchmark_command(images: Path, model: str, methods, params: dict, cache: Path, out: Path, procs: int,
                      threads: int, batch_size: int) -> list[str]:
    """The ``lotslib.benchmark`` command line (under ``torchrun`` when ``procs > 1``)."""
    head = [sys.executable]
    if procs > 1:
        head += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)]
    return head + [
        "-m", "lotslib.benchmark", "--models", model, "--methods", *methods, "--images", f"folder:{images}",
        "--cache-dir", str(cache), "--params-json", json.dumps(params), "--batch-size", str(batch_size),
        "--threads", str(threads), "--out", str(out), "--no-progress", "--quiet",
    ]


def run_timed(cmd: list[str], threads: int) -> float:
    """Run ``cmd`` (from the repository root) and return its wall time in seconds."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TQDM_DISABLE="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(k, None)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return time.perf_counter() - t0


def after_passes(df: pd.DataFrame, src, cache: Path, out: Path, a) -> dict:
    """Both fills, the steps check and the budget curve, from what the benchmark stored (see
    the module docstring); rewrites ``out`` with the fill columns and returns their wall times."""
    from lotslib.benchmark import rescore
    from lotslib.studies import iteration_study

    torch_threads(a.procs * a.threads)
    df.attrs["cache_dir"] = str(cache)
    walls: dict = {}
    t0 = time.perf_counter()
    alt = rescore(df, src, ["avg_drop", "avg_increase"], {"fill": "mean"})
    df["avg_drop[fill=mean]"], df["increase[fill=mean]"] = alt["avg_drop"], alt["increase"]
    df.to_csv(out, index=False)
    walls["fill_mean_s"] = round(time.perf_counter() - t0, 1)
    if a.steps_check:
        t0 = time.perf_counter()
        first = df[df["image_id"].isin(src.ids[: a.steps_check])]
        fine = rescore(first, src, ["insertion", "deletion"], {"steps": 224})
        keep = ["method", "image_id", "insertion", "deletion"]
        pd.concat([first[keep].assign(steps=a.steps), fine[keep].assign(steps=224)]).to_csv(
            out.with_name(out.stem + "_steps.csv"), index=False)
        walls["steps_check_s"] = round(time.perf_counter() - t0, 1)
    if a.budgets:
        t0 = time.perf_counter()
        lots = {**SCHEDULES[a.schedule], "iters": a.iters}
        curve = iteration_study(load_model(a.model), src, iters=a.iters, checkpoints=a.budgets, tau=lots["tau"],
                                alpha=lots["alpha"], steps=a.steps, cache_dir=cache, batch_size=a.batch_size)
        curve.to_csv(out.with_name(out.stem + "_budget.csv"), index=False)
        walls["budget_curve_s"] = round(time.perf_counter() - t0, 1)
    return walls


def torch_threads(n: int) -> None:
    """The after-passes run in this process alone: use the cores the benchmark's processes had."""
    import torch

    torch.set_num_threads(max(1, n))


def load() -> str:
    """The 1-minute load average (the machine is shared; it qualifies the wall times)."""
    return f"{os.getloadavg()[0]:.2f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default=str(DEFAULT_FOLDER), help="labelled folder (labels.csv)")
    ap.add_argument("--n-images", type=int, default=100)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--schedule", choices=list(SCHEDULES), default="plateau", help="LOTS schedule (see above)")
    ap.add_argument("--iters", type=int, default=500, help="LOTS iteration cap (the protocol: 500)")
    ap.add_argument("--steps", type=int, default=56, help="insertion/deletion steps (thesis: 224)")
    ap.add_argument("--procs", type=int, default=2, help="benchmark processes (torchrun when > 1)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--compare-parallel", type=int, default=0, metavar="K",
                    help="first time K images with 1 process x 2 threads and 2 processes x 1 thread")
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "sample_study"))
    ap.add_argument("--out", default=str(ROOT / "results" / "sample_study.csv"))
    ap.add_argument("--steps-check", type=int, default=0, metavar="K",
                    help="Insertion/Deletion of the first K images again at 224 steps (<out>_steps.csv)")
    ap.add_argument("--finish-wall-s", type=float, metavar="S",
                    help="the benchmark already wrote --out (in S seconds): run only the passes after it")
    ap.add_argument("--budgets", type=int, nargs="*", default=[],
                    help="LOTS budgets of the budget curve read from the stored runs (<out>_budget.csv)")
    a = ap.parse_args(argv)
    folder = Path(a.images)
    if a.budgets and a.schedule != "protocol":
        raise SystemExit("--budgets reads the snapshots of the protocol's runs: pass --schedule protocol.")
    if not (folder / "labels.csv").is_file():
        raise SystemExit(f"{folder}: no labels.csv; pass --images with a labelled folder (file,class_index columns).")
    methods = [k for k in METHODS if "5.2" in get_method(k).tables]
    params = {"lots": {**SCHEDULES[a.schedule], "iters": a.iters}, "metrics": {"steps": a.steps}}
    cache = Path(a.cache_dir)
    tmp = Path(tempfile.mkdtemp(prefix="sample_study_"))
    meta: dict = {"command": "python experiments/sample_study.py " + shlex.join(argv or sys.argv[1:]),
                  "git": provenance.git_state(), "load_at_start": load()}
    if a.compare_parallel:
        k_dir = strided_subset(folder, a.n_images, tmp / "k")  # the same stride, first K of it
        sub = pd.read_csv(k_dir / "labels.csv").head(a.compare_parallel)
        k_only = tmp / "k_only"
        k_only.mkdir()
        for f in sub["file"]:
            (k_only / f).symlink_to((folder / f).resolve())
        sub.to_csv(k_only / "labels.csv", index=False)
        walls = {}
        for procs, threads in ((1, 2), (2, 1)):
            c = tmp / f"cache_{procs}x{threads}"
            walls[f"{procs}x{threads}"] = {
                "seconds": round(run_timed(benchmark_command(k_only, a.model, methods, params, c, tmp / "k.csv",
                                                             procs, threads, a.batch_size), threads), 1),
                "load_after": load()}
            print(f"{procs} process(es) x {threads} thread(s), {len(sub)} images: {walls[f'{procs}x{threads}']}")
        meta["parallel_comparison"] = {"n_images": len(sub), "wall": walls}
        best = min(walls, key=lambda w: walls[w]["seconds"])  # the main run uses the faster layout
        a.procs, a.threads = (int(v) for v in best.split("x"))
        meta["parallel_comparison"]["picked"] = best
    subset = strided_subset(folder, a.n_images, tmp / "subset")
    src = data.folder(subset)
    out = Path(a.out)
    t0 = time.perf_counter()
    if a.finish_wall_s is None:
        wall = run_timed(benchmark_command(subset, a.model, methods, params, cache, out, a.procs, a.threads,
                                           a.batch_size), a.threads)
    else:  # the benchmark finished earlier (its rows are in --out); only the passes after it run now
        if not out.is_file():
            raise SystemExit(f"--finish-wall-s: {out} holds no rows of a finished benchmark; run without it.")
        wall = a.finish_wall_s
        meta["finished_separately"] = ("the benchmark's rows were written by an earlier run of this command "
                                       "without --finish-wall-s, stopped after them; its wall time is given")
    df = pd.read_csv(out)
    meta.update({
        "n_images": len(src), "images": f"{folder.name}: every {len(pd.read_csv(folder / 'labels.csv')) / a.n_images:g}"
                                        f"-th image of labels.csv", "image_ids": src.ids,
        "image_list_hash": src.fingerprint(), "model": a.model, "weights": weights_fingerprint(load_model(a.model)),
        "methods": methods, "schedule": a.schedule, "params": params,
        "procs": a.procs, "threads": a.threads, "batch_size": a.batch_size,
        "wall_s": round(wall, 1), "total_s": round(time.perf_counter() - t0, 1), "load_at_end": load(),
        "rows": len(df), "packages": provenance.package_versions(), "hardware": provenance.hardware(),
    })
    meta["after"] = after_passes(df, src, cache, out, a)
    # no absolute path of this machine in the record (lotsbook.paths.shown)
    Path(out).with_suffix(".json").write_text(shown(json.dumps(meta, indent=1, default=str)) + "\n")
    print(f"{len(df)} rows, {len(src)} images, {wall / 60:.1f} min -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
