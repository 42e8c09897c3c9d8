"""Wall time of building the book, cold and warm, for the provenance page.

* **cold**: ``python -m lotsbook`` with an empty cache and no executed chapters -- every
  LOTS run, map and metric is computed, every chapter executed, the HTML built;
* **warm**: the same command again right after: chapters whose source, parameters and lotslib
  code are unchanged are not re-executed and the caches answer the rest (the provenance
  chapter always re-runs, and ``jupyter-book build`` always runs).

By default both builds go to a fresh book root outside the repository (``--root`` of
``lotsbook.build``: configuration and pages are copied there; chapters execute with that root as
their working directory, so its ``.cache/book`` starts empty) -- nothing in the checkout is
touched. ``--in-place`` builds at the default place instead (the book root ``_build/book``,
which holds the executed chapters and their cache, and the HTML in ``_build/html``), after
moving ``_build/`` aside into ``.cache/book_time_backup/<time>/`` (restore it from there, or
delete it).

The two times (and per-chapter timings, the machine's load before and after, and the commit)
are written to ``--out`` (default ``results/book_time.json`` for the embedded profile, which the
provenance page reads, and ``results/book_time_<profile>.json`` for another profile); the last
line printed is ``cold <s> s, warm <s> s``. The record also holds the LOTS forward+backward
passes of the cold build (from its LOTS store's ledger, :mod:`lotslib.lots_store`). The
machine may be shared: the 1/5/15-minute load averages before the cold build and after each
build are recorded, so a slow run under load can be told apart (re-measure when the load
before was well above 0), and so is the CPU time of each build (user + system seconds of the
build and every process it started and waited for: the chapters' kernels, ``jupyter-book``).
Other jobs stretch the wall time but hardly the CPU time. On a 2-core machine two chapter
kernels run at a time with one torch thread each (``lotsbook.build --jobs``, recorded as
``jobs``), so on an idle machine the wall time is about half the CPU time while both run,
and equal to it while one does; ``--book-args --jobs 1`` times the chapters one after another.

    python experiments/book_time.py                        # embedded profile (the default book)
    python experiments/book_time.py --profile classroom    # -> results/book_time_classroom.json
    python experiments/book_time.py --in-place
    python experiments/book_time.py --dry-run              # print what would run
    python experiments/book_time.py --book-args --tiny     # a smoke run of the whole procedure
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))  # this checkout's lotsbook, whose shown() knows this checkout

from lotsbook.paths import shown  # noqa: E402


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _timings(stdout: str) -> dict:
    """The ``timings (s): stem 12, build 30, total 40`` line of ``lotsbook.build``."""
    m = re.findall(r"timings \(s\): (.*)", stdout)
    if not m:
        return {}
    out = {}
    for part in m[-1].split(","):
        bits = part.strip().rsplit(" ", 1)
        if len(bits) == 2:
            try:
                out[bits[0]] = float(bits[1])
            except ValueError:
                pass
    return out


def _cpu_children() -> float:
    """User + system CPU seconds of the finished child processes (and the descendants they waited for)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _build(cmd: list[str], log: Path) -> tuple[float, float, dict]:
    t0, c0 = time.perf_counter(), _cpu_children()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt, cpu = time.perf_counter() - t0, _cpu_children() - c0
    log.write_text(f"$ {' '.join(cmd)}\n# exit {proc.returncode} after {dt:.1f} s\n\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-30:])
        raise SystemExit(f"book build failed (exit {proc.returncode}; full log {log}):\n{tail}")
    return dt, cpu, _timings(proc.stdout)


def _jobs(book_args) -> int:
    """The ``--jobs`` of the build: the one in ``book_args``, else lotsbook.build's default."""
    from lotsbook.build import default_jobs

    args = list(book_args)
    if "--jobs" in args and args.index("--jobs") + 1 < len(args):
        return int(args[args.index("--jobs") + 1])
    return default_jobs()


def _load() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (what ``uptime`` shows), rounded; None where unknown."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _passes(root: Path) -> dict:
    """The cold build's LOTS passes from its store's ledger (:func:`lotslib.lots_store.pass_counts`).

    ``computed`` were run; ``before_sharing`` adds the runs the chapters read from the
    benchmark's store entries, which they computed again before the store was shared.
    """
    from lotslib.lots_store import pass_counts

    c = pass_counts(root / ".cache" / "book" / "lots")
    return {**c, "before_sharing": c["computed"] + c["read_from_benchmark"]}


def _move_aside(paths: list[Path], backup: Path) -> list[str]:
    moved = []
    for p in paths:
        if p.exists():
            dst = backup / p.relative_to(ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(p), str(dst))
            moved.append(str(p.relative_to(ROOT)))
    return moved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="embedded", help="the book's profile (embedded, classroom, full)")
    ap.add_argument("--in-place", action="store_true",
                    help="build in the repository (its outputs and cache are moved aside first)")
    ap.add_argument("--workdir", help="out-of-tree book root (default: a fresh temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the out-of-tree book root")
    ap.add_argument("--out", help="the record (default results/book_time.json for the embedded profile, "
                                  "results/book_time_<profile>.json otherwise)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    ap.add_argument("--book-args", nargs=argparse.REMAINDER, default=[],
                    help="more arguments for python -m lotsbook (last)")
    a = ap.parse_args(argv)
    if a.out is None:
        a.out = str(ROOT / "results" / ("book_time.json" if a.profile == "embedded" else f"book_time_{a.profile}.json"))

    cmd = [sys.executable, "-m", "lotsbook", "--profile", a.profile]
    tmp = None
    if a.in_place:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = ROOT / ".cache" / "book_time_backup" / stamp
        aside = [ROOT / "_build"]  # the default book root _build/book (chapters, their cache) and the HTML
        where = f"in place ({ROOT}); moved aside first to {backup}: _build/"
    else:
        root = Path(a.workdir) if a.workdir else Path(tmp := tempfile.mkdtemp(prefix="lotsbook-time-"))
        if a.workdir and root.exists() and any(root.iterdir()):
            raise SystemExit(f"--workdir {root} is not empty; a cold build needs an empty book root.")
        cmd += ["--root", str(root)]
        where = f"out of tree in {root} (its .cache/book starts empty)"
    cmd += list(a.book_args)
    print(f"book root: {where}\ncold, then warm: {' '.join(cmd)}\nrecord: {a.out}")
    if a.dry_run:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    logs = Path(tempfile.mkdtemp(prefix="lotsbook-time-logs-"))
    try:
        moved = _move_aside(aside, backup) if a.in_place else []
        if moved:
            print(f"moved aside: {', '.join(moved)}")
        load_before = _load()
        print(f"load averages (1, 5, 15 min) before the cold build: {load_before}")
        cold, cold_cpu, cold_t = _build(cmd, logs / "cold.log")
        load_cold = _load()
        passes = _passes(ROOT / "_build" / "book" if a.in_place else root)
        print(f"LOTS forward+backward passes of the cold build: {passes}")
        print(f"cold build: {cold:.1f} s, {cold_cpu:.1f} CPU s (load after: {load_cold})")
        warm, warm_cpu, warm_t = _build(cmd, logs / "warm.log")
        load_warm = _load()
        print(f"warm build: {warm:.1f} s, {warm_cpu:.1f} CPU s (load after: {load_warm})")
    finally:
        if tmp and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    import torch

    record = {
        "profile": a.profile,
        "cold_s": round(cold, 1),
        "warm_s": round(warm, 1),
        "cold_cpu_s": round(cold_cpu, 1),
        "warm_cpu_s": round(warm_cpu, 1),
        "cold_timings_s": cold_t,
        "lots_passes_cold": passes,
        "warm_timings_s": warm_t,
        "command": " ".join(["python", "-m", "lotsbook", *cmd[3:]]),
        "book_root": ("in place" if a.in_place
                      else f"out of tree ({'fresh temporary' if tmp else 'empty --workdir'} root)"),
        "extra_args": list(a.book_args),
        "jobs": _jobs(a.book_args),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": _git_commit(),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_avg_1m_after": load_warm[0] if load_warm else None,
            "load_avg_before_cold": load_before,
            "load_avg_after_cold": load_cold,
            "load_avg_after_warm": load_warm,
        },
        "logs": logs.name,  # a folder in the system's temporary directory
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # no absolute path of this machine in the record (the provenance page shows the command):
    # the book root, a --workdir or any path in --book-args become <scratch>/NAME or relative
    tmp_out.write_text(shown(json.dumps(record, indent=1)) + "\n")
    os.replace(tmp_out, out)
    print(f"wrote {out} (logs in {logs})")
    print(f"cold {cold:.1f} s, warm {warm:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
