"""Build the book: every chapter source in ``notebooks/`` (jupytext py:percent) is
converted, executed with papermill into ``book/`` with the chapter parameters, then
``jupyter-book build .`` renders the HTML (``_build/html``).

Command line (``make book`` runs the first form)::

    python -m lotsbook                       # embedded profile, all chapters, then build
    python -m lotsbook --profile full --images /data/ILSVRC2012/val --ground-truth gt.txt
    python -m lotsbook --tiny                # 2 images, 5 LOTS iterations: a smoke run
    python -m lotsbook --chapters 2 6 --no-build
    python -m lotsbook --images ../shared/imagenet-sample --n-images 50   # ImageNet training images
    python -m lotsbook --hide-solutions      # the exercises without their solutions (for a class)
    python -m lotsbook --profile classroom      # every chapter on 3 photos, small settings
    python -m lotsbook --chapters own --image photo.jpg [--model KEY]   # "Try your own image"
    python -m lotsbook --pdf                 # build, then the PDF edition _build/pdf/lots-book.pdf
    python -m lotsbook --pdf-only            # the PDF edition of the HTML already built (lotsbook.pdf)

Chapters are executed by ``--jobs`` kernels at a time (default: 2 on a machine with two or
more cores, each kernel with one torch thread, so that no number depends on ``--jobs``), the costliest first, and a
chapter that reads another's results waits for it (:data:`AFTER`); ``--jobs 1`` runs them
one after another in book order. A chapter that fails stops the run with the notebook
and the failing cell named; its partially executed notebook stays in ``book/`` for
inspection, chapters already running finish, and the chapters executed before it keep
their outputs. A chapter whose
source, parameters and lotslib code are unchanged since its last successful execution
is not executed again (``--force`` overrides), and the expensive results (LOTS runs,
benchmark rows) are cached under ``cache_dir``, so a warm rebuild takes about a minute.

Every chapter receives one ``params`` dict (the :class:`lotsbook.profiles.BookProfile` of
:func:`lotsbook.profiles.resolve_profile`: the profile, then ``--tiny``, then the command
line's overrides, as a JSON dict) in its cell tagged ``parameters``; inside the chapter,
:func:`lotsbook.chapter.open_chapter` turns it back into the profile and the chapter's context.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lotslib.errors import LotsError, ParameterError
from lotslib.params import FILLS, SCORES
from .profiles import PROFILES, BookProfile, resolve_profile

from .paths import DEFAULT_BOOK_ROOT, NOTEBOOKS, RESULTS, ROOT, SOURCES

BOOK_DIR = "book"  # inside a book root: the executed notebooks and the book's markdown pages
MATHJAX = SOURCES / "_static" / "mathjax" / "tex-mml-chtml.js"  # fetched once (scripts/fetch_mathjax.sh)


@dataclass(frozen=True)
class Chapter:
    number: str  # thesis numbering ("1".."7"), "own" for the own-image page, "F" findings, "P" provenance
    stem: str  # notebooks/<stem>.py -> book/<stem>.ipynb
    title: str


CHAPTERS = (
    Chapter("1", "01_attack", "LOTS on real photos"),
    Chapter("2", "02_visualization", "From perturbation to activation map"),
    Chapter("3", "03_targets", "Choice of the LOTS target"),
    Chapter("4", "04_benchmark", "LOTS against six CAM methods"),
    Chapter("5", "05_qualitative", "Qualitative comparison"),
    Chapter("6", "06_unseen", "Objects without an ImageNet class"),
    Chapter("7", "07_parameters", "Parameter study"),
    Chapter("8", "08_sanity", "Sanity checks"),
    Chapter("own", "own", "Try your own image"),  # --image/--model apply to it alone
    Chapter("F", "findings", "What became of the thesis's claims"),
    Chapter("P", "provenance", "Provenance"),
)
OWN = "own"  # the stem of the "Try your own image" page

#: chapters that read what other chapters computed start after them when chapters run in
#: parallel: chapter 4 reads chapter 3's benchmark rows (its zero-target LOTS rows) instead of
#: computing them again (the chapters that show LOTS runs read chapter 3's protocol runs from
#: the store), the findings page reads both chapters' rows, and the provenance page lists every
#: chapter's run ("*": all others)
AFTER = {"04_benchmark": ("03_targets",), "01_attack": ("03_targets",), "02_visualization": ("03_targets",),
         "05_qualitative": ("03_targets",), "07_parameters": ("04_benchmark",),
         "findings": ("03_targets", "04_benchmark"), "provenance": "*"}

#: chapters that run alone, with every core, when chapters run in parallel: chapter 3 pays the
#: thesis protocol (19 x (500 + 500) LOTS passes in the embedded profile) that chapters 1, 2, 4,
#: 5 and the findings wait for. Its benchmark runs as one-thread processes, one per core
#: (:meth:`lotsbook.chapter.ChapterContext.benchmark` with ``all_cores=True``): one thread spends
#: about 30% less CPU time per LOTS pass than two (results/book_time.json), and one thread per
#: process keeps every number independent of the thread count.
ALONE = frozenset({"03_targets"})


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; the message names the notebook and the cell."""


# ============================================================== the pipeline

def select_chapters(names) -> list[Chapter]:
    """Chapters by number or stem, in book order.

    Parameters
    ----------
    names : list of str or None
        E.g. ``["1", "02_visualization", "provenance"]``; empty or None: every chapter.

    Returns
    -------
    list of Chapter
        The chapters, in book order.

    Raises
    ------
    lotslib.errors.ParameterError
        On an unknown chapter.
    """
    if not names:
        return list(CHAPTERS)
    wanted = set()
    for n in names:
        hits = [c for c in CHAPTERS if n in (c.number, c.stem, c.stem.split("_", 1)[-1]) or c.number == n.lstrip("0")]
        if not hits:
            raise ParameterError(f"Unknown chapter {n!r}; choose from {[c.number for c in CHAPTERS]} "
                             f"or {[c.stem for c in CHAPTERS]}.")
        wanted.update(hits)
    return [c for c in CHAPTERS if c in wanted]


def code_fingerprint() -> str:
    """Hash of the lotslib and lotsbook sources (every module, subpackages included).

    Returns
    -------
    str
        The first 16 hex digits of the hash: a chapter is re-executed when the library or
        the book's package changes.
    """
    import lotslib

    h = hashlib.sha256()
    for pkg in (Path(lotslib.__file__).parent, Path(__file__).parent):
        for p in sorted(pkg.rglob("*.py")):
            h.update(f"{pkg.name}/{p.relative_to(pkg).as_posix()}".encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _execution_key(src: Path, params: dict) -> str:
    h = hashlib.sha256(src.read_bytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(code_fingerprint().encode())
    return h.hexdigest()[:20]


def _stored_key(nb_path: Path) -> str | None:
    try:
        meta = json.loads(nb_path.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return None
    info = meta.get("lotsbook", {})
    return info.get("key") if info.get("status") == "ok" else None


def convert(src: Path):
    """Convert a chapter's source to a notebook.

    Parameters
    ----------
    src : pathlib.Path
        ``notebooks/<stem>.py`` (jupytext py:percent).

    Returns
    -------
    dict
        An nbformat notebook (``NotebookNode``) with a python3 kernel.
    """
    import jupytext

    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)
    return nb


def _tidy(nb_path: Path, key: str, status: str, params: dict, seconds: float) -> None:
    """Remove the parameter cells from the page (each chapter prints its parameters as a
    table), fold the code of the other cells (``hide-input``; a cell tagged ``show-input``
    keeps its code open) and record the execution key, so an unchanged chapter is not
    executed again."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        elif not {"remove-cell", "remove-input", "hide-input", "show-input"} & set(tags):
            tags.append("hide-input")  # the page shows results; the code is one click away
    nb.metadata["lotsbook"] = {
        "key": key,
        "status": status,
        "seconds": round(seconds, 1),
        "profile": params.get("profile"),
        "executed": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    nbformat.write(nb, nb_path)


def execute_chapter(ch: Chapter, params: dict, root: Path, force: bool = False, log=print) -> str:
    """Execute one chapter into ``root/book/<stem>.ipynb``.

    Parameters
    ----------
    ch : Chapter
        The chapter.
    params : dict
        The chapter's parameters (:func:`lotsbook.profiles.resolve_profile`).
    root : pathlib.Path
        The book root.
    force : bool, optional
        Re-execute even when up to date (default False).
    log : Callable, optional
        Progress messages (default ``print``).

    Returns
    -------
    str
        ``"executed"`` or ``"up to date"``.

    Raises
    ------
    lotsbook.build.ChapterFailed
        Naming the notebook and the cell, if the chapter fails (or its source or its
        parameters cell is missing).
    """
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src = NOTEBOOKS / f"{ch.stem}.py"
    if not src.is_file():
        raise ChapterFailed(f"Chapter {ch.number}: source {src} is missing.")
    out = root / BOOK_DIR / f"{ch.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = src.relative_to(ROOT) if src.is_relative_to(ROOT) else src
    key = _execution_key(src, params)
    if not force and ch.stem != "provenance" and out.is_file() and _stored_key(out) == key:
        log(f"[{ch.number}] {ch.stem}: up to date (source, parameters and lotslib unchanged)")
        return "up to date"
    nb = convert(src)
    os.environ["LOTSBOOK"] = "1"  # lotsbook.plots.show glues figures with captions for the book
    with tempfile.TemporaryDirectory(prefix="lotsbook-") as tmp:
        inp = Path(tmp) / f"{ch.stem}.ipynb"
        nbformat.write(nb, inp)
        if "params" not in pm.inspect_notebook(str(inp)):
            raise ChapterFailed(f"Chapter {ch.number} ({shown}) has no `params = {{}}` cell tagged 'parameters'.")
        t0 = time.perf_counter()
        log(f"[{ch.number}] {ch.stem}: executing ({params.get('profile')} profile) ...")
        try:
            pm.execute_notebook(
                str(inp),
                str(out),
                parameters={"params": params},
                kernel_name="python3",
                cwd=str(root),
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=True,
            )
        except PapermillExecutionError as exc:
            _tidy(out, key, "failed", params, time.perf_counter() - t0)
            cell_no = _source_cell_number(nb, exc.cell_index)
            first_line = (exc.source or "").strip().splitlines()[:1]
            raise ChapterFailed(
                f"Chapter {ch.number} ({shown}) failed in code cell {cell_no} "
                f"(execution count {exc.exec_count}; starts with {first_line[0] if first_line else ''!r}): "
                f"{exc.ename}: {exc.evalue}\n"
                f"The partially executed notebook is kept at {out}; chapters executed before it are untouched. "
                f"Rerun just this chapter with: python -m lotsbook --chapters {ch.number} --no-build"
            ) from None
        except Exception as exc:  # kernel died, timeout, ...
            if out.is_file():
                _tidy(out, key, "failed", params, time.perf_counter() - t0)
            raise ChapterFailed(
                f"Chapter {ch.number} ({shown}) could not be executed: {type(exc).__name__}: {exc}. "
                f"Partial output (if any) is at {out}."
            ) from exc
        dt = time.perf_counter() - t0
    empty = silent_cells(out)
    if empty:
        _tidy(out, key, "failed", params, dt)
        raise ChapterFailed(
            f"Chapter {ch.number} ({shown}): code cell(s) {empty} call a table or figure helper but show nothing "
            f"(e.g. a table built inside an `if` with no `else`). Fix: make every branch show something "
            f"(lotsbook.plots.note for a sentence). The notebook is kept at {out}."
        )
    _tidy(out, key, "ok", params, dt)
    log(f"[{ch.number}] {ch.stem}: done in {dt:.0f} s")
    return "executed"


def default_jobs() -> int:
    """Chapters executed at a time by default: 2 where there are two or more cores, else 1.

    Returns
    -------
    int
        ``min(2, cores)``. Two chapter kernels with one torch thread each keep both cores of
        a 2-core machine busy without the thread oversubscription that slows LOTS down many
        times over (two processes with two threads each on two cores).
    """
    return max(1, min(2, os.cpu_count() or 1))


def recorded_costs(profile: str) -> dict:
    """The chapters' cold execution times of the last recorded build of ``profile``.

    Parameters
    ----------
    profile : str
        The profile.

    Returns
    -------
    dict
        ``{stem: seconds}`` from ``results/book_time.json`` (embedded) or
        ``results/book_time_<profile>.json``, falling back to the embedded record; empty when
        none is readable. :func:`execute_chapters` starts the costliest chapters first.
    """
    names = ["book_time.json"] if profile == "embedded" else [f"book_time_{profile}.json", "book_time.json"]
    for name in names:
        try:
            rec = json.loads((RESULTS / name).read_text())
            return {k: float(v) for k, v in rec["cold_timings_s"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return {}


def _waits(stems) -> dict:
    """``{stem: set of the stems among ``stems`` it waits for}`` (:data:`AFTER`)."""
    return {s: {d for d in stems if d != s and (AFTER.get(s) == "*" or d in AFTER.get(s, ()))} for s in stems}


def start_order(chosen, costs: dict | None = None) -> list:
    """The order in which parallel workers start the chapters: longest path first.

    Parameters
    ----------
    chosen : list of Chapter
        The chapters to execute.
    costs : dict or None, optional
        ``{stem: seconds}`` (:func:`recorded_costs`); a chapter without a cost counts 1 s.

    Returns
    -------
    list of Chapter
        ``chosen`` sorted by the time from a chapter's start to the end of the chapters
        that wait for it (:data:`AFTER`), longest first, ties in book order: a chapter that
        others wait for starts early enough that they need not wait long.
    """
    costs = costs or {}
    stems = [c.stem for c in chosen]
    waits_for = _waits(stems)
    memo: dict = {}

    def path(s):  # this chapter's cost plus the longest path of the chapters waiting for it
        if s not in memo:
            memo[s] = max(1.0, costs.get(s, 1.0)) + max([path(t) for t in stems if s in waits_for[t]], default=0.0)
        return memo[s]

    return sorted(chosen, key=lambda c: (-path(c.stem), stems.index(c.stem)))


def execute_chapters(chosen, params_of, root: Path, jobs: int | None = None, force: bool = False, log=print,
                     costs: dict | None = None) -> dict:
    """Execute ``chosen`` with up to ``jobs`` chapter kernels at a time.

    Parameters
    ----------
    chosen : list of Chapter
        The chapters, in book order.
    params_of : Callable
        ``Chapter -> params`` of :func:`execute_chapter`.
    root : pathlib.Path
        The book root.
    jobs : int or None, optional
        Kernels at a time (default None: :func:`default_jobs`). With 1, the chapters run in
        book order. With more, they start in :func:`start_order`, a chapter of
        :data:`AFTER` once those it waits for are done, a chapter of :data:`ALONE` with
        nothing beside it. Every kernel gets one torch thread unless ``$LOTS_THREADS`` says
        otherwise (a chapter of :data:`ALONE` uses the other cores with worker processes).
    force : bool, optional
        Re-execute up-to-date chapters (default False).
    log : Callable, optional
        Progress messages (default ``print``).
    costs : dict or None, optional
        Expected seconds per chapter, for :func:`start_order` (default None).

    Returns
    -------
    dict
        ``{stem: seconds}``: each chapter's wall time.

    Raises
    ------
    lotsbook.build.ChapterFailed
        The first chapter that failed, after the chapters running beside it have finished
        (their results are kept); no further chapter is started.
    """
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ParameterError(f"--jobs {jobs}: give 1 or more chapters at a time.")
    times: dict = {}
    os.environ["LOTSBOOK_JOBS"] = str(jobs)  # the kernels inherit it: chapter 4's timing captions say so
    # one torch thread per kernel whatever --jobs says, so that no number depends on it (a LOTS walk's
    # float rounding depends on the thread count; lotslib.lots_store); a user's $LOTS_THREADS is kept
    os.environ.setdefault("LOTS_THREADS", "1")

    def one(ch):
        t0 = time.perf_counter()
        execute_chapter(ch, params_of(ch), root, force=force, log=log)
        return time.perf_counter() - t0

    if jobs == 1 or len(chosen) == 1:
        for ch in chosen:
            times[ch.stem] = one(ch)
        return times
    pending = start_order(chosen, costs)
    waits = _waits([c.stem for c in chosen])
    done: set = set()
    running: dict = {}
    failed = None
    with cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="chapter") as pool:
        while running or (pending and failed is None):
            for ch in list(pending):
                if failed is not None or len(running) >= jobs or any(r.stem in ALONE for r in running.values()):
                    break
                if ch.stem in ALONE and running:
                    break  # it starts when the running chapters are done, before any chapter after it
                if waits[ch.stem] <= done:
                    pending.remove(ch)
                    running[pool.submit(one, ch)] = ch
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                ch = running.pop(fut)
                try:
                    times[ch.stem] = fut.result()
                    done.add(ch.stem)
                except Exception as exc:  # noqa: BLE001 -- re-raised once the running chapters are done
                    failed = failed or exc
    if failed is not None:
        raise failed
    return times


#: calls that put something on the page; a code cell making one of them must show an output
SHOWS = ("plots.table(", "plots.summary_table(", "plots.rank_table(", "plots.show(", "plots.note(", "page.show_",
         "display(")


def silent_cells(nb_path: Path) -> list[int]:
    """The code cells of an executed notebook that show nothing but should.

    Parameters
    ----------
    nb_path : pathlib.Path
        The executed notebook.

    Returns
    -------
    list of int
        The code cells (1-based, among code cells) that call a helper of :data:`SHOWS` but
        have no output at all: a table or figure that should be on the page and is not.
    """
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    # numbered as in the source: papermill's injected cell is not one of its cells
    code = [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    out = []
    for i, c in enumerate(code, 1):
        if "parameters" in c.metadata.get("tags", []):
            continue
        if any(k in c.source for k in SHOWS) and not c.get("outputs"):
            out.append(i)
    return out


def _source_cell_number(nb, exec_cell_index: int) -> str:
    """papermill's cell index counts its injected-parameters cell; report the index of the
    code cell in the source notebook (1-based, code cells only)."""
    try:
        idx = int(exec_cell_index)
    except (TypeError, ValueError):
        return "?"
    # the executed notebook has one injected cell right after the parameters cell
    param_pos = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
    if param_pos is not None and idx > param_pos:
        idx -= 1
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    return str(code.index(idx) + 1) if idx in code else str(idx)


def ensure_mathjax(root: Path) -> None:
    """MathJax is served from the book's _static folder (no CDN); fetch it from the npm registry once.

    Parameters
    ----------
    root : pathlib.Path
        The book root; MathJax is copied into its ``book/_static``.

    Returns
    -------
    None
    """
    if not MATHJAX.is_file():
        subprocess.run(["bash", str(ROOT / "scripts" / "fetch_mathjax.sh")], check=True)
    dst = root / BOOK_DIR / "_static" / "mathjax"
    if not dst.exists():
        shutil.copytree(MATHJAX.parent, dst)


def check_root(root: Path) -> Path:
    """A book root is generated output: never the repository or its sources.

    Parameters
    ----------
    root : pathlib.Path
        The folder to assemble the book in.

    Returns
    -------
    pathlib.Path
        ``root``, resolved.

    Raises
    ------
    lotsbook.build.ChapterFailed
        If ``root`` is the repository, or the sources folder ``book/`` or inside it.
    """
    root = Path(root).resolve()
    if root == ROOT or root.is_relative_to(SOURCES):
        raise ChapterFailed(f"--root {root}: the book is assembled in a folder of its own, never in the repository "
                            f"or its sources. Fix: leave --root out (default _build/book) "
                            f"or give an empty folder.")
    return root


def assemble(root: Path) -> None:
    """Lay out a book root: the sources of :data:`lotsbook.paths.SOURCES` copied in.

    Parameters
    ----------
    root : pathlib.Path
        The book root (:func:`check_root`).

    Returns
    -------
    None

    Notes
    -----
    Copies the configuration (``_config.yml``, ``_toc.yml``) to the root, and the markdown
    pages, the bibliography and the static files, extensions and templates to ``book/``; the
    chapters are executed into ``book/`` afterwards. Nothing is written into the sources.
    """
    root = check_root(root)
    (root / BOOK_DIR).mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(SOURCES / name, root / name)
    for p in SOURCES.iterdir():
        if p.is_file() and p.suffix in (".md", ".bib"):
            shutil.copy2(p, root / BOOK_DIR / p.name)
    for sub in ("_static", "_ext", "_templates"):  # CSS and MathJax; the API reference's extension and templates
        src = SOURCES / sub
        if src.is_dir():
            shutil.copytree(src, root / BOOK_DIR / sub, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))


def repository_url(repository: str | None = None) -> str:
    """The repository the book's buttons point at.

    Parameters
    ----------
    repository : str or None, optional
        The repository URL (default None: ``$LOTSBOOK_REPOSITORY``).

    Returns
    -------
    str
        ``repository``, else ``$LOTSBOOK_REPOSITORY``, else none (``""``: no repository,
        issues, Binder or Colab button is rendered).
    """
    return (repository if repository is not None else os.environ.get("LOTSBOOK_REPOSITORY", "")).strip()


def book_config(root: Path, repository: str | None = None, hide_solutions: bool = False) -> Path:
    """The configuration file to build ``root`` with.

    Parameters
    ----------
    root : pathlib.Path
        The book root.
    repository : str or None, optional
        The repository's https:// URL (default None: :func:`repository_url`).
    hide_solutions : bool, optional
        Leave the exercises' solutions out of the pages (``--hide-solutions``, for a class
        that should not see them; default False: each solution is a closed dropdown under its
        exercise). Sets sphinx-exercise's ``hide_solutions``; the solutions' code still runs
        when the chapters are executed, and the executed notebooks keep it.

    Returns
    -------
    pathlib.Path
        Its ``_config.yml`` when no repository is set and the solutions are shown; otherwise a
        copy under ``_build/`` that sets ``repository.url`` and turns on the repository,
        issues, Binder and Colab buttons, and/or sets ``sphinx.config.hide_solutions``.

    Raises
    ------
    lotsbook.build.ChapterFailed
        If ``repository`` is not an https:// URL.

    Notes
    -----
    The launch buttons open ``book/<chapter>.ipynb`` in that repository: publish the executed
    notebooks of the book root's ``book/`` there, as the README says.
    """
    import yaml

    root = Path(root)
    url = repository_url(repository)
    base = root / "_config.yml"
    if not url and not hide_solutions:
        return base
    if url and not url.startswith(("https://", "http://")):
        raise ChapterFailed(f"--repository {url!r}: give the repository's https:// URL "
                            f"(e.g. https://github.com/you/lots-book).")
    cfg = yaml.safe_load(base.read_text())
    if url:
        cfg.setdefault("repository", {})["url"] = url
        cfg.setdefault("launch_buttons", {}).update(binderhub_url="https://mybinder.org",
                                                    colab_url="https://colab.research.google.com")
        cfg.setdefault("html", {}).update(use_repository_button=True, use_issues_button=True)
    sphinx = cfg.setdefault("sphinx", {})
    if hide_solutions:
        sphinx.setdefault("config", {})["hide_solutions"] = True
    # jupyter-book resolves local extension folders against the config file's folder
    local = sphinx.get("local_extensions") or {}
    if local:
        sphinx["local_extensions"] = {k: str((root / v).resolve()) for k, v in local.items()}
    out = root / "_build" / "_config.generated.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return out


def jupyter_book_build(root: Path, strict: bool = True, log=print, repository: str | None = None,
                       hide_solutions: bool = False, output: Path | None = None) -> Path:
    """``jupyter-book build <root>`` (``-W``: warnings are errors).

    Parameters
    ----------
    root : pathlib.Path
        The book root.
    output : pathlib.Path or None, optional
        The HTML goes to ``<output>/_build/html`` (default None: ``root``).
    strict : bool, optional
        Turn warnings into errors (default True).
    log : Callable, optional
        Progress messages (default ``print``).
    repository : str or None, optional
        See :func:`book_config` (default None).
    hide_solutions : bool, optional
        Leave the exercises' solutions out (:func:`book_config`; default False).

    Returns
    -------
    pathlib.Path
        The HTML folder.

    Raises
    ------
    lotsbook.build.ChapterFailed
        If ``jupyter-book build`` fails.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter_book.cli.main"]
    cmd += ["build", str(root), "--builder", "html"]
    if output is not None:
        cmd += ["--path-output", str(output)]
    config = book_config(root, repository, hide_solutions)
    if config.name != "_config.yml":
        cmd += ["--config", str(config)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    log("$ " + " ".join(cmd))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-60:])
        raise ChapterFailed(f"jupyter-book build failed (exit {proc.returncode}):\n{tail}")
    html = Path(output if output is not None else root) / "_build" / "html"
    log(f"book built in {time.perf_counter() - t0:.0f} s: {html / 'index.html'}")
    return html


def write_book_pdf(html: Path, root: Path, log=print) -> float:
    """Print the built HTML into the PDF edition (:func:`lotsbook.pdf.write_pdf`).

    Parameters
    ----------
    html : pathlib.Path
        The built ``_build/html``; the PDF goes to ``_build/pdf/lots-book.pdf`` beside it.
    root : pathlib.Path
        The book root, whose ``_toc.yml`` gives the pages and their order.
    log : Callable, optional
        Progress messages (default ``print``).

    Returns
    -------
    float
        The seconds it took.

    Raises
    ------
    lotsbook.build.ChapterFailed
        If chromium, a built page or an image is missing, or the printing fails.
    """
    from . import pdf

    toc = Path(root) / "_toc.yml"
    try:
        return pdf.write_pdf(html, toc=toc if toc.is_file() else None, log=log).seconds
    except Exception as exc:  # chromium missing, a page not built, the browser failed
        raise ChapterFailed(f"The PDF edition could not be written: {type(exc).__name__}: {exc}") from exc


def build(
    profile: str = "embedded",
    tiny: bool = False,
    chapters=None,
    root: Path | str | None = None,
    build_html: bool = True,
    force: bool = False,
    strict: bool = True,
    log=print,
    repository: str | None = None,
    hide_solutions: bool = False,
    own_image=None,
    own_model: str | None = None,
    jobs: int | None = None,
    pdf: bool = False,
    **overrides,
) -> dict:
    """Execute the chapters, then build the book.

    Parameters
    ----------
    profile : str, optional
        A profile of :data:`lotsbook.profiles.PROFILES` (default ``"embedded"``).
    tiny : bool, optional
        Apply the ``--tiny`` smoke-run settings (default False).
    chapters : list of str or None, optional
        Chapters to execute (see :func:`select_chapters`; default None: all).
    root : pathlib.Path or str or None, optional
        The book root: the sources are copied into it and the chapters executed into its
        ``book/`` (:func:`assemble`); the HTML goes to its ``_build/html``. Default None:
        :data:`lotsbook.paths.DEFAULT_BOOK_ROOT` (``_build/book``), with the HTML in the
        repository's ``_build/html``.
    build_html : bool, optional
        Run ``jupyter-book build`` after the chapters (default True).
    force : bool, optional
        Re-execute chapters that are up to date (default False).
    strict : bool, optional
        Turn build warnings into errors (default True).
    log : Callable, optional
        Progress messages (default ``print``).
    repository : str or None, optional
        The URL the book's repository and launch buttons point at (default None:
        ``$LOTSBOOK_REPOSITORY``; none: no such button, :func:`book_config`).
    hide_solutions : bool, optional
        Leave the exercises' solutions out of the pages (default False: closed dropdowns;
        :func:`book_config`).
    own_image : str or pathlib.Path or None, optional
        The image of the "Try your own image" page (``--image``; default None: its default
        photo); checked before any chapter runs (:func:`lotsbook.single_image.page_params`).
    own_model : str or None, optional
        That page's model (``--model``; default None: the profile's ``model``).
    jobs : int or None, optional
        Chapters executed at a time (:func:`execute_chapters`; default None:
        :func:`default_jobs`).
    pdf : bool, optional
        After the HTML, print it into the PDF edition ``_build/pdf/lots-book.pdf`` beside
        ``_build/html`` (:func:`write_book_pdf`; default False). Ignored without ``build_html``.
    **overrides
        Chapter parameters, see :func:`lotsbook.profiles.resolve_profile`.

    Returns
    -------
    dict
        Timings in seconds: ``{stem: seconds, "build": s, "pdf": s, "total": s}`` (a chapter's
        time is its own wall time; with ``jobs`` > 1 they overlap; ``"pdf"`` only with ``pdf``).

    Raises
    ------
    lotsbook.build.ChapterFailed
        If a chapter fails, or the book is built while a chapter was never executed.
    lotslib.errors.LotsError
        A bad ``own_image`` (missing, a folder, not an image) or ``own_model``, before any
        chapter runs.
    lotslib.errors.ParameterError
        On an unknown profile, chapter or chapter parameter, a bad value, or
        ``own_image``/``own_model`` without the own-image page among ``chapters``.
    """
    from .single_image import page_params

    output = ROOT if root is None else None
    root = check_root(DEFAULT_BOOK_ROOT if root is None else root)
    params = resolve_profile(profile, tiny, **overrides)
    chosen = select_chapters(chapters)
    if (own_image is not None or own_model is not None) and OWN not in [c.stem for c in chosen]:
        raise ParameterError(f"--image/--model apply to the {OWN!r} page only. Fix: add it: --chapters {OWN}.")
    # checked before anything runs; papermill passes each chapter its parameters as a JSON dict
    own_params = BookProfile.from_dict(page_params(params.as_dict(), own_image, own_model)).as_dict()
    chapter_params = params.as_dict()
    assemble(root)
    ensure_mathjax(root)
    t_all = time.perf_counter()
    times = execute_chapters(chosen, lambda ch: own_params if ch.stem == OWN else chapter_params, root, jobs=jobs,
                             force=force, log=log, costs=recorded_costs(profile))
    if build_html:
        missing = [c.stem for c in CHAPTERS if not (root / BOOK_DIR / f"{c.stem}.ipynb").is_file()]
        if missing:
            raise ChapterFailed(
                f"Cannot build the book: chapters {missing} were never executed into {root / BOOK_DIR}. "
                f"Run python -m lotsbook without --chapters first."
            )
        t0 = time.perf_counter()
        html = jupyter_book_build(root, strict=strict, log=log, repository=repository,
                                  hide_solutions=hide_solutions, output=output)
        times["build"] = time.perf_counter() - t0
        if pdf:
            times["pdf"] = write_book_pdf(html, root, log)
    times["total"] = time.perf_counter() - t_all
    return times


def main(argv=None) -> int:
    """Command line entry point: ``python -m lotsbook``.

    Parameters
    ----------
    argv : list of str or None, optional
        The arguments (default None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 if a chapter or the build failed, 2 on a bad
        parameter (the message names it and the fix).
    """
    ap = argparse.ArgumentParser(prog="python -m lotsbook", description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=list(PROFILES), default="embedded",
                    help="embedded: offline EfficientNet-Lite + shipped photos (default); full: the thesis protocol")
    ap.add_argument("--tiny", action="store_true", help="2 images, 5 LOTS iterations, 8 insertion steps (smoke run)")
    ap.add_argument("--chapters", nargs="+", metavar="N",
                    help="chapters to execute (1..8, own, F, P or stems); default all")
    ap.add_argument("--image", help="your photo for the 'Try your own image' page (with --chapters own); "
                                    "default: an embedded photo")
    ap.add_argument("--model", dest="own_model", metavar="KEY",
                    help="the model of the 'Try your own image' page (default: the profile's model)")
    ap.add_argument("--no-build", action="store_true", help="execute the chapters only, skip jupyter-book build")
    ap.add_argument("--jobs", type=int, help="chapters executed at a time (default: 2 on two or more cores; "
                                             "1: one after another, e.g. for undisturbed timings)")
    ap.add_argument("--force", action="store_true", help="re-execute chapters even when they are up to date")
    ap.add_argument("--root", help="book root to assemble and execute the chapters in, with the HTML in its "
                                   "_build/html (default: _build/book, with the HTML in _build/html)")
    ap.add_argument("--images", dest="image_path",
                    help="image folder: a folder with labels.csv, or an ILSVRC2012 val folder")
    ap.add_argument("--image-source", choices=["embedded", "folder", "imagenet_val"])
    ap.add_argument("--ground-truth", help="ground-truth file of a flat ILSVRC2012 val folder")
    ap.add_argument("--reference", help="reference set of the LOTS class/mean targets (chapter 3): a folder with "
                                        "labels.csv or wnid subfolders; default: every image of --images")
    ap.add_argument("--models", nargs="+", help="backbones for chapters 4-5 (first one also drives chapters 1-3, 6)")
    ap.add_argument("--n-images", type=int)
    ap.add_argument("--iters", type=int, help="LOTS iterations of Tables 5.1 and 5.2 (thesis and default: 500)")
    ap.add_argument("--figure-iters", type=int, help="the shorter walk the figures and studies show, read as a "
                                                     "snapshot of the protocol's run (default 40)")
    ap.add_argument("--tau", type=float)
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--filter-size", type=int)
    ap.add_argument("--steps", type=int, help="insertion/deletion steps (thesis: 224)")
    ap.add_argument("--fill", choices=FILLS,
                    help="masked pixels of x * map: black (thesis) or the mean colour")
    ap.add_argument("--score", choices=SCORES, help="insertion/deletion track the original top-1 class or "
                                                                  "the highest class probability")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--device")
    ap.add_argument("--cache-dir")
    ap.add_argument("--no-strict", action="store_true", help="do not turn build warnings into errors")
    ap.add_argument("--repository", help="repository URL for the repository, Binder and Colab buttons "
                                         "(default $LOTSBOOK_REPOSITORY; none: no buttons)")
    ap.add_argument("--hide-solutions", action="store_true",
                    help="leave the exercises' solutions out of the pages (default: closed dropdowns)")
    ap.add_argument("--pdf", action="store_true",
                    help="after the HTML, print the book into _build/pdf/lots-book.pdf (chromium)")
    ap.add_argument("--pdf-only", action="store_true",
                    help="only print the HTML already built (of --root, or _build/html) into _build/pdf/lots-book.pdf")
    a = ap.parse_args(argv)
    if a.pdf and a.no_build:
        print("\nlotsbook.build: --pdf prints the HTML this run builds, and --no-build builds none. "
              "Fix: --pdf-only prints the book already built.", file=sys.stderr)
        return 2
    if a.pdf_only:
        root = Path(a.root) if a.root else DEFAULT_BOOK_ROOT
        html = (Path(a.root) if a.root else ROOT) / "_build" / "html"
        try:
            seconds = write_book_pdf(html, root)
        except ChapterFailed as exc:
            print(f"\nlotsbook.build: {exc}", file=sys.stderr)
            return 1
        print(f"timings (s): pdf {seconds:.0f}")
        return 0
    overrides = dict(
        image_path=a.image_path, ground_truth=a.ground_truth, n_images=a.n_images, iters=a.iters,
        figure_iters=a.figure_iters, tau=a.tau,
        alpha=a.alpha, filter_size=a.filter_size, steps=a.steps, batch_size=a.batch_size, device=a.device,
        cache_dir=a.cache_dir, reference=a.reference, fill=a.fill, score=a.score,
    )
    if a.image_path and not a.image_source:
        p = Path(a.image_path)
        overrides["image_source"] = (
            "imagenet_val"
            if a.ground_truth
            or (p.is_dir() and not (p / "labels.csv").exists() and any(p.glob("ILSVRC2012_val_*")))
            else "folder"
        )
    elif a.image_source:
        overrides["image_source"] = a.image_source
    if a.models:
        overrides["models"] = list(a.models)
        overrides["model"] = a.models[0]
        overrides["compare_models"] = list(a.models[:2]) if len(a.models) > 1 else [a.models[0]] * 2
    try:
        times = build(profile=a.profile, tiny=a.tiny, chapters=a.chapters, root=a.root, build_html=not a.no_build,
                      force=a.force, strict=not a.no_strict, repository=a.repository,
                      hide_solutions=a.hide_solutions, own_image=a.image,
                      own_model=a.own_model, jobs=a.jobs, pdf=a.pdf, **overrides)
    except ParameterError as exc:
        print(f"\nlotsbook.build: {exc}", file=sys.stderr)
        return 2
    except (ChapterFailed, LotsError) as exc:
        print(f"\nlotsbook.build: {exc}", file=sys.stderr)
        return 1
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
